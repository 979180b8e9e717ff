"""Logging in with an email address, and out."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def log_in(email, password, **extra):
    return Client().post(reverse("login"), {"username": email, "password": password, **extra})


def test_login_lands_on_the_org_dashboard(member_user, org):
    response = log_in("member@acme.test", "pw-123456")
    assert response.status_code == 302 and response.url == reverse("home")


def test_email_is_case_insensitive(member_user):
    # Invites store the address lower-cased, whatever the admin typed.
    assert log_in("Member@ACME.test", "pw-123456").status_code == 302


def test_wrong_password_or_inactive_user_is_refused(member_user):
    assert log_in("member@acme.test", "wrong").status_code == 200
    member_user.is_active = False
    member_user.save()
    assert log_in("member@acme.test", "pw-123456").status_code == 200


def test_next_is_followed_only_on_this_site(member_user, org):
    dashboard = reverse("dashboard", args=[org.slug])
    assert log_in("member@acme.test", "pw-123456", next=dashboard).url == dashboard
    response = log_in("member@acme.test", "pw-123456", next="https://evil.example/")
    assert response.url == reverse("home")


def test_logout_is_a_post(member_client):
    assert member_client.get(reverse("logout")).status_code == 405
    response = member_client.post(reverse("logout"))
    assert response.status_code == 302 and response.url == reverse("login")
    assert member_client.get(reverse("home")).status_code == 302  # back to the login page
