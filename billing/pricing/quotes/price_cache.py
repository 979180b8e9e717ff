"""Price rows kept per process, checked by one query per batch (docs/architecture.md).

A batch's PriceBook used to read the price series of every model and meter it
met, the credit rate and the plan's markups: four queries for a single event.
Each process now keeps those rows in a `PriceTables` tied to the catalogue
version (billing.pricing.catalogue.resolution): the batch reads that one-row version
first and reuses the tables when it is unchanged. Every change to prices,
meters, the rate or markups gives the catalogue a fresh version (signals in
billing/apps.py for saves and deletes; the bulk writers of sync and the house
catalogue, and the price-change services, call `catalogue_changed` themselves),
so a staff price change is seen by the very next batch.

Rows are loaded lazily, one series at a time, and never change once loaded: a
price is never edited in place, and any edit bumps the version anyway.
"""

from __future__ import annotations

import threading

from billing.models.pricing import CreditRate, Meter, MeterPrice, ModelPrice, PlanMarkup

# The models whose rows the tables hold: a save or delete of any of them bumps the version.
PRICE_MODELS = ("billing.ModelPrice", "billing.MeterPrice", "billing.Meter",
                "billing.CreditRate", "billing.PlanMarkup")


class PriceTables:
    """The price rows of one catalogue version, loaded as they are first needed."""

    def __init__(self, version):
        self.version = version
        self._model_prices: dict[int, list[ModelPrice]] = {}
        self._meters: dict[str, Meter | None] = {}
        self._meter_prices: dict[int, list[MeterPrice]] = {}
        self._rates: list[CreditRate] | None = None
        self._markups: dict[str, list[PlanMarkup]] = {}
        # PriceBook's memo of a model's rows in force per price period (quotes.py).
        self.periods: dict[int, tuple[list, dict]] = {}

    def model_prices(self, model_id: int) -> list[ModelPrice]:
        rows = self._model_prices.get(model_id)
        if rows is None:
            rows = self._model_prices[model_id] = list(
                ModelPrice.objects.filter(model_id=model_id).order_by())
        return rows

    def meter(self, code: str) -> Meter | None:
        if code not in self._meters:
            self._meters[code] = Meter.objects.filter(code=code).first()
        return self._meters[code]

    def meter_prices(self, meter_id: int) -> list[MeterPrice]:
        rows = self._meter_prices.get(meter_id)
        if rows is None:
            rows = self._meter_prices[meter_id] = list(
                MeterPrice.objects.filter(meter_id=meter_id).order_by())
        return rows

    def rates(self) -> list[CreditRate]:
        if self._rates is None:
            self._rates = list(CreditRate.objects.order_by())
        return self._rates

    def markups(self, plan: str) -> list[PlanMarkup]:
        rows = self._markups.get(plan)
        if rows is None:
            rows = self._markups[plan] = list(PlanMarkup.objects.filter(plan=plan).order_by())
        return rows


_cached: PriceTables | None = None
_lock = threading.Lock()


def tables_for(version) -> PriceTables:
    """The process's tables when they belong to `version`, else fresh ones (kept unless the
    version is unknown: before the version row exists nothing is cached)."""
    global _cached
    cached = _cached
    if cached is not None and version is not None and cached.version == version:
        return cached
    tables = PriceTables(version)
    if version is not None:
        with _lock:
            _cached = tables
    return tables
