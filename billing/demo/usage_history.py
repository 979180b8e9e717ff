"""The demo's usage history: three weeks of simulated usage through the real service,
charged as it would have been, hour by hour on the days it happened: the transactions'
dates match the usage page's."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import groupby

from django.utils import timezone

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


def history_start(now: datetime | None = None) -> datetime:
    """An hour before the demo's first simulated day: when its credit history begins."""
    today = (now or timezone.now()).astimezone(UTC).date()
    first_day = today - timedelta(days=DEMO_DAYS - 1)
    return datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC) - timedelta(
        hours=1)


def hourly_charges(events: list[dict]) -> Iterator[tuple[datetime, list[dict]]]:
    """The events in charges of one UTC hour each, oldest first, with the moment each is
    charged: its last event's (as a client reporting as it goes would have sent them)."""
    def moment(event):
        return datetime.fromisoformat(event["occurred_at"])

    ordered = sorted(events, key=moment)
    for _, hour in groupby(ordered, key=lambda e: moment(e).replace(minute=0, second=0,
                                                                  microsecond=0)):
        for batch in chunks(list(hour)):
            yield moment(batch[-1]), batch


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
                       request_id="demo-usage-credits", grant_kind=GrantKind.PROMOTIONAL,
                       now=history_start())
    charged = charges = 0
    for moment, batch in hourly_charges(events):
        result = record_usage(organization=org, events=batch, actor=system, now=moment)
        charged += result.count("charged")
        charges += 1
    stdout.write(f"  usage history: added {charged:,} events over {DEMO_DAYS} days, charged "
                 f"hour by hour on the days they happened ({charges:,} charges)")
    return True
