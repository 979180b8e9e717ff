"""Demo data of the billing module, run by seed_demo in this order. Each step is idempotent."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.ledger.actor import Actor
from billing.ledger.corrections import adjust_credits
from billing.models import GrantKind, LedgerEntry
from billing.purchases.demo import seed_packages_and_purchase


def seed_credit_history(org, stdout) -> None:
    """A welcome grant (expiring) and a goodwill adjustment, once."""
    if LedgerEntry.objects.filter(account__organization=org, kind="adjustment").exists():
        return
    system = Actor.system("seed_demo")
    adjust_credits(organization=org, credits=Decimal("500"), reason="Welcome credits",
                   actor=system, request_id="demo-welcome", grant_kind=GrantKind.PROMOTIONAL,
                   expires_at=timezone.now() + timedelta(days=60))
    adjust_credits(organization=org, credits=Decimal("2000"), reason="Goodwill credit for the "
                   "pilot", actor=system, request_id="demo-goodwill")
    stdout.write("  credit history: welcome and goodwill grants")


DEMO_STEPS: list = [seed_credit_history, seed_packages_and_purchase]

from billing.pricing.demo import demo_step as seed_prices  # noqa: E402

DEMO_STEPS.append(seed_prices)

from billing.usage.demo import seed_usage_history  # noqa: E402 - after the pricing step

DEMO_STEPS.append(seed_usage_history)
