"""The ledger's guard triggers fire always, and no unkeyed entry follows a keyed one.

A trigger left in its default mode fires only in origin replication mode, so
`SET session_replication_role = replica` stepped around every guard while they
still showed as enabled: ENABLE ALWAYS closes that. A new INSERT guard refuses
an unkeyed (v1) entry once any keyed entry exists in the database, so nobody
without the chain key can start a fresh account with plain SHA-256 hashes.
Skipped on SQLite (the demo), which relies on the model guards.
"""

from django.db import migrations

GUARDED = {
    "billing_ledgerentry": ["append_only", "no_truncate", "keyed_only"],
    "billing_grantallocation": ["append_only", "no_truncate"],
    "billing_ledgerdigest": ["append_only", "no_truncate"],
}

REFUSE_UNKEYED = """
CREATE OR REPLACE FUNCTION billing_refuse_unkeyed_entry() RETURNS trigger AS $$
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
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(REFUSE_UNKEYED, None)
    # WHEN keeps keyed inserts (every entry the app writes) free of the function call.
    schema_editor.execute(
        "CREATE TRIGGER billing_ledgerentry_keyed_only BEFORE INSERT ON billing_ledgerentry "
        "FOR EACH ROW WHEN (NEW.key_id = '') EXECUTE FUNCTION billing_refuse_unkeyed_entry();"
    )
    for table, guards in GUARDED.items():
        for guard in guards:
            schema_editor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_{guard};")


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, guards in GUARDED.items():
        for guard in guards:
            if guard != "keyed_only":
                schema_editor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_{guard};")
    schema_editor.execute(
        "DROP TRIGGER IF EXISTS billing_ledgerentry_keyed_only ON billing_ledgerentry;"
    )
    schema_editor.execute("DROP FUNCTION IF EXISTS billing_refuse_unkeyed_entry();")


class Migration(migrations.Migration):
    dependencies = [("billing", "0017_zero_price_allowance")]
    operations = [migrations.RunPython(install, uninstall)]
