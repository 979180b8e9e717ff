from django.db import migrations


class Migration(migrations.Migration):
    """DailyUsage moved to billing (billing 0007 renames the table); only the state goes."""

    dependencies = [
        ("reporting", "0001_daily_usage"),
        ("billing", "0007_daily_usage_from_reporting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="DailyUsage")],
        ),
    ]
