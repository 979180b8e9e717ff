"""One usage entry per charge (docs/decisions.md, "One entry per charge"): a usage event
points at its charge's entry, many events to one (was one to one); the high-volume tables
keep no database foreign key to reference data (model, meter, user, API key), which
verify_ledger checks instead, and lose the indexes no query uses (those of model, meter
and API key on the events). Existing rows are not rewritten."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_email_unique_ci'),
        ('billing', '0013_charge_path'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='ledgerentry',
            name='actor_api_key',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to='accounts.apikey'),
        ),
        migrations.AlterField(
            model_name='ledgerentry',
            name='actor_user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_entries', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='usageevent',
            name='ai_model',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='usage_events', to='billing.aimodel'),
        ),
        migrations.AlterField(
            model_name='usageevent',
            name='api_key',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='usage_events', to='accounts.apikey'),
        ),
        migrations.AlterField(
            model_name='usageevent',
            name='entry',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='usage_events', to='billing.ledgerentry'),
        ),
        migrations.AlterField(
            model_name='usageevent',
            name='meter',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='usage_events', to='billing.meter'),
        ),
        migrations.AlterField(
            model_name='usageevent',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='usage_events', to=settings.AUTH_USER_MODEL),
        ),
    ]
