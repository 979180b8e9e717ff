"""The process-level price cache: one query per batch, and a staff change seen at once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.models import ModelPrice
from billing.pricing.catalogue.changes import (
    change_meter_price,
    change_model_price,
    end_model_price,
)
from billing.pricing.quotes.price_book import PriceBook, PricingError, TokenCounts
from tests.billing.price_catalogue import D, ai_model, meter, rate_and_markup

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TOKENS = TokenCounts(input_tokens=1_000_000, output_tokens=0)


@pytest.fixture
def catalogue(db):
    rate_and_markup(rate="1", markup="1")
    return ai_model(prices={"input": "2.5", "output": "10"}), meter(price="0.5")


def credits_of(model, at=NOW):
    return PriceBook(plan="professional").quote_tokens(
        model=model, tokens=TOKENS, occurred_at=at).credits


def test_a_warm_batch_reads_only_the_version(catalogue):
    model, gpu = catalogue
    book = PriceBook(plan="professional")
    book.quote_tokens(model=book.resolve_model(name="m1"), tokens=TOKENS, occurred_at=NOW)
    book.quote_meter(meter=book.resolve_meter(code=gpu.code), quantity=D("2"), occurred_at=NOW)
    with CaptureQueriesContext(connection) as queries:
        book = PriceBook(plan="professional")
        book.quote_tokens(model=book.resolve_model(name="m1"), tokens=TOKENS, occurred_at=NOW)
        book.quote_meter(meter=book.resolve_meter(code=gpu.code), quantity=D("2"),
                         occurred_at=NOW)
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_a_staff_model_price_change_is_seen_by_the_next_batch(catalogue):
    model, _ = catalogue
    assert credits_of(model) == D("2.5")
    change_model_price(model=model, bucket="input", price_per_million_usd=D("3"),
                       starts_at=NOW, now=NOW)
    assert credits_of(model) == D("3")
    assert credits_of(model, at=NOW - timedelta(seconds=1)) == D("2.5")  # the past keeps its price


def test_a_meter_price_change_and_a_deactivated_meter_are_seen_at_once(catalogue):
    _, gpu = catalogue

    def charge():
        book = PriceBook(plan="professional")
        return book.quote_meter(meter=book.resolve_meter(code=gpu.code), quantity=D("2"),
                                occurred_at=NOW).credits

    assert charge() == D("1")
    change_meter_price(meter=gpu, price_per_unit_usd=D("0.75"), starts_at=NOW, now=NOW)
    assert charge() == D("1.5")
    gpu.active = False
    gpu.save()
    with pytest.raises(PricingError, match="inactive meter"):
        charge()


def test_ending_a_price_without_successor_is_seen_at_once(catalogue):
    model, _ = catalogue
    assert credits_of(model) == D("2.5")
    end_model_price(model=model, bucket="input", ends_at=NOW - timedelta(hours=1))
    with pytest.raises(PricingError):
        credits_of(model)


def test_a_rolled_back_change_leaves_no_stale_prices(catalogue):
    model, _ = catalogue
    assert credits_of(model) == D("2.5")
    with pytest.raises(RuntimeError), transaction.atomic():
        ModelPrice.objects.filter(model=model).delete()
        with pytest.raises(PricingError):  # seen inside the transaction that made it
            credits_of(model)
        raise RuntimeError("roll back")
    assert credits_of(model) == D("2.5")
