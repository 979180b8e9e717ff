"""The no-unkeyed-after-keyed guard asks "is any entry keyed?" once per unkeyed row it
inserts. Without an index the question scanned the whole ledger, so inserting many
unkeyed rows took quadratic time (the test suite's planted rows; an install without a
chain key, whose every entry is unkeyed). A partial index of the keyed entries answers
it with one probe; the function is told to use it even while the table's statistics
still say it is empty. Skipped on SQLite.
"""

from django.db import migrations

INDEX = "CREATE INDEX IF NOT EXISTS billing_ledgerentry_keyed ON billing_ledgerentry (id) " \
        "WHERE key_id <> ''"
FUNCTION = """
CREATE OR REPLACE FUNCTION billing_refuse_unkeyed_entry() RETURNS trigger
SET enable_seqscan = off AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM billing_ledgerentry WHERE key_id <> '') THEN
        RAISE EXCEPTION 'an unkeyed ledger entry after the chain was keyed is refused'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)
        schema_editor.execute(FUNCTION)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION.replace("SET enable_seqscan = off ", ""))
        schema_editor.execute("DROP INDEX IF EXISTS billing_ledgerentry_keyed")


class Migration(migrations.Migration):
    dependencies = [("billing", "0019_digests_chained")]
    operations = [migrations.RunPython(install, uninstall)]
