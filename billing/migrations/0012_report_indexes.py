"""Indexes for the transactions page: the "by amount" order on the ledger (account,
amount, id), and the model-or-meter filter on usage events (organization, resource).

Built with CREATE INDEX CONCURRENTLY on PostgreSQL (so the migration is not atomic):
the ledger and usage events keep taking writes while they build. docs/operate.md says how long it
takes on a big ledger. Other databases (SQLite for tests and the demo) build it
plainly.
"""

from contextlib import contextmanager

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, free of the app's statement timeout (a
    10M-row ledger takes longer than its 30 s); a plain AddIndex elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        with _no_statement_timeout(schema_editor.connection):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return AddIndex.database_backwards(self, app_label, schema_editor, from_state,
                                               to_state)
        with _no_statement_timeout(schema_editor.connection):
            return super().database_backwards(app_label, schema_editor, from_state, to_state)


@contextmanager
def _no_statement_timeout(connection):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        configured = cursor.fetchone()[0]
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [configured])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("billing", "0011_async_ingestion"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="ledgerentry",
            index=models.Index(fields=["account", "amount", "id"],
                               name="entry_account_amount_idx"),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="usageevent",
            index=models.Index(fields=["organization", "resource"],
                               name="usage_org_resource_idx"),
        ),
    ]
