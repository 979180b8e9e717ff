from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from billing.ledger.book import open_account_of_new_organization

        # accounts knows nothing of billing: billing listens for new organisations.
        post_save.connect(open_account_of_new_organization, sender="accounts.Organization",
                          dispatch_uid="billing.open_account_of_new_organization")
        # Every process caches the model-name rules; any change to them gives a new version.
        from billing.pricing.resolution import catalogue_changed

        for sender in ("billing.AIModel", "billing.AIProvider"):
            for signal in (post_save, post_delete):
                signal.connect(catalogue_changed, sender=sender,
                               dispatch_uid=f"billing.catalogue_changed.{sender}.{id(signal)}")

    def demo_steps(self) -> list:
        """seed_demo's billing steps, in order (see billing/demo.py)."""
        from billing.demo import DEMO_STEPS

        return DEMO_STEPS
