"""The breakdown's JSON text, written from cached parts, is exactly the text PostgreSQL gives
back for the breakdown dict as jsonb; and the memoised price-row choice picks what a fresh
scan picks."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from billing.ledger.usage_charges import jsonb_text
from billing.models.pricing import UsageBucket
from billing.pricing.catalogue.changes import change_model_price
from billing.pricing.quotes.breakdown_text import plain
from billing.pricing.quotes.price_book import (
    PriceBook,
    PricedLine,
    Quote,
    TokenCounts,
    in_force,
    price_tokens,
)
from tests.billing.price_catalogue import T0, ai_model, rate_and_markup

decimals = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e20"),
                       max_value=Decimal("1e20"), places=None)


@given(decimals)
def test_plain_is_fixed_notation_without_trailing_zeros(value):
    assert plain(value) == format(value.normalize(), "f")


@pytest.mark.parametrize("value", ["100", "1E+2", "0.00000046245", "4.6245E-7", "-0", "0E-10",
                                   "2.5000000000", "12345678901234567890.5"])
def test_plain_known_values(value):
    assert plain(Decimal(value)) == format(Decimal(value).normalize(), "f")


buckets = st.sampled_from([*UsageBucket, "compute.gpu_seconds", 'odd "meter"\\ ü', "input"])
lines = st.builds(PricedLine, bucket=buckets, quantity=decimals, unit_price_usd=decimals,
                  per=st.sampled_from([1, 1_000_000]), price_id=st.integers(1, 10**12),
                  cost_usd=decimals)
quotes = st.builds(Quote, lines=st.lists(lines, max_size=6).map(tuple), cost_usd=decimals,
                   markup=decimals, markup_id=st.integers(1, 10**6), credits_per_usd=decimals,
                   rate_id=st.integers(1, 10**6), credits=decimals)


@given(quotes)
def test_breakdown_json_is_the_jsonb_text_of_the_breakdown(quote):
    text = quote.breakdown_json()
    assert text == jsonb_text(quote.breakdown())
    # What a charge's digest hashes as it is, and verify_ledger rewrites from the parsed
    # column on its Python path: the same text.
    assert jsonb_text(json.loads(text)) == text


def test_equal_prices_with_other_exponents_share_cached_text_correctly():
    first = PricedLine("input", Decimal(3), Decimal("2.50"), 1_000_000, 7, Decimal("0.0000075"))
    second = first._replace(unit_price_usd=Decimal("2.5000000000"))
    for line in (first, second):
        quote = Quote((line,), line.cost_usd, Decimal("1.2"), 1, Decimal(100), 2, Decimal(1))
        assert quote.breakdown_json() == jsonb_text(quote.breakdown())


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("bucket", ["input", "compute.gpu_seconds", 'odd "meter"\\ ü',
                                    "tab\there\x01", "日本 😀", "\u2028"])
def test_postgresql_writes_the_breakdown_out_as_breakdown_json_writes_it(bucket):
    line = PricedLine(bucket, Decimal("1000"), Decimal("2.5"), 1_000_000, 7,
                      Decimal("0.0025"))
    other = line._replace(bucket="output", quantity=Decimal("0.000001"), price_id=10**12)
    quote = Quote((line, other), Decimal("0.00250000"), Decimal("1.20"), 3, Decimal(100), 2,
                  Decimal("0.300000"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [quote.breakdown_json()])
        [(stored,)] = cursor.fetchall()
    assert stored == quote.breakdown_json()


# --- the memoised choice of price rows ------------------------------------------------------

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


@pytest.fixture
def tiered(db):
    """A model with cliff rows, a daily window, a service tier and a request fee."""
    rate_and_markup()
    model = ai_model("cliffy")
    for bucket, tier, minimum, window, price in (
        ("input", "", 0, "", "1"), ("input", "", 200_001, "", "2"),
        ("input", "", 0, "00:30-16:30", "3"), ("input", "flex", 0, "", "0.5"),
        ("output", "", 0, "", "4"), ("output", "", 100_000, "", "8"),
        ("cached_input", "", 0, "", "0.1"), ("request", "", 0, "", "7"),
    ):
        change_model_price(model=model, bucket=bucket, service_tier=tier,
                           min_input_tokens=minimum, daily_window=window,
                           price_per_million_usd=Decimal(price), starts_at=T0, now=T0)
    return model


def test_one_book_prices_every_cliff_window_and_tier_as_a_fresh_scan(tiered):
    book = PriceBook(plan="professional")
    rows = list(tiered.prices.all())
    cases = []
    for hour in (0, 10, 20):  # outside, inside, outside the window
        for tokens in (0, 1, 99_999, 100_000, 200_000, 200_001, 900_000):
            for tier in ("", "flex", "priority"):
                cases.append((NOW.replace(hour=hour) - timedelta(days=1), tokens, tier))
    for at, tokens, tier in cases + cases[::-1]:  # memo filled in both orders
        counts = TokenCounts(input_tokens=tokens, output_tokens=5,
                             cached_input_tokens=min(tokens, 3))
        quoted = book.quote_tokens(model=tiered, tokens=counts, occurred_at=at,
                                   service_tier=tier)
        scanned = price_tokens(in_force(rows, at), tokens=counts, service_tier=tier, at=at)
        assert quoted.lines == scanned, (at, tokens, tier)
