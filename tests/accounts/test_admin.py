"""The Django admin of accounts: staff manage orgs and people, and never see a key."""

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey, Organization, User
from accounts.services import create_api_key
from billing.models import CreditAccount

pytestmark = pytest.mark.django_db

PASSWORD = "Xk39-a-long-password!"


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.test", "pw-123456"))
    return client


@pytest.mark.parametrize("model", ["user", "organization", "membership", "apikey",
                                   "settingschange"])
def test_changelists_load(staff_client, org, member_user, model):
    response = staff_client.get(reverse(f"admin:accounts_{model}_changelist"))
    assert response.status_code == 200


def test_adding_a_user_lowercases_the_email_and_refuses_a_case_variant(staff_client, member_user):
    url = reverse("admin:accounts_user_add")
    data = {"password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"}
    response = staff_client.post(url, {**data, "email": "Member@ACME.test"})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    response = staff_client.post(url, {**data, "email": "New.Person@Example.test"})
    assert response.status_code == 302
    assert User.objects.filter(email="new.person@example.test").exists()
    # django-axes checks every login against its throttle, so it needs the request.
    assert Client().login(request=HttpRequest(), username="New.Person@example.test",
                          password=PASSWORD)


def test_api_key_pages_never_show_the_key_or_its_digest(staff_client, org, admin_user):
    new = create_api_key(organization=org, name="gateway", created_by=admin_user)
    key = new.api_key
    pages = [
        staff_client.get(reverse("admin:accounts_apikey_changelist")),
        staff_client.get(reverse("admin:accounts_apikey_change", args=[key.pk])),
    ]
    for page in pages:
        body = page.content.decode()
        assert page.status_code == 200 and key.prefix in body
        assert new.raw_key not in body and key.digest not in body
    assert staff_client.get(reverse("admin:accounts_apikey_add")).status_code == 403
    assert staff_client.get(reverse("admin:accounts_apikey_delete", args=[key.pk])).status_code \
        == 403


def test_adding_an_org_sets_up_its_credit_account(staff_client):
    response = staff_client.post(reverse("admin:accounts_organization_add"), {
        "name": "Initech", "slug": "initech", "plan": "enterprise",
        "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert CreditAccount.objects.filter(organization__slug="initech").exists()
    assert Organization.objects.get(slug="initech").plan == "enterprise"


def test_settings_history_is_read_only(staff_client, org, admin_user):
    create_api_key(organization=org, name="gateway", created_by=admin_user)
    change = org.settings_changes.get()
    assert staff_client.get(reverse("admin:accounts_settingschange_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:accounts_settingschange_change", args=[change.pk]), {"summary": "edited"}
    )
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.summary != "edited" and ApiKey.objects.count() == 1


def test_staff_see_pending_invitations_and_withdraw_them(staff_client, org, admin_user):
    from accounts.invitations import invite_member
    from accounts.models import Invitation, InvitationStatus

    invitation = invite_member(organization=org, email="ana@example.test", role="member",
                               invited_by=admin_user)
    listing = staff_client.get(reverse("admin:accounts_invitation_changelist"))
    assert listing.status_code == 200 and "ana@example.test" in listing.content.decode()
    staff_client.post(reverse("admin:accounts_invitation_changelist"),
                      {"action": "withdraw", "_selected_action": [invitation.pk]})
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.WITHDRAWN
    assert staff_client.get(reverse("admin:accounts_invitation_add")).status_code == 403
    assert not Invitation.objects.filter(status=InvitationStatus.PENDING).exists()
