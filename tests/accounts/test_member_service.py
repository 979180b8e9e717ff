"""accounts.services: change_role, remove_member; accounts.invitations: invite_member (the
view tests cover the UI)."""


import pytest
from django.core.exceptions import ValidationError

from accounts.invitations import invite_member
from accounts.models import InvitationStatus, Membership, Role, SettingsChange
from accounts.services import change_role, remove_member
from tests.concurrency import run_together
from tests.conftest import make_member, make_org


def two_admins(slug):
    org = make_org(slug)
    a = make_member(org, f"a@{slug}.test", Role.ADMIN)
    b = make_member(org, f"b@{slug}.test", Role.ADMIN)
    return org, a, b, Membership.objects.get(user=a), Membership.objects.get(user=b)


@pytest.mark.django_db
def test_invite_records_the_change_and_mails_after_commit(
    org, admin_user, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = invite_member(organization=org, email="Ana@Acme.test", role=Role.ADMIN,
                                   invited_by=admin_user)
    assert invitation.email == "ana@acme.test" and invitation.role == Role.ADMIN
    assert invitation.status == InvitationStatus.PENDING
    # An offer, not a membership: nobody joins without accepting.
    assert not Membership.objects.filter(user__email="ana@acme.test").exists()
    assert SettingsChange.objects.get().summary == "Invited ana@acme.test as admin"
    assert mailoutbox == [] and len(callbacks) == 1  # no mail for a rolled-back invite


@pytest.mark.django_db
def test_invite_with_a_bad_role_writes_nothing(org, admin_user):
    with pytest.raises(ValidationError):
        invite_member(organization=org, email="ana@acme.test", role="owner",
                      invited_by=admin_user)
    assert not Membership.objects.filter(user__email="ana@acme.test").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["remove", "demote"])
def test_two_admins_removing_each_other_at_once_leave_one(action):
    """One wins, the other is told an admin must remain: no deadlock, never zero admins."""

    def act(membership, by):
        if action == "remove":
            return lambda: remove_member(membership=membership, removed_by=by)
        return lambda: change_role(membership=membership, role=Role.MEMBER, changed_by=by)

    for round_ in range(5):
        org, a, b, membership_a, membership_b = two_admins(f"race{round_}")
        results = run_together([act(membership_b, a), act(membership_a, b)])
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], ValidationError), results
        assert Membership.objects.filter(organization=org, role=Role.ADMIN).count() == 1
        assert SettingsChange.objects.filter(organization=org).count() == 1


def test_invite_survives_a_mail_outage(org, admin_user, monkeypatch, caplog,
                                       django_capture_on_commit_callbacks):
    from accounts import invitations

    def broken(*args):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr(invitations, "_send", broken)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.invite_member(organization=org, email="late@acme.test",
                                               role="member", invited_by=admin_user)
    assert invitation.pk
    assert "Could not send the invitation to late@acme.test" in caplog.text
