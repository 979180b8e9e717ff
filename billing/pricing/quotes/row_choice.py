"""Which price row each token bucket uses, memoised per price period (docs/decisions.md).

`quotes.select_model_price` scans a model's rows in force for every bucket of
every event. Its answer depends on nothing but the rows in force, the bucket,
the service tier, which cliff thresholds (min_input_tokens) the event's input
tokens reach, and which daily windows contain the event's time. `RowChoices`
holds one price period's rows and answers by those facts, so a batch scans
once per distinct (tier, cliff band, windows) instead of once per event.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import datetime

from billing.models.pricing import ModelPrice, UsageBucket
from billing.pricing.catalogue.daily_windows import window_contains

ALL_BUCKETS = tuple(UsageBucket.values)  # the token buckets and the request fee


class RowChoices:
    """The rows of one model in force in one price period, and select_model_price's
    answers for them, keyed by what decides those answers."""

    __slots__ = ("current", "_thresholds", "_windows", "_chosen", "_select")

    def __init__(self, current: list[ModelPrice], select: Callable):
        self.current = current
        self._thresholds = sorted({r.min_input_tokens for r in current})
        self._windows = sorted({r.daily_window for r in current if r.daily_window})
        self._chosen: dict[tuple, dict[str, ModelPrice | None]] = {}
        self._select = select  # quotes.select_model_price (passed in: no import cycle)

    def for_event(self, *, service_tier: str, input_tokens: int,
                  at: datetime) -> dict[str, ModelPrice | None]:
        """Bucket -> the row select_model_price picks for an event with these facts."""
        band = bisect_right(self._thresholds, input_tokens)  # thresholds reached
        inside = tuple(window_contains(w, at) for w in self._windows) if self._windows else ()
        key = (service_tier, band, inside)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._chosen[key] = {
                bucket: self._select(self.current, bucket=bucket, service_tier=service_tier,
                                     input_tokens=input_tokens, at=at)
                for bucket in ALL_BUCKETS
            }
        return chosen

