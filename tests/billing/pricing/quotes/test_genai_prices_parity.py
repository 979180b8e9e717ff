"""Every model of the pinned genai-prices snapshot is charged what genai-prices computes.

For each model of each provider (not a sample): random token counts in the
buckets the model prices, quoted through the real sync, resolution and
PriceBook; the credits must equal genai_prices' price x markup x rate, rounded
once to six places. A model genai-prices prices only in units an event cannot
report (audio hours, pages, characters, searches) must be refused with a clear
message, never charged zero. The few exceptions are listed below with reasons.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from genai_prices import types as gp
from genai_prices.data import providers as SNAPSHOT

from billing import money
from billing.models import ZeroPriceAllowance
from billing.pricing.quotes.price_book import PriceBook, PricingError, TokenCounts
from billing.pricing.sync.prices import sync_prices
from tests.conftest import make_org
from tests.kept_rows import rows_kept_for_these_tests

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
SEED = 20261127

pytestmark = pytest.mark.django_db

# Deliberately unsupported, each with its reason. Keep it short and true: the test fails
# if one of these starts matching (take it off the list) or another model stops.
UNSUPPORTED: dict[tuple[str, str], str] = {}
# Models with time-of-day prices (DeepSeek's peak hours): checked at several times of day.
TIME_OF_DAY = [("deepseek", "deepseek-chat"), ("deepseek", "deepseek-reasoner"),
               ("deepseek", "deepseek-flash"), ("deepseek", "deepseek-v4-flash"),
               ("deepseek", "deepseek-v4-pro")]
# Upstream prices written as floats (0.04166666666666665 for $1/24 per million) are kept to
# the price column's ten places (money.PRICE_FIELD): such a model may differ by at most one
# millionth of a credit, when the exact charge falls on a rounding boundary.
FLOAT_ARTEFACT_TOLERANCE = money.CREDIT_QUANTUM


def priced(prices: gp.ModelPrice, key: str) -> bool:
    return getattr(prices, key, None) is not None


def token_price_keys(prices: gp.ModelPrice) -> set[str]:
    keys = {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok",
            "output_reasoning_mtok"}
    return {k for k in keys if priced(prices, k)}


def is_free(prices: gp.ModelPrice) -> bool:
    return all(value is None for value in prices.__dict__.values())


def has_float_artefact(info: gp.ModelInfo) -> bool:
    def places(value):
        if isinstance(value, gp.TieredPrices):
            return max([places(value.base)] + [places(t.price) for t in value.tiers])
        return -value.as_tuple().exponent if isinstance(value, Decimal) else 0

    prices = info.get_prices(AT)
    return any(places(v) > money.PRICE_PLACES for v in prices.__dict__.values())


def random_usage(rng: random.Random, prices: gp.ModelPrice) -> TokenCounts:
    # Half the events large enough to cross the cliff tiers (200k, 272k, 1M tokens).
    total_in = rng.randint(0, 1_300_000) if rng.random() < 0.5 else rng.randint(0, 8_000)
    cached = rng.randint(0, total_in) if priced(prices, "cache_read_mtok") else 0
    write = rng.randint(0, total_in - cached) if priced(prices, "cache_write_mtok") else 0
    if not priced(prices, "input_mtok") and not is_free(prices):
        total_in = cached + write  # no uncached input price: send none
    out = rng.randint(0, 30_000) if priced(prices, "output_mtok") or is_free(prices) else 0
    reasoning = rng.randint(0, out) if priced(prices, "output_reasoning_mtok") else 0
    return TokenCounts(input_tokens=total_in, output_tokens=out, cached_input_tokens=cached,
                       cache_write_tokens=write, reasoning_tokens=reasoning)


def genai_usage(t: TokenCounts) -> gp.Usage:
    return gp.Usage(input_tokens=t.input_tokens, cache_read_tokens=t.cached_input_tokens,
                    cache_write_tokens=t.cache_write_tokens, output_tokens=t.output_tokens,
                    output_reasoning_tokens=t.reasoning_tokens)


@pytest.fixture(scope="module", autouse=True)
def synced(django_db_setup, django_db_blocker):
    """The snapshot synced once for the module (about 10,000 rows); each test reads it."""
    with rows_kept_for_these_tests(django_db_blocker, lambda: sync_prices(now=AT)):
        yield


def test_every_model_in_the_snapshot_is_charged_as_genai_prices_computes():
    # Every provider's zero prices allowed, so that each of them is compared too (without an
    # allowance an undercutting zero is refused: test_zero_prices.py).
    org = make_org("parity")
    ZeroPriceAllowance.objects.bulk_create(
        ZeroPriceAllowance(organization=org, provider=p.id, reason="parity") for p in SNAPSHOT
    )
    book = PriceBook(plan="professional", organization_id=org.pk)
    rng = random.Random(SEED)
    checked, free, refused, mismatched, artefacts = 0, 0, [], [], 0
    for provider in SNAPSHOT:
        for info in provider.models:
            prices = info.get_prices(AT)
            tokens = random_usage(rng, prices)
            model = book.resolve_model(name=info.id, provider=provider.id)
            assert (model.provider, model.name) == (provider.id, info.id.lower())
            expected_usd = info.calc_price(genai_usage(tokens), provider,
                                           genai_request_timestamp=AT).total_price
            if not token_price_keys(prices) and not is_free(prices):
                # Only audio hours, pages, searches...: refused, with the reason.
                with pytest.raises(PricingError) as caught:
                    book.quote_tokens(model=model, tokens=TokenCounts(1000, 100),
                                      occurred_at=AT)
                assert "no token price" in caught.value.message
                refused.append((provider.id, info.id))
                continue
            quote = book.quote_tokens(model=model, tokens=tokens, occurred_at=AT)
            expected = money.round_charge(expected_usd * quote.markup * quote.credits_per_usd)
            checked += 1
            free += is_free(prices)
            if (provider.id, info.id) in UNSUPPORTED:
                mismatched.append((provider.id, info.id))
                continue
            if has_float_artefact(info):
                artefacts += 1
                assert abs(quote.credits - expected) <= FLOAT_ARTEFACT_TOLERANCE, info.id
            else:
                assert quote.credits == expected, (provider.id, info.id, tokens)
    assert checked + len(refused) == sum(len(p.models) for p in SNAPSHOT)
    assert checked > 2000 and free > 100 and artefacts < 40
    assert len(refused) < 40  # audio, OCR, moderation, voice: a short, known kind
    assert set(mismatched) == set(UNSUPPORTED)


def test_time_of_day_prices_match_at_every_half_hour():
    """Peak and off-peak: the daily-window rows replace the all-day rows inside the window."""
    book = PriceBook(plan="professional")
    by_id = {(p.id, m.id): (p, m) for p in SNAPSHOT for m in p.models}
    tokens = TokenCounts(input_tokens=5000, cached_input_tokens=1000, output_tokens=700)
    seen = set()
    for provider_id, model_id in TIME_OF_DAY:
        provider, info = by_id[(provider_id, model_id)]
        model = book.resolve_model(name=info.id, provider=provider.id)
        for half_hours in range(48):
            at = AT.replace(hour=0, minute=0) + timedelta(minutes=30 * half_hours, seconds=1)
            quote = book.quote_tokens(model=model, tokens=tokens, occurred_at=at)
            usd = info.calc_price(genai_usage(tokens), provider,
                                  genai_request_timestamp=at).total_price
            assert quote.credits == money.round_credits(
                usd * quote.markup * quote.credits_per_usd), (model_id, at)
            seen.add(quote.credits)
    assert len(seen) > len(TIME_OF_DAY)  # peak and off-peak both met


def test_per_request_fee_free_model_and_cliff_against_genai_prices():
    """Named examples of the three kinds the sample used to get wrong."""
    book = PriceBook(plan="professional")
    by_kind = {"fee": None, "free": None, "cliff": None}
    for provider in SNAPSHOT:
        for info in provider.models:
            prices = info.get_prices(AT)
            if by_kind["fee"] is None and priced(prices, "requests_kcount") \
                    and priced(prices, "input_mtok"):
                by_kind["fee"] = (provider, info)
            if by_kind["free"] is None and is_free(prices):
                by_kind["free"] = (provider, info)
            if by_kind["cliff"] is None and isinstance(prices.input_mtok, gp.TieredPrices):
                by_kind["cliff"] = (provider, info)
    tokens = TokenCounts(input_tokens=300_000, output_tokens=2_000)
    for kind, (provider, info) in by_kind.items():
        model = book.resolve_model(name=info.id, provider=provider.id)
        quote = book.quote_tokens(model=model, tokens=tokens, occurred_at=AT)
        usd = info.calc_price(genai_usage(tokens), provider, genai_request_timestamp=AT)
        assert quote.cost_usd == usd.total_price, kind
        if kind == "fee":
            assert "request" in {line.bucket for line in quote.lines}
        if kind == "free":
            assert quote.credits == 0
