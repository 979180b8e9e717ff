"""Chain version v3 and the signed cut-over (docs/ledger.md, "Encoding").

`chain_version` names the encoding each entry's hash covers. Added with a database
default of '' (no rewrite of the append-only table, whose rows then read as written
before the column: v1 when unkeyed, else v2); new entries say v3.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0020_keyed_entries_index")]
    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="chain_version",
            field=models.CharField(
                blank=True, db_default="", default="v3", max_length=4,
                help_text="The encoding its hash covers: v3; empty for entries written before "
                          "it (v1 when unkeyed, else v2)."),
        ),
    ]
