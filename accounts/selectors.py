"""Reads for the portal: every lookup is scoped to the user's memberships."""

from django.db import connection
from django.http import Http404
from django.utils import timezone

from accounts.models import (
    ApiKey,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    SettingsChange,
    User,
)


def memberships_of(user: User):
    return Membership.objects.filter(user=user).select_related("organization")


def membership_for(*, user: User, slug: str) -> Membership:
    """The user's membership in org `slug`; 404 for any org they are not in."""
    membership = memberships_of(user).filter(organization__slug=slug).first()
    if membership is None:
        raise Http404("No such organisation")
    return membership


def landing_membership(user: User) -> Membership | None:
    """Where "home" goes: the org used last, else the one joined first (never by name)."""
    memberships = memberships_of(user)
    if user.last_organization_id:
        last = memberships.filter(organization_id=user.last_organization_id).first()
        if last is not None:
            return last
    return memberships.order_by("created_at", "id").first()


def open_invitations_of(organization: Organization):
    return Invitation.objects.filter(
        organization=organization, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def open_invitations_for(user: User):
    return Invitation.objects.filter(
        email__iexact=user.email, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).select_related("organization")


def members_of(organization: Organization):
    return Membership.objects.filter(organization=organization).select_related("user")


def api_keys_of(organization: Organization):
    return ApiKey.objects.filter(organization=organization).select_related(
        "created_by", "revoked_by"
    )


def settings_history(organization: Organization):
    return SettingsChange.objects.filter(organization=organization).select_related("actor")


def members_from_rows(rows) -> dict[str, User]:
    """{lower-cased email: user} from (user id, email) rows of the org's memberships; the
    users carry their id and email only (the other fields are deferred)."""
    return {email.lower(): User.from_db(connection.alias, ["id", "email"], (pk, email))
            for pk, email in rows}
