"""Indexes for the transactions page: the "by amount" order on the ledger (account,
amount, id), and the model-or-meter filter on usage events (organization, resource).

Built with CREATE INDEX CONCURRENTLY on PostgreSQL (so the migration is not atomic):
the ledger and usage events keep taking writes while they build. docs/operate.md says how long it
takes on a big ledger. Other databases (SQLite for tests and the demo) build it
plainly.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.migrations.operations import AddIndex


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


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
