"""Forgot password, end to end through the test client and the locmem mail backend."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.invitations import invite_member
from accounts.models import Role

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "another-long-password-7"


def ask_for_reset(client, email):
    response = client.post(reverse("password_reset"), {"email": email})
    # Same answer whether or not the address exists: no account enumeration.
    assert response.status_code == 302 and response.url == reverse("password_reset_done")


def reset_link() -> str:
    [message] = mail.outbox
    match = re.search(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    assert match.group(1) in message.alternatives[0][0]
    return match.group(1)


def choose_password(client, link, password=NEW_PASSWORD):
    response = client.get(link, follow=True)
    assert "Choose a password" in response.content.decode()
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")


def can_log_in(email, password) -> bool:
    response = Client().post(reverse("login"), {"username": email, "password": password})
    return response.status_code == 302


def test_forgot_password_end_to_end(client, org, admin_user):
    assert "Forgot your password?" in client.get(reverse("login")).content.decode()
    assert client.get(reverse("password_reset")).status_code == 200
    ask_for_reset(client, "admin@acme.test")
    [message] = mail.outbox
    assert message.to == ["admin@acme.test"]
    link = reset_link()

    choose_password(client, link)
    assert can_log_in("admin@acme.test", NEW_PASSWORD)
    assert not can_log_in("admin@acme.test", "pw-123456")
    # The link is spent once the password changed.
    assert "no longer valid" in Client().get(link, follow=True).content.decode()


def test_works_for_an_invited_user_who_never_set_a_password(
    client, org, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite_member(organization=org, email="late@acme.test", role=Role.MEMBER,
                      invited_by=admin_user)
    mail.outbox.clear()  # the invitation expired unread, say
    assert not User.objects.get(email="late@acme.test").has_usable_password()

    ask_for_reset(client, "Late@Acme.test")
    [message] = mail.outbox
    assert message.to == ["late@acme.test"]
    choose_password(client, reset_link())
    assert can_log_in("late@acme.test", NEW_PASSWORD)
    response = client.post(
        reverse("login"), {"username": "late@acme.test", "password": NEW_PASSWORD}, follow=True
    )
    assert org.name in response.content.decode()


def test_unknown_address_sends_nothing(client, db):
    ask_for_reset(client, "nobody@example.test")
    assert mail.outbox == []


def test_inactive_user_gets_nothing(client, member_user):
    member_user.is_active = False
    member_user.save()
    ask_for_reset(client, "member@acme.test")
    assert mail.outbox == []


def test_mismatched_passwords_change_nothing(client, member_user):
    ask_for_reset(client, "member@acme.test")
    response = client.get(reset_link(), follow=True)
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert can_log_in("member@acme.test", "pw-123456")


def test_tampered_link_is_refused(client, member_user):
    ask_for_reset(client, "member@acme.test")
    link = reset_link()
    bad = link[:-3] + ("a" if link[-2] != "a" else "b") + "/"
    assert "no longer valid" in client.get(bad, follow=True).content.decode()


def test_requests_for_one_address_are_limited(member_user, settings):
    """Issue 26: /password-reset/ could flood someone's inbox."""
    settings.PASSWORD_RESET_LIMIT_PER_ADDRESS = 3
    for n in range(3):
        ask_for_reset(Client(REMOTE_ADDR=f"10.1.0.{n}"), "member@acme.test")
    response = Client(REMOTE_ADDR="10.1.0.9").post(
        reverse("password_reset"), {"email": "Member@Acme.test"}
    )
    assert response.status_code == 429
    assert "Too many reset requests" in response.content.decode()
    assert "try again in" in response.content.decode()
    assert len(mail.outbox) == 3


def test_requests_from_one_client_are_limited(member_user, settings):
    settings.PASSWORD_RESET_LIMIT_PER_CLIENT = 4
    client = Client(REMOTE_ADDR="10.2.0.1")
    for n in range(4):
        ask_for_reset(client, f"someone{n}@example.test")
    response = client.post(reverse("password_reset"), {"email": "member@acme.test"})
    assert response.status_code == 429 and mail.outbox == []
    ask_for_reset(Client(REMOTE_ADDR="10.2.0.2"), "member@acme.test")  # another client
    assert len(mail.outbox) == 1
