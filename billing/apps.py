from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        import billing.checks  # noqa: F401 - registers the deploy check
        from billing.alerts import services as alerts
        from billing.budgets.notify import budget_crossed
        from billing.ledger.credit_accounts import open_account_of_new_organization
        from billing.ledger.listeners import BALANCE_LISTENERS, settings_saved
        from billing.pricing.catalogue.resolution import catalogue_changed
        from billing.pricing.quotes.price_cache import PRICE_MODELS
        from billing.topups import runner as topups
        from billing.usage.ingestion.budgets import BUDGET_LISTENERS

        # accounts knows nothing of billing: billing listens for new organisations.
        post_save.connect(open_account_of_new_organization, sender="accounts.Organization",
                          dispatch_uid="billing.open_account_of_new_organization")
        # After each commit that moved a balance: the topup trigger, the alert check.
        for listener in (topups.balance_changed, alerts.balance_changed):
            if listener not in BALANCE_LISTENERS:
                BALANCE_LISTENERS.append(listener)
        # After each commit of a charge that took a budget to 80% or 100% of its month.
        if budget_crossed not in BUDGET_LISTENERS:
            BUDGET_LISTENERS.append(budget_crossed)
        # Each area registers the Stripe events it handles, on import (billing/webhooks/).
        import billing.disputes.webhook_handlers  # noqa: F401
        import billing.purchases.webhook_handlers  # noqa: F401
        import billing.refunds.webhook_handlers  # noqa: F401
        import billing.topups.webhook_handlers  # noqa: F401
        # The account's watch level follows the alert and auto-topup settings.
        for sender in ("billing.AlertSettings", "billing.AutoTopupSettings"):
            post_save.connect(settings_saved, sender=sender,
                              dispatch_uid=f"billing.watch_level.{sender}")
        # Every process caches the model-name rules; any change to them gives a new version.
        # The price cache shares that version (billing/pricing/quotes/price_cache.py).
        # Event mappings share it too (billing/usage/mapped_events.py).
        for sender in ("billing.AIModel", "billing.AIProvider", "billing.EventMapping",
                       *PRICE_MODELS):
            for signal in (post_save, post_delete):
                signal.connect(catalogue_changed, sender=sender,
                               dispatch_uid=f"billing.catalogue_changed.{sender}.{id(signal)}")
