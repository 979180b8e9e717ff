"""Events of other metering wire formats, read as our usage events (docs/integrate.md).

A Stripe meter event or an OpenMeter CloudEvent names its usage (`event_name`, `type`),
carries an idempotency key (`identifier`, `id`), a payload (`payload`, `data`) and a
time. `to_usage_events` turns each into the event dict our API takes, through the
staff's EventMapping of its name (or, for a name equal to a meter code, that meter with
its value at `$.value`), so they are validated, priced, charged and deduplicated by the
very same path (record.py, the queue) under the same keys as our own events. Each
event keeps a map from our field names to the wire's, so a problem names the field the
client sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from billing.models import EventMapping
from billing.models.event_mappings import path_keys
from billing.models.usage import UsageType
from billing.pricing.catalogue.resolution import catalogue_version
from billing.usage.events import problem

METER_VALUE_PATH = "$.value"  # a meter code needs no mapping: its value is here


@dataclass
class WireEvent:
    """One event as the wire carries it, with the wire's names for its fields."""

    key: object  # the idempotency key (None: not sent)
    name: object  # event_name / type
    payload: object  # the payload / data object
    occurred_at: object = None  # a datetime or ISO text; None: now
    fields: dict = field(default_factory=dict)  # our field -> the wire's ("key", "name", ...)
    path_field: Callable[[list[str]], str] = ".".join  # a payload path -> the wire's name


@dataclass
class MappedEvents:
    events: list  # our event dicts, one per wire event (None where it could not be read)
    problems: list[dict]  # {index, field, message}, fields named as on the wire
    wire_fields: list[dict]  # per event: our field name -> the wire's

    def rename(self, details: list[dict]) -> list[dict]:
        """Problems found by our validation, their fields named as the client sent them."""
        renamed = []
        for detail in details:
            index = detail.get("index")
            names = self.wire_fields[index] if index is not None else {}
            renamed.append({**detail, "field": names.get(detail["field"], detail["field"])})
        return renamed


_cached: tuple[object, dict[str, EventMapping]] | None = None


def current_mappings() -> dict[str, EventMapping]:
    """Every mapping by event name, cached per process under the catalogue's version (a
    mapping saved or deleted gives a new one: billing/apps.py), so a request reads one
    row, not the table."""
    global _cached
    version = catalogue_version()
    if _cached is not None and version is not None and _cached[0] == version:
        return _cached[1]
    mappings = {m.event_name: m for m in EventMapping.objects.select_related("meter", "ai_model")}
    if version is not None:
        _cached = (version, mappings)
    return mappings


def to_usage_events(wire_events: list[WireEvent]) -> MappedEvents:
    """Our event dicts for the wire events; the problems of those that cannot be mapped.
    All events of one call come from one wire format (the same field names)."""
    mappings = current_mappings()
    mapped = MappedEvents(events=[], problems=[], wire_fields=[])
    recipes: dict[str, _Recipe] = {}  # one per name: a batch repeats a few names
    for index, wire in enumerate(wire_events):
        name_field = wire.fields["name"]
        if not isinstance(wire.name, str) or not wire.name.strip():
            mapped.problems.append(problem(index, name_field, "is required"))
        elif not isinstance(wire.payload, dict):
            mapped.problems.append(problem(index, wire.fields["payload"], "must be an object"))
        else:
            recipe = recipes.get(wire.name)
            if recipe is None:
                recipe = recipes[wire.name] = _recipe(wire, mappings.get(wire.name))
            mapped.wire_fields.append(recipe.wire_fields)
            mapped.events.append(recipe.event(index, wire, mapped.problems))
            continue
        mapped.wire_fields.append({})
        mapped.events.append(None)
    return mapped


@dataclass(frozen=True)
class _Take:
    our_field: str
    keys: tuple[str, ...]
    wire_field: str
    count: bool = False
    required: bool = True


@dataclass(frozen=True)
class _Recipe:
    """How events of one name become ours: the fixed fields, and what to take from where."""

    fixed: dict
    takes: tuple[_Take, ...]
    wire_fields: dict  # our field -> the wire's, for problems

    def event(self, index: int, wire: WireEvent, problems: list) -> dict:
        event = {"idempotency_key": wire.key, **self.fixed}
        if wire.occurred_at is not None:
            event["occurred_at"] = wire.occurred_at
        for take in self.takes:
            value = _at(wire.payload, take.keys)
            if value is None:
                if take.required:
                    problems.append(problem(index, take.wire_field, "is required"))
            else:
                event[take.our_field] = _as_count(value) if take.count else value
        return event


def _recipe(wire: WireEvent, mapping: EventMapping | None) -> _Recipe:
    fields = {"idempotency_key": wire.fields["key"], "occurred_at": wire.fields["time"],
              "meter": wire.fields["name"], "model": wire.fields["name"]}
    takes = []

    def take(our_field: str, path: str, *, count=False, required=True):
        keys = tuple(path_keys(path))
        fields[our_field] = wire.path_field(list(keys))
        takes.append(_Take(our_field, keys, fields[our_field], count, required))

    if mapping is None:
        # Unmapped, the name is taken as a meter code: pricing refuses one that is not,
        # naming this field, as it refuses an unknown meter of our own API (the worker's,
        # with ?mode=async).
        take("quantity", METER_VALUE_PATH)
        return _Recipe({"type": UsageType.INFRASTRUCTURE, "meter": wire.name}, tuple(takes),
                       fields)
    if mapping.meter is not None:
        fixed = {"type": UsageType.INFRASTRUCTURE, "meter": mapping.meter.code}
        take("quantity", mapping.value_path)
    else:
        fixed = {"type": UsageType.AI_TOKENS, "model": mapping.ai_model.name,
                 "provider": mapping.ai_model.provider}
        take("input_tokens", mapping.input_tokens_path, count=True)
        take("output_tokens", mapping.output_tokens_path, count=True)
    if mapping.user_path:
        take("user", mapping.user_path, required=False)
    if mapping.operation_path:
        take("operation", mapping.operation_path, required=False)
    return _Recipe(fixed, tuple(takes), fields)


def _at(payload: dict, keys: list[str]):
    value = payload
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _as_count(value):
    """A token count as Stripe sends it (a string of digits) or a whole JSON number, as an
    int; anything else unchanged, for our validation to refuse by name."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value
