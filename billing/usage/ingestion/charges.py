"""Drafting a usage event's charge: all of it that can be worked out before the
account lock (billing.usage.ingestion.record takes the lock; under it only the ledger entry,
the balance and, for small batches, the users named are filled in)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from accounts.models import User
from billing.ledger.chain import metadata_json
from billing.ledger.store.copy_format import copy_usable
from billing.usage.events import Event
from billing.usage.ingestion.rows import USER_ID, USER_LABEL, copy_text_head, encode_breakdown
from billing.usage.rollup.totals import RollupBatch

json_text = json.encoder.encode_basestring_ascii  # what json.dumps does to one string


@dataclass(slots=True)
class Draft:
    """What an event's charge needs, worked out before the lock is taken."""

    row: list  # the usage row (storage.COLUMNS); balance_after and entry_id set when charged
    reason: str
    metadata: dict
    metadata_text: str  # chain.metadata_json(metadata)
    rollup_key: tuple
    copy_text: str | None  # the row's COPY text up to balance_after, for a large batch


def draft_event(organization, event: Event, users, api_key, now, *, encode: bool,
                as_text: bool) -> Draft:
    row = usage_row(organization, event, users, api_key, now, as_text=as_text)
    return Draft(
        row=row, reason=reason(event), metadata=entry_metadata(event),
        metadata_text=_metadata_head(event.type, event.resource) + json_text(event.key) + "}",
        rollup_key=RollupBatch.key_of(
            occurred_at=event.occurred_at, usage_type=event.type, resource=event.resource,
            operation=event.operation, user_label=event.user_label),
        copy_text=copy_text_head(row) if encode else None,
    )


def name_users(drafts: list[Draft], users: dict[str, User]) -> None:
    """The user of each drafted row, once the members were read with the lock (small
    batches only: their rows are not encoded for COPY before the lock)."""
    for draft in drafts:
        if label := draft.row[USER_LABEL]:
            user = users.get(label)
            draft.row[USER_ID] = user.pk if user else None


def reason(event: Event) -> str:
    return f"{event.resource} · {event.operation}" if event.operation else event.resource


def entry_metadata(event: Event) -> dict:
    # Small on purpose (it is hashed per entry); the full breakdown is on the UsageEvent.
    return {"usage_key": event.key, "type": event.type, "resource": event.resource}


@lru_cache(maxsize=1024)
def _metadata_head(usage_type: str, resource: str) -> str:
    """metadata_json of an entry's metadata up to its usage key (the keys sort last)."""
    text = metadata_json({"usage_key": "", "type": usage_type, "resource": resource})
    return text.removesuffix('""}')


def usage_row(organization, event: Event, users, api_key, now, *,
               as_text: bool | None = None) -> list:
    """The event's column values in storage.COLUMNS order; balance_after and entry_id
    (the last two) are set when it is charged. `as_text`: bulk.copy_usable(), when the
    caller has it already."""
    if as_text is None:
        as_text = copy_usable()
    quote = event.quote
    user = users.get(event.user_label)
    tokens = event.tokens
    return [
        organization.pk, event.key, event.type,
        event.ai_model.pk if event.ai_model else None,
        event.meter.pk if event.meter else None, event.resource,
        event.name if event.ai_model else "", event.provider, event.service_tier,
        tokens[0], tokens[1], tokens[2], tokens[3], tokens[4], event.quantity,
        event.operation, user.pk if user else None, event.user_label,
        api_key.pk if api_key else None, event.occurred_at, event.occurred_at_sent, now,
        event.fingerprint, encode_breakdown(quote, as_text=as_text), quote.cost_usd, quote.markup,
        quote.credits_per_usd, quote.credits, None, None,
    ]
