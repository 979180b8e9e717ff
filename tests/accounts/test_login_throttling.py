"""Issue 26, finding 1: logins throttled by account and by client address (django-axes),
on the portal and the admin; the right password does not skip the cool-off."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User

pytestmark = pytest.mark.django_db
RIGHT = "pw-123456"


def attempt(url, email, password, *, address="10.0.0.1"):
    return Client(REMOTE_ADDR=address).post(url, {"username": email, "password": password})


def logged_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def fail(url, email, times, **where):
    """`times` wrong passwords: the form again, and the lock page from the limit-th on."""
    return [attempt(url, email, "wrong", **where).status_code for _ in range(times)]


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_right_password_after_the_limit_is_refused_with_when_to_retry(
    url, admin_user, settings
):
    User.objects.filter(pk=admin_user.pk).update(is_staff=True)
    assert set(fail(url, "admin@acme.test", settings.AXES_FAILURE_LIMIT - 1)) == {200}
    response = attempt(url, "admin@acme.test", RIGHT)
    assert logged_in(response)  # under the limit, and a success resets the count
    assert fail(url, "admin@acme.test", settings.AXES_FAILURE_LIMIT)[-1] == 429
    response = attempt(url, "admin@acme.test", RIGHT)
    assert response.status_code == 429 and not logged_in(response)
    body = response.content.decode()
    assert "Too many failed logins" in body and "Try again after" in body
    retry_at = (timezone.now() + settings.AXES_COOLOFF_TIME).strftime("%H:%M")
    assert (
        retry_at in body
        or (timezone.now() + settings.AXES_COOLOFF_TIME - timedelta(minutes=1)).strftime("%H:%M")
        in body
    )


def test_the_account_is_locked_from_every_address(admin_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt("/login/", "Admin@Acme.test", "wrong", address=f"10.0.1.{n}")
    assert attempt("/login/", "admin@acme.test", RIGHT, address="10.0.2.1").status_code == 429


def test_a_client_guessing_many_accounts_is_locked(admin_user, member_user, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt("/login/", f"guess{n}@acme.test", "wrong", address="10.0.3.3")
    assert attempt("/login/", "member@acme.test", RIGHT, address="10.0.3.3").status_code == 429
    assert logged_in(attempt("/login/", "member@acme.test", RIGHT, address="10.0.3.4"))


def test_after_the_cool_off_the_right_password_works(admin_user, settings):
    fail("/login/", "admin@acme.test", settings.AXES_FAILURE_LIMIT)
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    assert logged_in(attempt("/login/", "admin@acme.test", RIGHT))


def test_an_operator_unlocks_an_account(admin_user, settings):
    fail("/login/", "admin@acme.test", settings.AXES_FAILURE_LIMIT)
    call_command("axes_reset_username", "admin@acme.test")
    assert logged_in(attempt("/login/", "admin@acme.test", RIGHT, address="10.9.9.9"))


def test_behind_a_proxy_the_forwarded_client_is_counted(admin_user, member_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.254"
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.4, 203.0.113.{n}").post(
            "/login/",
            {"username": "admin@acme.test", "password": "wrong"}
            if n
            else {"username": f"x{n}@acme.test", "password": "wrong"},
        )
    # Other clients behind the same proxy are not locked by those failures.
    response = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.200").post(
        "/login/", {"username": "member@acme.test", "password": RIGHT}
    )
    assert logged_in(response)
