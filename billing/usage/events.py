"""Reading usage events: validation and normalisation, before anything is priced or locked.

Pure functions over the event dicts of the API (parsed with Decimal for every
JSON number, so a quantity never passes through a float) or of in-process
callers. Every problem of the whole batch is collected as {index, field,
message}; one bad event refuses the batch.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import islice

from accounts.text import text_problem
from billing import money
from billing.models.pricing import ServiceTier
from billing.models.usage import UsageEvent, UsageType

MAX_EVENTS = 1000


def _column_size(name: str) -> int:
    return UsageEvent._meta.get_field(name).max_length


KEY_PATTERN = rf"[A-Za-z0-9._:-]{{1,{_column_size('idempotency_key')}}}"
KEY_RE = re.compile(KEY_PATTERN)
DECIMAL_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
MAX_QUANTITY = money.MAX_CREDITS  # a quantity column has the credits' size
MAX_TOKENS = 10**12
QUANTITY_PLACES = money.CREDIT_PLACES
SERVICE_TIERS = tuple(ServiceTier.values)
MAX_AGE = timedelta(days=35)
MAX_AHEAD = timedelta(minutes=5)

COMMON_FIELDS = {"idempotency_key", "type", "operation", "user", "occurred_at"}
TOKEN_FIELDS = (
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens",
    "reasoning_tokens",
)
FIELDS = {
    UsageType.AI_TOKENS: COMMON_FIELDS | {"model", "provider", "service_tier", *TOKEN_FIELDS},
    UsageType.INFRASTRUCTURE: COMMON_FIELDS | {"meter", "quantity"},
}
TEXT_LIMITS = {  # as the columns they are stored in
    "model": _column_size("resource"), "meter": _column_size("resource"),
    "provider": _column_size("provider"), "operation": _column_size("operation"),
    "user": _column_size("user_label"),
}


class NonFinite:
    """What json.loads makes of NaN and Infinity (parse_constant), so they fail as numbers."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return self.name


def _exact_number(text: str):
    """A JSON number with a fraction or exponent as Decimal; one whose exponent Decimal
    cannot hold (1e9999999999999999999999) becomes a NonFinite marker, refused as a
    quantity like NaN, instead of escaping as an error."""
    try:
        return Decimal(text)
    except InvalidOperation:
        return NonFinite(text[:64])


def loads(body: bytes | str):
    """JSON with exact numbers: decimals become Decimal, NaN/Infinity a NonFinite marker."""
    return json.loads(body, parse_float=_exact_number, parse_constant=NonFinite)


class InvalidEvents(Exception):
    code = "invalid_events"

    def __init__(self, details: list[dict]):
        self.details = details
        super().__init__(f"{len(details)} problem(s) in the events; nothing was recorded")


def problem(index: int | None, field_name: str, message: str) -> dict:
    return {"index": index, "field": field_name, "message": message}


@dataclass(slots=True)
class Event:
    """One validated event, normalised. Pricing fills in the rest."""

    index: int
    key: str
    type: str
    name: str  # model or meter as sent (stripped)
    provider: str
    service_tier: str
    operation: str
    user_label: str
    tokens: tuple[int, int, int, int, int]  # TOKEN_FIELDS order; zeros for infrastructure
    quantity: Decimal
    occurred_at: datetime
    occurred_at_sent: bool
    resource: str = ""  # the resolved model or meter code, set by pricing
    fingerprint: str = ""
    ai_model: object = None
    meter: object = None
    quote: object = None
    extra: dict = field(default_factory=dict)


# -- single values -----------------------------------------------------------------------------

class _Bad(ValueError):
    pass


