"""Reads for the portal: every lookup is scoped to the user's memberships."""

from django.db import connection
from django.http import Http404

from accounts.models import ApiKey, Membership, Organization, SettingsChange, User


def memberships_of(user: User):
    return Membership.objects.filter(user=user).select_related("organization")


def membership_for(*, user: User, slug: str) -> Membership:
    """The user's membership in org `slug`; 404 for any org they are not in."""
    membership = memberships_of(user).filter(organization__slug=slug).first()
    if membership is None:
        raise Http404("No such organisation")
    return membership


def members_of(organization: Organization):
    return Membership.objects.filter(organization=organization).select_related("user")


def api_keys_of(organization: Organization):
    return ApiKey.objects.filter(organization=organization).select_related(
        "created_by", "revoked_by"
    )


def settings_history(organization: Organization):
    return SettingsChange.objects.filter(organization=organization).select_related("actor")


def members_by_email(*, organization_id: int, emails: set[str]) -> dict[str, User]:
    """{lower-cased email: user} of the org's members among `emails` (matched as given).

    On the charge path of every usage event that names a user: on PostgreSQL raw SQL
    whose text is built once (`members_statement`, which the charge path may also send
    with another query), no ORM query compiled per request."""
    if not emails:
        return {}
    if connection.vendor != "postgresql":
        users = User.objects.filter(email__in=emails, memberships__organization_id=organization_id)
        return {user.email.lower(): user for user in users}
    with connection.cursor() as cursor:
        cursor.execute(*members_statement(organization_id=organization_id, emails=emails))
        return members_from_rows(cursor.fetchall())


def members_statement(*, organization_id: int, emails: set[str]) -> tuple[str, list]:
    """`members_by_email` as one PostgreSQL statement (sql, params); its rows go to
    `members_from_rows`."""
    global _MEMBERS_SQL
    if _MEMBERS_SQL is None:
        user, membership = User._meta.db_table, Membership._meta.db_table
        _MEMBERS_SQL = (f"SELECT u.id, u.email FROM {user} AS u JOIN {membership} AS m "
                        f"ON m.user_id = u.id WHERE m.organization_id = %s AND u.email = ANY(%s)")
    return _MEMBERS_SQL, [organization_id, sorted(emails)]


def members_from_rows(rows) -> dict[str, User]:
    """The users carry their id and email only (the other fields are deferred)."""
    return {email.lower(): User.from_db(connection.alias, ["id", "email"], (pk, email))
            for pk, email in rows}


_MEMBERS_SQL: str | None = None
