"""An event's charge, worked out before the account lock is taken: its usage row, its
canonical line for the digest of its charge's entry (its breakdown's digest included), and
the rollup row it adds to. Under the lock only the user named, the balance after and the
entry are filled in (record.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from billing.ledger.store.copy_format import JsonText
from billing.ledger.store.interface import LinkedRows
from billing.ledger.usage_charges import breakdown_digest, priced_event_line
from billing.models.usage import UsageEvent
from billing.usage.events import Event
from billing.usage.rollup.totals import RollupBatch

# A usage row's values in this order: the last three are set under the lock.
COLUMNS = (
    "organization_id", "idempotency_key", "type", "ai_model_id", "meter_id", "resource",
    "name_sent", "provider", "service_tier", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "quantity", "operation",
    "user_label", "api_key_id", "occurred_at", "occurred_at_sent", "received_at",
    "fingerprint", "breakdown", "cost_usd", "markup", "credits_per_usd", "credits",
    "user_id", "balance_after", "entry_id",
)
USER_ID, BALANCE_AFTER = COLUMNS.index("user_id"), COLUMNS.index("balance_after")
if sorted(COLUMNS) != sorted(f.attname for f in UsageEvent._meta.concrete_fields
                             if not f.primary_key):  # a new column must be given a place
    raise ImproperlyConfigured("charges.COLUMNS differs from UsageEvent's columns")
FIELDS = [UsageEvent._meta.get_field(name) for name in COLUMNS]

json_text = json.encoder.encode_basestring_ascii  # what json.dumps does to one string


def usage_rows() -> LinkedRows:
    """The usage rows of a charge, written with its ledger entries."""
    return LinkedRows(model=UsageEvent, columns=COLUMNS, ahead=USER_ID)


@dataclass(slots=True)
class EventCharge:
    """What an event's charge needs, worked out before the lock is taken."""

    row: list  # the usage row, in COLUMNS order
    line: str  # its canonical fields, for the digest of its charge's entry
    rollup_key: tuple


def plan_charge(organization, event: Event, api_key, now) -> EventCharge:
    quote = event.quote
    breakdown = quote.breakdown_json()
    return EventCharge(
        row=usage_row(organization, event, api_key, now, breakdown=breakdown),
        line=priced_event_line(
            key=event.key, usage_type=event.type, resource=event.resource,
            model_id=event.ai_model.pk if event.ai_model else None,
            meter_id=event.meter.pk if event.meter else None, tokens=event.tokens,
            quantity=event.quantity, cost_usd=quote.cost_usd, markup=quote.markup,
            credits_per_usd=quote.credits_per_usd, credits=quote.credits,
            breakdown_sha256=breakdown_digest(breakdown, as_stored=True)),
        rollup_key=RollupBatch.key_of(
            occurred_at=event.occurred_at, usage_type=event.type, resource=event.resource,
            operation=event.operation, user_label=event.user_label),
    )


def reason(event: Event) -> str:
    """The reason of a charge of one event."""
    return f"{event.resource} · {event.operation}" if event.operation else event.resource


def usage_row(organization, event: Event, api_key, now, *, breakdown: str | None = None
              ) -> list:
    """The event's column values in COLUMNS order; the user, the balance after and the
    entry (the last three) are set when it is charged. `breakdown`: the quote's breakdown
    JSON when the caller has it already."""
    quote = event.quote
    tokens = event.tokens
    return [
        organization.pk, event.key, event.type,
        event.ai_model.pk if event.ai_model else None,
        event.meter.pk if event.meter else None, event.resource,
        event.name if event.ai_model else "", event.provider, event.service_tier,
        tokens[0], tokens[1], tokens[2], tokens[3], tokens[4], event.quantity,
        event.operation, event.user_label, api_key.pk if api_key else None,
        event.occurred_at, event.occurred_at_sent, now, event.fingerprint,
        JsonText(quote.breakdown_json() if breakdown is None else breakdown), quote.cost_usd,
        quote.markup, quote.credits_per_usd, quote.credits, None, None, None,
    ]
