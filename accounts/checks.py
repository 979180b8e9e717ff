"""The project's own `check --deploy` checks for production settings (docs/deploy.md,
"Checking the configuration"): mail that really leaves (org admins get their first
password link by email) and a database user that cannot switch off the ledger's guards.

The database check is also tagged `database`, so it runs only with
`check --deploy --database default`, which connects.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import connections

MAIL_THAT_STAYS = {
    "django.core.mail.backends.console.EmailBackend": "prints mail on the console",
    "django.core.mail.backends.filebased.EmailBackend": "writes mail to files",
    "django.core.mail.backends.locmem.EmailBackend": "keeps mail in memory",
    "django.core.mail.backends.dummy.EmailBackend": "drops mail",
}


@register(Tags.security, deploy=True)
def mail_leaves_the_server(app_configs=None, **kwargs):
    where = MAIL_THAT_STAYS.get(settings.EMAIL_BACKEND)
    if where is None:
        return []
    return [Error(
        f"EMAIL_BACKEND {settings.EMAIL_BACKEND} {where}: invitations, password resets and "
        "billing notices would never arrive",
        hint="Set EMAIL_URL to your SMTP server, e.g. smtp+tls://user:password@host:587",
        id="accounts.E001",
    )]


@register(Tags.database, Tags.security, deploy=True)
def database_user_is_not_a_superuser(app_configs=None, databases=None, **kwargs):
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            row = cursor.fetchone()
        if row and row[1]:
            errors.append(Error(
                f"database {alias!r} is reached as {row[0]!r}, a PostgreSQL superuser: it "
                "could disable the ledger's append-only triggers",
                hint="Create an owner role without SUPERUSER (docs/deploy.md) and use it in "
                "DATABASE_URL",
                id="accounts.E002",
            ))
    return errors
