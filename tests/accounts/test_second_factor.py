"""Issue 26, finding 2: a second factor (django-otp TOTP and recovery codes); the admin
unreachable without it once enrolled, enrolment forced for staff in production."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

pytestmark = pytest.mark.django_db
PASSWORD = "pw-123456"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, steps_ahead):06d}"


def password_login(email: str) -> Client:
    browser = Client(REMOTE_ADDR="10.5.0.1")
    response = browser.post("/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return browser


@pytest.fixture
def staff(admin_user):
    User.objects.filter(pk=admin_user.pk).update(is_staff=True, is_superuser=True)
    return User.objects.get(pk=admin_user.pk)


@pytest.fixture
def enrolled(staff):
    return TOTPDevice.objects.create(user=staff, name="app", confirmed=True)


def test_once_enrolled_the_password_alone_does_not_reach_the_admin(enrolled):
    browser = password_login("admin@acme.test")
    for path in ("/admin/", "/admin/billing/creditaccount/", "/o/acme/", "/staff/reports/monthly/"):
        response = browser.get(path)
        assert response.status_code == 302, path
        assert response.url.startswith("/account/security/verify/?next="), path
    response = browser.post("/account/security/verify/", {"token": "000000", "next": "/admin/"})
    assert response.status_code == 400 and "not right" in response.content.decode()
    assert browser.get("/admin/").status_code == 302
    # django-otp throttles a device after a wrong code (1 s, doubling): as if it passed.
    enrolled.refresh_from_db()
    enrolled.throttle_reset()
    response = browser.post(
        "/account/security/verify/", {"token": code_for(enrolled), "next": "/admin/"}
    )
    assert response.status_code == 302 and response.url == "/admin/"
    assert browser.get("/admin/").status_code == 200


def test_staff_enrol_at_their_first_login_in_production(staff, settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    browser = password_login("admin@acme.test")
    response = browser.get("/admin/")
    assert response.status_code == 302 and response.url.startswith("/account/security/setup/")
    page = browser.get(response.url)
    body = page.content.decode()
    assert "<svg" in body and "Staff accounts need a second factor" in body
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert browser.get("/admin/").status_code == 302  # not before the first code
    response = browser.post(
        "/account/security/setup/", {"token": code_for(device), "next": "/admin/"}
    )
    codes = re.findall(r"<li><code>(\w+)</code></li>", response.content.decode())
    assert len(codes) == 10
    assert browser.get("/admin/").status_code == 200
    # A recovery code replaces the app's code once.
    again = password_login("admin@acme.test")
    assert again.post("/account/security/verify/", {"token": codes[0]}).status_code == 302
    assert again.get("/admin/").status_code == 200
    third = password_login("admin@acme.test")
    assert third.post("/account/security/verify/", {"token": codes[0]}).status_code == 400
    assert StaticToken.objects.count() == 9


def test_without_production_enrolment_staff_are_not_forced(staff, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False
    assert password_login("admin@acme.test").get("/admin/").status_code == 200


def test_an_operator_resets_a_lost_device(enrolled, staff, settings, capsys):
    settings.OTP_REQUIRED_FOR_STAFF = True
    call_command("reset_second_factor", "--email", "Admin@Acme.test")
    assert "Removed 1 device(s) of admin@acme.test" in capsys.readouterr().out
    assert not TOTPDevice.objects.filter(user=staff).exists()
    response = password_login("admin@acme.test").get("/admin/")
    assert response.url.startswith("/account/security/setup/")


def test_the_reset_command_refuses_an_unknown_email():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user with email"):
        call_command("reset_second_factor", "--email", "nobody@example.test")


def test_optional_for_org_admins_from_their_security_page(admin_user, settings):
    settings.OTP_REQUIRED_FOR_STAFF = True
    browser = password_login("admin@acme.test")
    assert browser.get("/o/acme/").status_code == 200  # not staff: not forced
    assert "is <strong>off</strong>" in browser.get("/account/security/").content.decode()
    browser.get("/account/security/setup/")
    device = TOTPDevice.objects.get(user=admin_user)
    browser.post("/account/security/setup/", {"token": code_for(device)})
    assert browser.get("/o/acme/").status_code == 200  # verified by the setup itself
    later = password_login("admin@acme.test")
    assert later.get("/o/acme/").url.startswith("/account/security/verify/")
