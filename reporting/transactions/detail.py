"""One ledger entry told the way finance reads it: what drove it, priced how, paid from
which grants, through which Stripe objects, by whom, and what corrects it.

Reads only, a fixed number of queries whatever the entry: the entry with its actor,
the usage events of its charge (the first EVENT_ROWS of them, with model or meter;
priced line by line when there is one), the grants it moved, the purchase behind
it, and the entry that reversed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.shortcuts import get_object_or_404

from billing.models import LedgerEntry, Purchase, UsageEvent
from billing.money import display_plain

EVENT_ROWS = 200  # the events listed on the page; the count says how many there are

TOKEN_BUCKET_WORDS = {
    "input": "input tokens",
    "cached_input": "cached input tokens",
    "cache_write": "cache-write tokens",
    "output": "output tokens",
    "reasoning": "reasoning tokens",
    "requests": "requests",
}


@dataclass(frozen=True)
class PricedLine:
    what: str  # "1,000 input tokens" / "120.5 GPU second"
    quantity: Decimal
    unit_price_usd: Decimal
    per: str  # "per million tokens" / "per GPU second"
    cost_usd: Decimal


@dataclass
class EntryStory:
    entry: LedgerEntry
    usage: UsageEvent | None  # the charge's event, when it has exactly one
    lines: list[PricedLine] = field(default_factory=list)
    events: list[UsageEvent] = field(default_factory=list)  # the first EVENT_ROWS
    event_count: int = 0
    allocations: list = field(default_factory=list)
    purchase: Purchase | None = None
    stripe_ids: list[tuple[str, str]] = field(default_factory=list)
    reversed_by: LedgerEntry | None = None

    @property
    def usage_quantity(self) -> str:
        """The meter quantity as written: 1,590 or 120.5, grouped, no trailing zeros."""
        return display_plain(self.usage.quantity) if self.usage is not None else ""

    @property
    def who(self) -> str:
        e = self.entry
        if e.actor_api_key_id:
            return f"API key \u201c{e.actor_api_key.name}\u201d ({e.actor_api_key.prefix}\u2026)"
        if e.actor_user_id:
            return e.actor_user.email
        return f"{e.get_actor_type_display()}: {e.actor_label}"


def _line(raw: dict, usage: UsageEvent) -> PricedLine:
    quantity = Decimal(raw["quantity"])
    bucket = raw["bucket"]
    if usage.meter_id:
        unit = usage.meter.unit
        what, per = f"{display_plain(quantity)} \u00d7 {unit}", f"per {unit}"
    else:
        what = f"{display_plain(quantity)} {TOKEN_BUCKET_WORDS.get(bucket, bucket)}"
        per = "per million tokens" if int(raw["per"]) == 1_000_000 else f"per {raw['per']}"
    return PricedLine(what=what, quantity=quantity,
                      unit_price_usd=Decimal(raw["unit_price_usd"]), per=per,
                      cost_usd=Decimal(raw["cost_usd"]))


def _purchase_of(entry: LedgerEntry) -> Purchase | None:
    match = Q(entry=entry) | Q(bonus_entry=entry)
    purchase_id = (entry.metadata or {}).get("purchase_id")
    if str(purchase_id or "").isdigit():
        match |= Q(pk=int(purchase_id))
    return (Purchase.objects.filter(match, organization_id=entry.account.organization_id)
            .order_by("pk").first())


def _stripe_ids(entry: LedgerEntry, purchase: Purchase | None) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    if purchase is not None:
        for label, value in (("Checkout Session", purchase.stripe_checkout_session_id),
                             ("PaymentIntent", purchase.stripe_payment_intent_id),
                             ("Charge", purchase.stripe_charge_id),
                             ("Customer", purchase.stripe_customer_id),
                             ("Invoice", purchase.stripe_invoice_id)):
            if value:
                found[label] = value
    meta = entry.metadata or {}
    for label, key in (("Checkout Session", "checkout_session"),
                       ("PaymentIntent", "payment_intent"), ("Charge", "charge"),
                       ("Customer", "customer")):
        if meta.get(key) and label not in found:
            found[label] = str(meta[key])
    return list(found.items())


def entry_story(organization, entry_id: int) -> EntryStory:
    """The entry of this org (404 otherwise) and everything that explains it."""
    entry = get_object_or_404(
        LedgerEntry.objects.select_related("account", "actor_user", "actor_api_key",
                                           "reverses"),
        account__organization=organization, pk=entry_id,
    )
    events, count = [], 0
    if entry.kind == "usage":
        events = list(UsageEvent.objects.select_related("ai_model", "meter")
                      .filter(entry=entry).order_by("id")[:EVENT_ROWS])
        count = len(events) if len(events) < EVENT_ROWS else (
            UsageEvent.objects.filter(entry=entry).count())
    usage = events[0] if count == 1 else None
    purchase = _purchase_of(entry) if entry.kind != "usage" else None
    story = EntryStory(
        entry=entry, usage=usage, purchase=purchase, events=events, event_count=count,
        allocations=list(entry.allocations.select_related("grant").order_by("id")),
        stripe_ids=_stripe_ids(entry, purchase),
        reversed_by=LedgerEntry.objects.filter(reverses=entry).first(),
    )
    if usage is not None:
        story.lines = [_line(raw, usage) for raw in (usage.breakdown or {}).get("lines", [])]
    return story
