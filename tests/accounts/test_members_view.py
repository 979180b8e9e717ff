"""The members page: invite by email, change roles, remove, and the settings history."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Invitation, InvitationStatus, Membership, Role, SettingsChange
from tests.accounts.invitation_mail import invitation_path_in, password_path_in
from tests.conftest import make_member
from tests.pages import main_content

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW_PASSWORD = "a-long-new-password-9"


def members_url(org):
    return reverse("members", args=[org.slug])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_invite_end_to_end(admin_client, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            members_url(org), {"email": " New.Person@Example.test ", "role": "member"},
            follow=True,
        )
    assert response.redirect_chain == [(members_url(org), 302)]
    assert [m.lower() for m in messages_of(response)] == [
        "invitation sent to new.person@example.test."
    ]
    assert "new.person@example.test" in response.content.decode()  # pending, listed

    invited = User.objects.get(email="new.person@example.test")
    assert not invited.has_usable_password()
    assert not Membership.objects.filter(user=invited).exists()  # not until accepted

    [message] = mail.outbox
    assert message.to == ["new.person@example.test"]
    assert org.name in message.subject
    assert "admin@acme.test invited you to Acme" in message.body
    html = message.alternatives[0][0]
    password_link, invitation_link = password_path_in(message), invitation_path_in(message)
    assert password_link in html and invitation_link in html

    # The invited person follows the links in a browser of their own.
    browser = Client()
    response = browser.get(password_link, follow=True)
    assert response.status_code == 200
    assert "Choose a password" in response.content.decode()
    set_password_url = response.redirect_chain[-1][0]
    response = browser.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")

    # The link works once only.
    assert "no longer valid" in Client().get(password_link, follow=True).content.decode()

    response = browser.post(
        reverse("login"),
        {"username": "new.person@example.test", "password": NEW_PASSWORD, "next": invitation_link},
        follow=True,
    )
    assert "Join Acme?" in response.content.decode()
    response = browser.post(invitation_link, {"answer": "accept"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[org.slug])
    assert Membership.objects.get(user=invited).role == Role.MEMBER
    body = response.content.decode()
    assert org.name in body and "new.person@example.test" in body
    # Members read; they cannot invite.
    assert "Send invitation" not in browser.get(members_url(org)).content.decode()


def test_inviting_someone_with_an_account_asks_them_first(
    admin_client, org, other_org, other_admin, django_capture_on_commit_callbacks
):
    """The attack of issue 26: an org admin cannot make an existing user a member."""
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(members_url(org), {"email": "admin@globex.test", "role": "admin"})
    [message] = mail.outbox
    assert "You join only if you accept" in message.body
    assert "/password-reset/" not in message.body  # they have a password
    assert not Membership.objects.filter(user=other_admin, organization=org).exists()
    other_admin.refresh_from_db()
    assert other_admin.check_password("pw-123456")
    # Their next login still lands on their own org.
    browser = Client()
    response = browser.post(
        reverse("login"), {"username": "admin@globex.test", "password": "pw-123456"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[other_org.slug])


def test_admin_withdraws_a_pending_invitation(
    admin_client, org, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(members_url(org), {"email": "ana@example.test", "role": "member"})
    invitation = Invitation.objects.get()
    response = admin_client.post(
        reverse("withdraw_invitation", args=[org.slug, invitation.pk]), follow=True
    )
    assert "Withdrew the invitation of ana@example.test." in messages_of(response)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.WITHDRAWN
    assert 'data-testid="pending-invitations"' not in response.content.decode()
    # The mailed link is dead.
    ana = Client()
    ana.force_login(User.objects.get(email="ana@example.test"))
    page = ana.post(invitation_path_in(mail.outbox[0]), {"answer": "accept"})
    assert page.status_code == 400 and "no longer open" in page.content.decode()
    assert not Membership.objects.filter(user__email="ana@example.test").exists()
    # Withdrawn, it can be offered again.
    admin_client.post(members_url(org), {"email": "ana@example.test", "role": "admin"})
    assert Invitation.objects.filter(status=InvitationStatus.PENDING).count() == 1


def test_withdrawing_asks_on_a_page_first_and_the_page_alone_changes_nothing(
    admin_client, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(members_url(org), {"email": "ana@example.test", "role": "member"})
    invitation = Invitation.objects.get()
    url = reverse("withdraw_invitation", args=[org.slug, invitation.pk])
    listing = admin_client.get(members_url(org)).content.decode()
    assert f'href="{url}"' in listing and f'action="{url}"' not in listing

    body = admin_client.get(url).content.decode()

    assert "Withdraw the invitation of ana@example.test?" in body
    assert f'<form method="post" action="{url}">' in body
    assert f'href="{members_url(org)}">Cancel</a>' in body
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "not-an-email", "role": "member"}, "Enter a valid email address."),
        ({"email": "x@example.test", "role": "owner"}, "Select a valid choice."),
        ({"email": "member@acme.test", "role": "member"}, "is already a member of Acme"),
        ({"email": "MEMBER@acme.test", "role": "admin"}, "is already a member of Acme"),
        ({"email": "a" * 250 + "@example.test", "role": "member"}, "at most 254 characters"),
        ({"email": "Pending@Example.test", "role": "member"}, "already has a pending invitation"),
    ],
)
def test_bad_invite_shows_the_error_and_changes_nothing(
    admin_client, org, admin_user, member_user, data, error, django_capture_on_commit_callbacks
):
    Invitation.objects.create(organization=org, email="pending@example.test",
                              invited_by=admin_user, expires_at="2999-01-01T00:00Z")
    users, memberships = User.objects.count(), Membership.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(members_url(org), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert not SettingsChange.objects.exists() and not mail.outbox


def test_change_role(admin_client, org, admin_user, member_user):
    membership = Membership.objects.get(user=member_user)
    response = admin_client.post(
        reverse("change_role", args=[org.slug, membership.pk]), {"role": "admin"}, follow=True
    )
    assert "member@acme.test is now admin." in messages_of(response)
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    change = SettingsChange.objects.get()
    assert (change.actor, change.actor_label, change.area, change.action) == (
        admin_user, "admin@acme.test", "members", "role_changed"
    )
    assert change.summary == "Changed member@acme.test from member to admin"


def test_same_role_records_nothing(admin_client, org, member_user):
    membership = Membership.objects.get(user=member_user)
    admin_client.post(reverse("change_role", args=[org.slug, membership.pk]), {"role": "member"})
    assert not SettingsChange.objects.exists()


def test_invalid_role_changes_nothing(admin_client, org, member_user):
    membership = Membership.objects.get(user=member_user)
    response = admin_client.post(
        reverse("change_role", args=[org.slug, membership.pk]), {"role": "owner"}, follow=True
    )
    assert "Choose a valid role." in messages_of(response)
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER and not SettingsChange.objects.exists()


def test_remove_member(admin_client, org, admin_user, member_user):
    membership = Membership.objects.get(user=member_user)
    response = admin_client.post(
        reverse("remove_member", args=[org.slug, membership.pk]), follow=True
    )
    assert "Removed member@acme.test." in messages_of(response)
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert User.objects.filter(pk=member_user.pk).exists()  # the person keeps their login
    change = SettingsChange.objects.get()
    assert (change.actor, change.action, change.summary) == (
        admin_user, "removed", "Removed member@acme.test"
    )


def test_remove_asks_on_a_page_first_and_the_page_alone_changes_nothing(
        admin_client, org, member_user):
    membership = Membership.objects.get(user=member_user)
    url = reverse("remove_member", args=[org.slug, membership.pk])
    listing = admin_client.get(members_url(org)).content.decode()
    assert f'href="{url}"' in listing and f'action="{url}"' not in listing

    page = admin_client.get(url)

    assert page.status_code == 200
    body = page.content.decode()
    assert "Remove member@acme.test from Acme?" in body
    assert f'<form method="post" action="{url}">' in body
    assert f'href="{members_url(org)}">Cancel</a>' in body
    assert "<script" not in main_content(body)
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert not SettingsChange.objects.exists()


def test_members_get_no_removal_question(member_client, org, admin_user):
    mine = Membership.objects.get(user=admin_user)
    assert member_client.get(
        reverse("remove_member", args=[org.slug, mine.pk])).status_code == 403


def test_last_admin_cannot_be_removed(admin_client, org, admin_user, member_user):
    mine = Membership.objects.get(user=admin_user)
    response = admin_client.post(reverse("remove_member", args=[org.slug, mine.pk]), follow=True)
    assert "The last admin cannot be removed." in messages_of(response)
    assert Membership.objects.filter(pk=mine.pk, role=Role.ADMIN).exists()
    assert not SettingsChange.objects.exists()


def test_last_admin_cannot_be_demoted(admin_client, org, admin_user, member_user):
    mine = Membership.objects.get(user=admin_user)
    response = admin_client.post(
        reverse("change_role", args=[org.slug, mine.pk]), {"role": "member"}, follow=True
    )
    assert "An organisation needs at least one admin." in messages_of(response)
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN and not SettingsChange.objects.exists()


def test_an_admin_with_a_co_admin_can_step_down_and_leave(admin_client, org, admin_user):
    make_member(org, "second@acme.test", Role.ADMIN)
    mine = Membership.objects.get(user=admin_user)
    admin_client.post(reverse("change_role", args=[org.slug, mine.pk]), {"role": "member"})
    mine.refresh_from_db()
    assert mine.role == Role.MEMBER
    # Now a member, they cannot remove anyone, themselves included.
    response = admin_client.post(reverse("remove_member", args=[org.slug, mine.pk]))
    assert response.status_code == 403


def test_admin_removing_themselves_goes_home(admin_client, org, admin_user):
    make_member(org, "second@acme.test", Role.ADMIN)
    mine = Membership.objects.get(user=admin_user)
    response = admin_client.post(reverse("remove_member", args=[org.slug, mine.pk]))
    assert response.status_code == 302 and response.url == reverse("home")
    assert not Membership.objects.filter(pk=mine.pk).exists()
    home = admin_client.get(reverse("home"))
    assert "You are not in any organisation yet" in home.content.decode()


def test_settings_history_records_each_change_with_who(
    admin_client, org, admin_user, member_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(members_url(org), {"email": "ana@acme.test", "role": "member"})
    ana_browser = Client()
    ana_browser.force_login(User.objects.get(email="ana@acme.test"))
    ana_browser.post(invitation_path_in(mail.outbox[0]), {"answer": "accept"})
    ana = Membership.objects.get(user__email="ana@acme.test")
    admin_client.post(reverse("change_role", args=[org.slug, ana.pk]), {"role": "admin"})
    admin_client.post(reverse("remove_member", args=[org.slug, ana.pk]))

    changes = list(SettingsChange.objects.order_by("id"))
    assert [(c.action, c.summary, c.actor_id) for c in changes] == [
        ("invited", "Invited ana@acme.test as member", admin_user.pk),
        ("joined", "ana@acme.test accepted the invitation as member", ana.user_id),
        ("role_changed", "Changed ana@acme.test from member to admin", admin_user.pk),
        ("removed", "Removed ana@acme.test", admin_user.pk),
    ]
    # Members see the history too, newest first, with who did it.
    client = Client()
    client.force_login(member_user)
    body = client.get(reverse("settings_history", args=[org.slug])).content.decode()
    cell = r"<td[^>]*>"
    rows = re.findall(rf"{cell}admin@acme\.test</td>\s*{cell}members</td>{cell}([^<]+)</td>", body)
    assert rows == [
        "Removed ana@acme.test",
        "Changed ana@acme.test from member to admin",
        "Invited ana@acme.test as member",
    ]