def parse_quantity(value) -> Decimal:
    """A JSON number or decimal string: finite, > 0, at most six places after normalising."""
    if isinstance(value, bool) or value is None:
        raise _Bad("must be a number or a decimal string")
    if isinstance(value, float):
        raise _Bad("must be exact: send a decimal string, not a float")
    if isinstance(value, NonFinite):
        raise _Bad("must be a finite number")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 64 or not DECIMAL_RE.fullmatch(text):
            raise _Bad(f"{value[:64]!r} is not a decimal number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _Bad(f"{value[:64]!r} is not a decimal number") from None
    else:
        raise _Bad("must be a number or a decimal string")
    if not number.is_finite():
        raise _Bad("must be a finite number")
    if number <= 0:
        raise _Bad("must be greater than 0")
    if number >= MAX_QUANTITY:
        raise _Bad(f"must be less than {MAX_QUANTITY:f}")
    if number.normalize().as_tuple().exponent < -QUANTITY_PLACES:
        raise _Bad(f"at most {QUANTITY_PLACES} decimal places")
    return number.quantize(money.CREDIT_QUANTUM)  # exact: checked above


def parse_tokens(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("must be a whole number")
    if value < 0:
        raise _Bad("must not be negative")
    if value > MAX_TOKENS:
        raise _Bad(f"must be at most {MAX_TOKENS}")
    return value


def parse_occurred_at(value, *, now: datetime) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Bad("must be an ISO 8601 date and time, e.g. 2026-11-27T10:00:00Z") from None
    else:
        raise _Bad("must be an ISO 8601 date and time, e.g. 2026-11-27T10:00:00Z")
    if moment.tzinfo is None:
        raise _Bad("needs a time zone, e.g. Z or +00:00")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC time
        raise _Bad("is more than 35 days ago") from None
    if moment < now - MAX_AGE:
        raise _Bad("is more than 35 days ago")
    if moment > now + MAX_AHEAD:
        raise _Bad("is more than 5 minutes in the future")
    return moment


def _text(raw: dict, name: str, problems: list, index: int, *, required=False,
          lower=False) -> str:
    """The stripped (and lower-cased) text, checked as stored: its limit applies after
    lower-casing, which can lengthen non-ASCII text ("İ" becomes two characters)."""
    value = raw.get(name)
    if value is None:
        if required:
            problems.append(problem(index, name, "is required"))
        return ""
    if not isinstance(value, str):
        problems.append(problem(index, name, "must be a string"))
        return ""
    if reason := text_problem(value):
        problems.append(problem(index, name, reason))
        return ""
    value = value.strip().lower() if lower else value.strip()
    if required and not value:
        problems.append(problem(index, name, "must not be empty"))
    elif len(value) > TEXT_LIMITS[name]:
        problems.append(problem(index, name, f"must be at most {TEXT_LIMITS[name]} characters"))
        return ""
    return value


# -- one event ---------------------------------------------------------------------------------

def parse_event(raw, index: int, *, now: datetime, problems: list) -> Event | None:
    """The normalised event, or None with its problems appended."""
    if not isinstance(raw, dict):
        problems.append(problem(index, "", "each event must be a JSON object"))
        return None
    before = len(problems)
    key = raw.get("idempotency_key")
    if key is None:
        problems.append(problem(index, "idempotency_key", "is required"))
    elif not isinstance(key, str) or not KEY_RE.fullmatch(key):
        problems.append(problem(
            index, "idempotency_key", "must be 1 to 200 letters, digits or . _ : -"
        ))
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in FIELDS:
        message = "is required" if kind is None else "must be ai_tokens or infrastructure"
        problems.append(problem(index, "type", message))
        return None
    if extra := raw.keys() - FIELDS[kind]:
        for name in sorted(extra):
            problems.append(problem(index, str(name)[:60], f"is not a field of {kind} events"))

    operation = _text(raw, "operation", problems, index)
    user = _text(raw, "user", problems, index, lower=True)
    if "occurred_at" in raw and raw["occurred_at"] is not None:
        try:
            occurred_at = parse_occurred_at(raw["occurred_at"], now=now)
        except _Bad as error:
            problems.append(problem(index, "occurred_at", str(error)))
            occurred_at = now
        sent = True
    else:
        occurred_at, sent = now, False

    tokens, quantity, provider, tier = (0, 0, 0, 0, 0), Decimal(0), "", ""
    if kind == UsageType.AI_TOKENS:
        name = _text(raw, "model", problems, index, required=True)
        provider = _text(raw, "provider", problems, index, lower=True)
        tier = raw.get("service_tier") or ""
        if not isinstance(tier, str) or tier not in SERVICE_TIERS:
            problems.append(problem(index, "service_tier", "must be batch, flex or priority"))
        tokens = _parse_token_counts(raw, index, problems)
        quantity = Decimal(tokens[0] + tokens[1])
    else:
        name = _text(raw, "meter", problems, index, required=True)
        if raw.get("quantity") is None:
            problems.append(problem(index, "quantity", "is required"))
        else:
            try:
                quantity = parse_quantity(raw["quantity"])
            except _Bad as error:
                problems.append(problem(index, "quantity", str(error)))
    if len(problems) > before:
        return None
    return Event(
        index=index, key=key, type=kind, name=name, provider=provider, service_tier=tier,
        operation=operation, user_label=user, tokens=tokens, quantity=quantity,
        occurred_at=occurred_at, occurred_at_sent=sent,
    )


def _parse_token_counts(raw: dict, index: int, problems: list) -> tuple:
    counts = {}
    for name in TOKEN_FIELDS:
        value = raw.get(name)
        if type(value) is int and 0 <= value <= MAX_TOKENS:  # the usual case, as parse_tokens
            counts[name] = value
        elif value is None:
            if name in ("input_tokens", "output_tokens"):
                problems.append(problem(index, name, "is required"))
            counts[name] = 0
            continue
        try:
            counts[name] = parse_tokens(value)
        except _Bad as error:
            problems.append(problem(index, name, str(error)))
            counts[name] = 0
    # Parts are included in their totals (OpenAI's and genai-prices' convention).
    if counts["cached_input_tokens"] + counts["cache_write_tokens"] > counts["input_tokens"]:
        field_name = (
            "cached_input_tokens" if counts["cached_input_tokens"] > counts["input_tokens"]
            else "cache_write_tokens"
        )
        problems.append(problem(
            index, field_name,
            "cached_input_tokens + cache_write_tokens must not exceed input_tokens",
        ))
    if counts["reasoning_tokens"] > counts["output_tokens"]:
        problems.append(problem(
            index, "reasoning_tokens", "must not exceed output_tokens (it is part of them)"
        ))
    return tuple(counts[name] for name in TOKEN_FIELDS)


# -- the batch ---------------------------------------------------------------------------------

def read_events(events, *, now: datetime) -> tuple[list[Event], list[dict]]:
    """Every valid event of the batch, normalised, and every problem of the others."""
    if not isinstance(events, list):
        return [], [problem(None, "events", "must be a list of events")]
    if not events:
        return [], [problem(None, "events", "must hold 1 to 1000 events")]
    problems: list[dict] = []
    parsed: list[Event] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(events):
        event = parse_event(raw, index, now=now, problems=problems)
        if event is None:
            continue
        if event.key in first_index:
            problems.append(problem(
                index, "idempotency_key",
                f"repeats the key of event {first_index[event.key]} in this request",
            ))
            continue
        first_index[event.key] = index
        parsed.append(event)
    return parsed, problems


def parse_events(events, *, now: datetime) -> list[Event]:
    """Validate and normalise a whole batch; raises InvalidEvents with every problem."""
    parsed, problems = read_events(events, now=now)
    if problems:
        raise InvalidEvents(problems)
    return parsed


def in_request_order(problems: list[dict]) -> list[dict]:
    """Problems of the request itself first, then by event (stable within one event)."""
    return sorted(problems, key=lambda p: -1 if p["index"] is None else p["index"])


_json_text = json.encoder.encode_basestring_ascii  # what json.dumps does to one string


def fingerprint(event: Event) -> str:
    """Digest of the normalised payload. occurred_at is compared apart (it may be omitted).

    The digest is of the compact JSON list ["usage-v1", type, resource, provider, tier,
    operation, user, [tokens...], quantity], written out here instead of by json.dumps
    (a batch digests 1,000; tests/billing/usage/test_events.py holds the two equal)."""
    quantity = money.canonical(event.quantity) if event.type == UsageType.INFRASTRUCTURE else ""
    texts = ",".join([_json_text(part) for part in (
        event.type, event.resource, event.provider, event.service_tier, event.operation,
        event.user_label)])
    tokens = ",".join(map(int.__repr__, event.tokens))  # as json.dumps writes an int
    text = f'["usage-v1",{texts},[{tokens}],{_json_text(quantity)}]'
    return hashlib.sha256(text.encode()).hexdigest()


def chunks(items: Iterable, size: int = MAX_EVENTS) -> Iterator[list]:
    """`items` in lists of `size` (the last may be shorter), read lazily."""
    items = iter(items)
    while chunk := list(islice(items, size)):
        yield chunk
