"""The invitee's page: accept or decline a signed, expiring invitation; nothing else joins."""

import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from accounts.invitations import SALT, invite_member
from accounts.models import Invitation, InvitationStatus, Membership, Role, SettingsChange, User
from tests.accounts.invitation_mail import invitation_path_in
from tests.conftest import make_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def invited(org, admin_user, django_capture_on_commit_callbacks):
    """ana@example.test, who has an account elsewhere, invited to acme as admin."""
    User.objects.create_user("ana@example.test", "pw-123456")
    with django_capture_on_commit_callbacks(execute=True):
        invite_member(
            organization=org, email="ana@example.test", role=Role.ADMIN, invited_by=admin_user
        )
    return invitation_path_in(mail.outbox[-1])


@pytest.fixture
def ana(client, invited):
    client.force_login(User.objects.get(email="ana@example.test"))
    return client


def test_the_page_names_the_org_the_role_and_who_invited(ana, invited):
    body = ana.get(invited).content.decode()
    assert "Join Acme?" in body and "admin@acme.test invited" in body and "as admin" in body
    assert not Membership.objects.filter(user__email="ana@example.test").exists()


def test_accept_makes_the_membership_once(ana, invited, org):
    response = ana.post(invited, {"answer": "accept"})
    assert response.status_code == 302 and response.url == reverse("dashboard", args=["acme"])
    again = ana.post(invited, {"answer": "accept"})  # a double click
    assert again.status_code == 302
    membership = Membership.objects.get(user__email="ana@example.test")
    assert (membership.organization, membership.role) == (org, Role.ADMIN)
    assert Invitation.objects.get().status == InvitationStatus.ACCEPTED
    assert SettingsChange.objects.filter(action="joined").count() == 1


def test_decline_joins_nothing(ana, invited):
    response = ana.post(invited, {"answer": "decline"}, follow=True)
    assert "You declined the invitation to Acme." in response.content.decode()
    assert Invitation.objects.get().status == InvitationStatus.DECLINED
    assert not Membership.objects.filter(user__email="ana@example.test").exists()
    late = ana.post(invited, {"answer": "accept"})
    assert late.status_code == 400 and "no longer open" in late.content.decode()
    assert not Membership.objects.filter(user__email="ana@example.test").exists()


def test_a_get_changes_nothing(ana, invited):
    ana.get(invited)
    ana.get(invited + "?answer=accept")
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_someone_else_cannot_answer_it(client, invited, member_user):
    client.force_login(member_user)
    response = client.post(invited, {"answer": "accept"})
    assert "sent to another email address" in response.content.decode()
    assert Invitation.objects.get().status == InvitationStatus.PENDING
    assert Membership.objects.filter(user=member_user).count() == 1


def test_anonymous_is_sent_to_login_first(client, invited):
    response = client.get(invited)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={quote(invited)}"


def test_a_forged_or_tampered_link_is_refused(ana, invited):
    other = Invitation.objects.create(
        organization=make_org("globex"),
        email="ana@example.test",
        expires_at=timezone.now() + timedelta(days=1),
    )
    forged = reverse("invitation", args=[signing.dumps(other.pk, salt="another salt")])
    tampered = invited[:-3] + "xx/"
    for path in (forged, tampered):
        response = ana.post(path, {"answer": "accept"})
        assert response.status_code == 400 and "not valid" in response.content.decode()
    assert not Membership.objects.filter(user__email="ana@example.test").exists()


def test_an_expired_invitation_cannot_be_accepted(ana, invited):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = ana.post(invited, {"answer": "accept"})
    assert response.status_code == 400 and "no longer open" in response.content.decode()
    assert not Membership.objects.filter(user__email="ana@example.test").exists()


def test_a_link_older_than_invitation_days_is_refused_by_its_signature(
    ana, invited, settings, monkeypatch
):
    settings.INVITATION_DAYS = 2
    invitation = Invitation.objects.get()
    signed_at = time.time() - timedelta(days=2, seconds=1).total_seconds()
    monkeypatch.setattr(signing.time, "time", lambda: signed_at)
    old = reverse("invitation", args=[signing.dumps(invitation.pk, salt=SALT)])
    monkeypatch.undo()
    response = ana.post(old, {"answer": "accept"})
    assert response.status_code == 400 and "not valid or has expired" in response.content.decode()
    assert ana.post(invited, {"answer": "accept"}).status_code == 302  # the fresh one works


def test_home_lists_open_invitations_for_someone_in_no_org(ana, invited):
    body = ana.get(reverse("home")).content.decode()
    assert "You have been invited" in body and "Acme" in body
