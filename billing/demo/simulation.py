"""Realistic, reproducible usage for demos: AI calls and infrastructure over past days.

Events are a pure function of (seed, UTC date, org members, catalogue): the
same seed on the same day always yields the same keys and payloads, so a
re-run is answered with duplicates, never conflicts. Today's events stop at
the current time, and nothing older than the API's 35-day window is made.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership
from billing.models import AIModel, Meter
from billing.usage.events import MAX_AGE

MAX_DAYS = 34  # keeps the oldest simulated day inside the 35-day window
# Well-known models first, when the catalogue has them.
PREFERRED_MODELS = (
    "gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-latest", "claude-sonnet-4-0", "gpt-4.1-mini",
    "gemini-2.0-flash", "claude-3-5-sonnet-latest", "o3-mini",
)
AI_OPERATIONS = (
    # (operation, weight, input range, output range, cached share, reasoning share)
    ("chat.completion", 50, (300, 4000), (50, 900), 0.3, 0.0),
    ("summarise", 20, (2000, 12000), (150, 600), 0.5, 0.0),
    ("classify", 20, (100, 800), (1, 20), 0.0, 0.0),
    ("agent.step", 10, (1500, 20000), (200, 2000), 0.6, 0.3),
)
INFRA_PATTERNS = {
    # meter code or category: (operations, quantity range, decimal places)
    "compute.gpu_seconds": (("fine-tune", "batch-inference"), (20, 900), 1),
    "compute.vcpu_seconds": (("batch-job", "render", "etl"), (30, 3600), 1),
    "compute": (("batch-job",), (30, 3600), 1),
    "storage": (("dataset-storage", "backups"), (1, 500), 2),
    "bandwidth": (("cdn", "export"), (0.01, 2), 3),
    "data_ops": (("index-refresh", "sync"), (100, 50000), 0),
}


@dataclass
class Catalogue:
    models: list[AIModel]
    meters: list[Meter]
    users: list[str] = field(default_factory=list)


def catalogue_for(organization) -> Catalogue:
    priced = AIModel.objects.filter(active=True, prices__ends_at__isnull=True).distinct()
    by_name = {m.name: m for m in priced}
    models = [by_name[name] for name in PREFERRED_MODELS if name in by_name]
    if len(models) < 3:
        models += [m for m in sorted(by_name.values(), key=lambda m: m.name) if m not in models]
    meters = list(
        Meter.objects.filter(Q(active=True), Q(prices__ends_at__isnull=True)).distinct()
        .order_by("code")
    )
    users = sorted(
        Membership.objects.filter(organization=organization).values_list("user__email", flat=True)
    )
    return Catalogue(models=models[:5], meters=meters, users=users)


def _day_events(cat: Catalogue, day: date, *, seed: int, per_day: int) -> list[dict]:
    rng = random.Random(f"{seed}:{day.isoformat()}")
    weekday_factor = 1.0 if day.weekday() < 5 else 0.35
    count = max(1, int(rng.gauss(per_day * weekday_factor, per_day * 0.1)))
    events = []
    for n in range(count):
        # Office hours are busier.
        hour = min(23, max(0, int(rng.gauss(14, 4))))
        moment = datetime.combine(day, time(hour), tzinfo=UTC) + timedelta(
            seconds=rng.randrange(3600)
        )
        key = f"sim-{seed}-{day:%Y%m%d}-{n:05d}"
        if cat.meters and (not cat.models or rng.random() < 0.15):
            events.append(_infra_event(rng, cat, key, moment))
        elif cat.models:
            events.append(_ai_event(rng, cat, key, moment))
    return events


def _ai_event(rng, cat: Catalogue, key: str, moment: datetime) -> dict:
    # Cheaper models get most of the calls.
    model = rng.choices(cat.models, weights=[2 ** (len(cat.models) - i) for i in
                                             range(len(cat.models))])[0]
    op, _w, (in_lo, in_hi), (out_lo, out_hi), cached_share, reasoning_share = rng.choices(
        AI_OPERATIONS, weights=[o[1] for o in AI_OPERATIONS]
    )[0]
    input_tokens = int(rng.triangular(in_lo, in_hi, in_lo * 1.5))
    output_tokens = int(rng.triangular(out_lo, out_hi, out_lo * 1.5))
    event = {
        "idempotency_key": key, "type": "ai_tokens", "model": model.name,
        "provider": model.provider, "operation": op,
        "occurred_at": moment.isoformat().replace("+00:00", "Z"),
        "input_tokens": input_tokens, "output_tokens": output_tokens,
        "cached_input_tokens": int(input_tokens * cached_share * rng.random()),
        "reasoning_tokens": int(output_tokens * reasoning_share * rng.random()),
    }
    if cat.users and rng.random() < 0.8:
        event["user"] = rng.choice(cat.users)
    return event


def _infra_event(rng, cat: Catalogue, key: str, moment: datetime) -> dict:
    meter = rng.choice(cat.meters)
    pattern = INFRA_PATTERNS.get(meter.code) or INFRA_PATTERNS.get(meter.category)
    ops, (lo, hi), places = pattern or (("job",), (1, 100), 2)
    quantity = Decimal(str(round(rng.uniform(lo, hi), places)))
    if quantity <= 0:
        quantity = Decimal(1)
    return {
        "idempotency_key": key, "type": "infrastructure", "meter": meter.code,
        "quantity": str(quantity), "operation": rng.choice(ops),
        "occurred_at": moment.isoformat().replace("+00:00", "Z"),
    }


def generate(organization, *, days: int, seed: int = 1, per_day: int = 200,
             now: datetime | None = None, catalogue: Catalogue | None = None) -> Iterator[dict]:
    """Events of the last `days` UTC days (today included), oldest first."""
    now = now or timezone.now()
    cat = catalogue or catalogue_for(organization)
    oldest_allowed = now - MAX_AGE + timedelta(minutes=5)
    today = now.astimezone(UTC).date()
    for offset in range(days - 1, -1, -1):
        for event in _day_events(cat, today - timedelta(days=offset), seed=seed, per_day=per_day):
            moment = datetime.fromisoformat(event["occurred_at"])
            if oldest_allowed <= moment <= now:
                yield event
