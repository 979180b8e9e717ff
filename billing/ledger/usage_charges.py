"""What a usage entry commits to: the events of its charge (docs/ledger.md, "Usage charges").

A usage charge (a request, a queue batch, an import batch; one event is a charge of
one) posts one entry for all the events it charged. The entry's metadata holds a digest
over each event's canonical fields, and the metadata is part of the entry's keyed hash,
so changing, adding or removing an event of the charge is caught at its entry by
verify_ledger. Each event's line is written before the account lock is taken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from billing import money

# The entry's idempotency key: + its seq. A charge's idempotency is its events' own keys
# (unique per org, read with the lock); the entry's key only has to be unique, always.
CHARGE_PREFIX = "usage-charge:"
# events-v1: the fields joined by the unit separator (a key holding one was ambiguous),
# without the price; events-v2 (named in the metadata): the text length-prefixed, with the
# resolved model and meter ids and the event's cost and rates; events-v3 (new entries):
# events-v2 and the SHA-256 of the event's breakdown.
SEPARATED_DIGEST_VERSION, PRICED_DIGEST_VERSION = "events-v1", "events-v2"
DIGEST_VERSION = "events-v3"
# The metadata keys of a per-charge entry; an entry without EVENTS_DIGEST is an older
# entry of one event, which its usage event points at and its fields describe.
EVENTS, EVENTS_DIGEST, EVENTS_VERSION = "events", "events_digest", "events_version"
_USD_PLACES, _RATE_PLACES = money.USD_FIELD["decimal_places"], money.RATE_FIELD["decimal_places"]
# When the charge's usage happened: its earliest and latest occurred_at (ISO 8601, UTC), so
# the transactions page shows both dates without reading events (docs/ledger.md). Entries
# charged before these keys existed have none; their events say it.
USED_FROM, USED_UNTIL = "used_from", "used_until"


def event_line(*, key: str, usage_type: str, resource: str, tokens: Iterable[int],
               quantity: Decimal, credits: Decimal) -> str:
    """An event's canonical fields in events-v1: key, type, resolved model or meter, the
    five token counts, quantity and credits (six places), separated by the unit
    separator."""
    return "\x1f".join([key, usage_type, resource, *map(str, tokens),
                        money.canonical(quantity), money.canonical(credits)])


def priced_event_line(*, key: str, usage_type: str, resource: str, model_id: int | None,
                      meter_id: int | None, tokens: Iterable[int], quantity: Decimal,
                      cost_usd: Decimal, markup: Decimal, credits_per_usd: Decimal,
                      credits: Decimal, breakdown_sha256: str | None = None) -> str:
    """An event's canonical fields in events-v2: its text (key, type, resolved model or
    meter code) length-prefixed, then its numbers, which cannot hold the unit separator,
    joined by it: the model and meter ids, the five token counts, quantity, USD cost (16
    places), markup and rate (8 places) and credits (six places). In events-v3 the
    breakdown's digest (`breakdown_digest`, hex) follows, after the unit separator."""
    numbers = "\x1f".join([
        str(model_id or ""), str(meter_id or ""), *map(str, tokens), money.canonical(quantity),
        _fixed(cost_usd, _USD_PLACES), _fixed(markup, _RATE_PLACES),
        _fixed(credits_per_usd, _RATE_PLACES), money.canonical(credits)])
    line = (f"{len(key)}:{key}{len(usage_type)}:{usage_type}{len(resource)}:{resource}"
            f"{numbers}")
    return line if breakdown_sha256 is None else f"{line}\x1f{breakdown_sha256}"


def breakdown_digest(text: str, *, as_stored: bool = False) -> str:
    """SHA-256 (hex) of an event's breakdown in the text PostgreSQL gives for its jsonb
    column (`jsonb_text`). `text` is any JSON text of it, parsed and written in that form;
    with as_stored=True it is in that form already (the quote's breakdown_json, which
    ingestion stores; the column's text) and hashed as it is."""
    if not as_stored:
        text = jsonb_text(json.loads(text))
    return hashlib.sha256(text.encode()).hexdigest()


def jsonb_text(value) -> str:
    """A JSON value as PostgreSQL writes a jsonb value out: object keys shortest first (in
    UTF-8 bytes), then by their bytes; ", " and ": " between; strings escaped as json.dumps
    escapes them without ensure_ascii. verify_ledger's query hashes the column's text, so
    the digest holds whatever key order or spacing was sent."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return "{" + ", ".join(f"{_json(key)}: {jsonb_text(value[key])}" for key in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonb_text(item) for item in value) + "]"
    return _json(value)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _fixed(value: Decimal, places: int) -> str:
    return f"{value:.{places}f}"


def events_digest(lines: Iterable[str], version: str = DIGEST_VERSION) -> str:
    """SHA-256 over the events' lines in sorted order (the order they are stored or read
    in does not matter; keys are unique per org, so no two lines are equal)."""
    text = "\n".join([version, *sorted(lines)])
    return hashlib.sha256(text.encode()).hexdigest()


def charge_metadata(*, digest: str, count: int, cost_usd: Decimal, types: Iterable[str],
                    resources: Iterable[str], operations: Iterable[str],
                    users: Iterable[str], occurred: Iterable[datetime]) -> dict:
    """A usage entry's metadata: the digest and count of its events, and what the
    transactions page, its filters' results and the CSV show for it (distinct values,
    and when the usage happened, first and last)."""
    occurred = sorted(occurred)
    return {
        EVENTS: count, EVENTS_DIGEST: digest, EVENTS_VERSION: DIGEST_VERSION,
        "cost_usd": str(cost_usd),
        "types": sorted(set(types)), "resources": sorted(set(resources)),
        "operations": sorted(set(operations) - {""}), "users": sorted(set(users) - {""}),
        USED_FROM: occurred[0].astimezone(UTC).isoformat(),
        USED_UNTIL: occurred[-1].astimezone(UTC).isoformat(),
    }


def is_per_charge(metadata: dict | None) -> bool:
    return bool(metadata) and EVENTS_DIGEST in metadata


def charge_reason(resources: Iterable[str], count: int) -> str:
    """The reason of an entry of many events: their models or meters (the first three)."""
    names = sorted(set(resources))
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{count:,} events: {shown}"
