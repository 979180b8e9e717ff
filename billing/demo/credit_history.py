"""The demo's credit history: a welcome grant and a goodwill adjustment."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.demo.usage_history import history_start
from billing.ledger.actor import Actor
from billing.ledger.corrections import adjust_credits
from billing.models import GrantKind, LedgerEntry


def seed_credit_history(org, stdout) -> bool:
    """A welcome grant (expiring) and a goodwill adjustment, once, at the start of the
    demo's history (before its first day of usage). True if it added them."""
    if LedgerEntry.objects.filter(account__organization=org, kind="adjustment").exists():
        stdout.write("  credit history: already there")
        return False
    system = Actor.system("seed_demo")
    start = history_start()
    adjust_credits(organization=org, credits=Decimal("500"), reason="Welcome credits",
                   actor=system, request_id="demo-welcome", grant_kind=GrantKind.PROMOTIONAL,
                   expires_at=timezone.now() + timedelta(days=60), now=start)
    adjust_credits(organization=org, credits=Decimal("2000"), reason="Goodwill credit for the "
                   "pilot", actor=system, request_id="demo-goodwill", now=start)
    stdout.write("  credit history: added the welcome and goodwill grants")
    return True
