"""Checks that a raw API key is stored nowhere."""

from django.apps import apps
from django.db import connection

from accounts.models import ApiKey

# Every column of the key table; a new one must be reviewed for secrets first.
APIKEY_COLUMNS = {
    "id", "organization_id", "name", "prefix", "digest", "created_by_id", "created_at",
    "last_used", "revoked_at", "revoked_by_id",
}


def assert_stored_nowhere(raw_key: str, visible_prefix: str) -> None:
    secret = raw_key[len(visible_prefix):]
    assert len(secret) >= 32  # still over 190 bits after the visible part
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")  # noqa: S608 - constant name
        columns = {column[0] for column in cursor.description}
        rows = cursor.fetchall()
    assert columns == APIKEY_COLUMNS
    for row in rows:
        for value in row:
            assert secret not in str(value)
    # Nor in any other table: settings history, sessions, ledger metadata, tasks...
    for model in (m for m in apps.get_models() if m._meta.managed):  # unmanaged: no table
        for row in model.objects.values_list():
            for value in row:
                assert secret not in str(value), f"raw key found in {model._meta.label}"
