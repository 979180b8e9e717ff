"""Chain version v3 and the signed cut-over (docs/ledger.md, "Encoding").

`chain_version` names the encoding each entry's hash covers. Added with a database
default of '' (no rewrite of the append-only table, whose rows then read as written
before the column: v1 when unkeyed, else v2); new entries say v3.

The cut-over from the unkeyed chain to the keyed one is recorded once, signed with the
chain key: the first keyed entry and, per account whose chain starts unkeyed, how many
such entries and the last one's hash (billing/ledger/cutover.py). Its table is guarded
like the ledger's (append-only, no TRUNCATE, firing always; skipped on SQLite).
"""

import django.utils.timezone
from django.db import migrations, models
from django.utils import timezone

TABLE = "billing_ledgercutover"


def seal_the_cutover(apps, schema_editor):
    from billing.ledger import cutover

    cutover.seal(apps.get_model("billing", "LedgerCutover").objects,
                 apps.get_model("billing", "LedgerEntry").objects, now=timezone.now())


def install_guards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION billing_refuse_ledger_change();")
    schema_editor.execute(
        f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_ledger_change();")
    for guard in ("append_only", "no_truncate"):
        schema_editor.execute(f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER {TABLE}_{guard};")


def remove_guards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for guard in ("append_only", "no_truncate"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{guard} ON {TABLE};")


class Migration(migrations.Migration):
    dependencies = [("billing", "0022_budgets")]
    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="chain_version",
            field=models.CharField(
                blank=True, db_default="", default="v3", max_length=4,
                help_text="The encoding its hash covers: v3; empty for entries written before "
                          "it (v1 when unkeyed, else v2)."),
        ),
        migrations.CreateModel(
            name="LedgerCutover",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                           serialize=False, verbose_name="ID")),
                ("only", models.BooleanField(default=True, editable=False,
                                             help_text="There is one cut-over.", unique=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("first_keyed_entry_id", models.BigIntegerField(
                    blank=True, null=True,
                    help_text="The install's first keyed entry when sealed (none: none was "
                              "yet).")),
                ("sealed", models.JSONField(
                    blank=True, default=dict,
                    help_text='{"<account id>": [unkeyed entries, hash of the last one], ...}')),
                ("key_id", models.CharField(max_length=32)),
                ("signature", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("only", True)),
                                                       name="one_cutover")],
            },
        ),
        migrations.RunPython(install_guards, remove_guards),
        migrations.RunPython(seal_the_cutover, migrations.RunPython.noop),
    ]
