from django.apps import AppConfig
from django.db.models.signals import post_save


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from billing.ledger.book import open_account_of_new_organization

        # accounts knows nothing of billing: billing listens for new organisations.
        post_save.connect(open_account_of_new_organization, sender="accounts.Organization",
                          dispatch_uid="billing.open_account_of_new_organization")

    def demo_steps(self) -> list:
        """seed_demo's billing steps, in order (see billing/demo.py)."""
        from billing.demo import DEMO_STEPS

        return DEMO_STEPS
