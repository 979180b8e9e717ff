from django.db import migrations, models


def fill_watch_levels(apps, schema_editor):
    """The watch level of every account whose org has alert or auto-topup settings."""
    CreditAccount = apps.get_model("billing", "CreditAccount")
    AlertSettings = apps.get_model("billing", "AlertSettings")
    AutoTopupSettings = apps.get_model("billing", "AutoTopupSettings")
    levels: dict[int, list] = {}
    for org_id, warning, critical in AlertSettings.objects.values_list(
            "organization_id", "warning_level", "critical_level"):
        levels.setdefault(org_id, []).extend([warning, critical])
    for org_id, threshold in AutoTopupSettings.objects.filter(enabled=True).values_list(
            "organization_id", "threshold"):
        levels.setdefault(org_id, []).append(threshold)
    for org_id, values in levels.items():
        values = [v for v in values if v is not None]
        if values:
            CreditAccount.objects.filter(organization_id=org_id).update(watch_level=max(values))


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0012_report_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="creditaccount",
            name="watch_level",
            field=models.DecimalField(blank=True, decimal_places=6, max_digits=20, null=True),
        ),
        migrations.RunPython(fill_watch_levels, migrations.RunPython.noop),
    ]
