"""In a real browser, under the production CSP: an invitation received, looked at on a
desktop and a phone, and accepted; the members page with a pending invitation; a
throttled login; and no page of the portal or the admin reporting a CSP violation.
Screenshots in SCREENSHOTS_DIR when it is set; each page checked by axe-core."""

import re

import pytest
from django.core import mail
from django.db import transaction

from accounts.invitations import invite_member
from accounts.models import Role
from billing.demo import organization as demo
from tests.billing.usage_fixtures import seed_prices
from tests.browser import (  # noqa: F401
    axe_violations,
    browser_marks,
    browser_page,
    chromium,
    csp_violations,
    screenshot,
)

pytestmark = browser_marks
DESKTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


def check(page, name):
    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        screenshot(page, f"{name}-{label}")
        assert axe_violations(page) == [], (name, label)
    page.set_viewport_size(DESKTOP)
    assert csp_violations(page) == [], name


def log_in(page, base, email, *, then=""):
    page.goto(f"{base}/login/{then}")
    page.fill("#id_username", email)
    page.fill("#id_password", demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def acme(transactional_db, settings):
    settings.PAYMENTS_PROVIDER = "test"
    seed_prices()
    return demo.seed_accounts()


def test_an_invitation_is_seen_then_accepted(acme, live_server, page, settings):
    from accounts.models import User

    settings.SITE_URL = live_server.url
    User.objects.create_user("ana@example.com", demo.DEMO_PASSWORD)
    admin = User.objects.get(email=demo.DEMO_ADMIN)
    with transaction.atomic():
        invite_member(
            organization=acme, email="ana@example.com", role=Role.MEMBER, invited_by=admin
        )
    link = invitation_path_in_live(mail.outbox[-1], live_server.url)

    base = live_server.url
    log_in(page, base, demo.DEMO_ADMIN)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(f"{base}/o/acme/members/")
    assert page.get_by_test_id("pending-invitations").is_visible()
    check(page, "26-members-pending-invitation")
    page.get_by_role("button", name="Log out").click()

    log_in(page, base, "ana@example.com", then=f"?next={link}")
    page.wait_for_url(re.compile(r"/invitations/"))
    assert "Join Acme Robotics?" in page.content() or "Join " in page.content()
    check(page, "26-invitation")
    page.get_by_role("button", name="Accept and join").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))
    assert "You joined" in page.content()
    check(page, "26-invitation-accepted-dashboard")


def invitation_path_in_live(message, base):
    match = re.search(rf"{re.escape(base)}(/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_key_is_revoked_only_after_its_confirmation_page(acme, live_server, page):
    from accounts.models import ApiKey, User
    from accounts.services import create_api_key

    admin = User.objects.get(email=demo.DEMO_ADMIN)
    key = create_api_key(organization=acme, name="ci runner", created_by=admin).api_key
    base = live_server.url
    log_in(page, base, demo.DEMO_ADMIN)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(f"{base}/o/acme/api-keys/")
    page.get_by_role("link", name="Revoke ci runner").click()
    page.wait_for_url(re.compile(rf"/api-keys/{key.pk}/revoke/$"))
    assert page.get_by_role("heading", name="Revoke the key ci runner?").is_visible()
    check(page, "30-confirm-revoke-key")
    key.refresh_from_db()
    assert key.revoked_at is None  # seeing the question changes nothing

    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(re.compile(r"/o/acme/api-keys/$"))
    key.refresh_from_db()
    assert key.revoked_at is None

    page.get_by_role("link", name="Revoke ci runner").click()
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_url(re.compile(r"/o/acme/api-keys/$"))
    assert "Revoked ci runner." in page.content()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_a_throttled_login_says_when_to_try_again(acme, live_server, page, settings):
    base = live_server.url
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(f"{base}/login/")
        page.fill("#id_username", demo.DEMO_MEMBER)
        page.fill("#id_password", "wrong")
        page.get_by_role("button", name="Log in").click()
    assert page.get_by_test_id("locked-out").is_visible()
    assert "Try again after" in page.content()
    check(page, "26-login-locked")


def test_no_page_reports_a_csp_violation(acme, live_server, page):
    base = live_server.url
    log_in(page, base, demo.DEMO_ADMIN)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    for path in (
        "/o/acme/",
        "/o/acme/transactions/",
        "/o/acme/usage/",
        "/o/acme/reports/monthly/",
        "/o/acme/members/",
        "/o/acme/api-keys/",
        "/o/acme/credits/packages/",
        "/o/acme/purchases/",
        "/o/acme/auto-topup/",
        "/o/acme/alerts/",
        "/o/acme/budgets/",
        "/o/acme/settings/history/",
        "/admin/",
        "/admin/billing/creditaccount/",
        "/admin/accounts/user/1/change/",
        "/staff/reports/monthly/",
    ):
        response = page.goto(f"{base}{path}")
        assert response.status in (200, 404), path
        assert "script-src 'self';" in response.headers["content-security-policy"] + ";"
    assert csp_violations(page) == []


def test_staff_enrol_a_second_factor_at_first_login(acme, live_server, page, settings):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.OTP_REQUIRED_FOR_STAFF = True
    base = live_server.url
    log_in(page, base, demo.DEMO_ADMIN)  # staff in the demo
    page.wait_for_url(re.compile(r"/account/security/setup/"))
    assert page.get_by_test_id("totp-secret").is_visible()
    check(page, "26-2fa-setup")
    device = TOTPDevice.objects.get(user__email=demo.DEMO_ADMIN, confirmed=False)
    page.fill("#id_token", f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}")
    page.get_by_role("button", name="Turn on").click()
    assert page.get_by_test_id("recovery-codes").locator("code").count() == 10
    check(page, "26-2fa-recovery-codes")
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.get_by_role("button", name="Log out").click()
    log_in(page, base, demo.DEMO_ADMIN)
    page.wait_for_url(re.compile(r"/account/security/verify/"))
    check(page, "26-2fa-verify")
