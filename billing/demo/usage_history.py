"""The demo's usage history: three weeks of simulated usage through the real service."""

from decimal import Decimal

from billing.demo.simulation import catalogue_for, generate
from billing.ledger.actor import Actor
from billing.ledger.corrections import adjust_credits
from billing.ledger.selectors import account_of
from billing.models import GrantKind, UsageEvent
from billing.usage.events import chunks
from billing.usage.ingestion.record import estimate_usage, record_usage

DEMO_DAYS = 21
DEMO_SEED = 2026
DEMO_PER_DAY = 120


def seed_usage_history(org, stdout) -> bool:
    """Once per org: grant what the simulated usage needs (plus a margin), then record it.
    True if it added the history."""
    if UsageEvent.objects.filter(organization=org).exists():
        stdout.write("  usage history: already there")
        return False
    catalogue = catalogue_for(org)
    if not catalogue.models and not catalogue.meters:
        stdout.write("  usage history: skipped (no prices yet: run sync_model_prices)")
        return False
    events = list(generate(org, days=DEMO_DAYS, seed=DEMO_SEED, per_day=DEMO_PER_DAY,
                           catalogue=catalogue))
    need = sum((estimate_usage(organization=org, events=batch) for batch in chunks(events)),
               Decimal(0))
    # Leave about a week of runway after three weeks of usage.
    target = Decimal(int(need * Decimal("1.35")) // 100 * 100 + 200)
    balance = account_of(org).balance
    system = Actor.system("seed_demo")
    if balance < target:
        adjust_credits(organization=org, credits=target - balance, actor=system,
                       reason="Demo credits for the simulated usage history",
                       request_id="demo-usage-credits", grant_kind=GrantKind.PROMOTIONAL)
    charged = 0
    for batch in chunks(events):
        result = record_usage(organization=org, events=batch, actor=system)
        charged += result.count("charged")
    stdout.write(f"  usage history: added {charged:,} events over {DEMO_DAYS} days")
    return True
