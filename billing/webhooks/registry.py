"""The handlers each area registers for the Stripe event types it handles.

An area decorates a function with `@handler("charge.refunded")` in its
`webhook_handlers.py`, imported by `BillingConfig.ready()`, so every handler is
registered before the first request. Several handlers may share a type: they run
in registration order, in the event's one transaction. `expand`, when given,
runs first and outside any transaction: it fetches what Stripe did not embed
and returns the object its handler is given.
"""

from collections.abc import Callable
from dataclasses import dataclass

Handle = Callable[[dict], None]
Expand = Callable[[dict], dict]


@dataclass(frozen=True)
class Registration:
    handle: Handle
    expand: Expand | None = None


_REGISTRY: dict[str, list[Registration]] = {}


def _name(handle: Handle) -> str:
    return f"{handle.__module__}.{handle.__qualname__}"


def handler(event_type: str, *more_types: str, expand: Expand | None = None):
    """Register the decorated function for these event types. A module imported again
    (reloaded) replaces its handlers rather than adding them twice."""
    def register(handle: Handle) -> Handle:
        registration = Registration(handle=handle, expand=expand)
        for name in (event_type, *more_types):
            registrations = _REGISTRY.setdefault(name, [])
            same = [i for i, r in enumerate(registrations) if _name(r.handle) == _name(handle)]
            if same:
                registrations[same[0]] = registration
            else:
                registrations.append(registration)
        return handle
    return register


def handlers_for(event_type: str) -> list[Registration]:
    return list(_REGISTRY.get(event_type, ()))


def handled_types() -> list[str]:
    """The event types some area handles: the ones to enable on Stripe's endpoint."""
    return sorted(_REGISTRY)
