import json
from datetime import UTC, datetime, timedelta

import genai_prices
import pytest

from billing.models import AIModel, ModelPrice
from billing.pricing.catalogue.changes import change_model_price, change_plan_markup
from billing.pricing.quotes.price_book import (
    TOKENS_PER,
    PriceBook,
    PricingError,
    TokenCounts,
    split_tokens,
)
from tests.billing.price_catalogue import T0, D, ai_model, meter, rate_and_markup
from tests.billing.pricing.quotes.conftest import NOW


def book(plan="professional"):
    return PriceBook(plan=plan)


def quote(model_name, tokens, *, at=NOW, tier="", provider="", plan="professional"):
    b = book(plan)
    model = b.resolve_model(name=model_name, provider=provider)
    return b.quote_tokens(model=model, tokens=tokens, occurred_at=at, service_tier=tier)


# --- known figures, prices from sync_model_prices ----------------------------------------------


def test_gpt_4o_thousand_in_hundred_out_costs_0_0035_usd(synced):
    q = quote("gpt-4o", TokenCounts(input_tokens=1000, output_tokens=100))
    assert q.cost_usd == D("0.0035")
    assert [(ln.bucket, ln.quantity, ln.unit_price_usd, ln.per) for ln in q.lines] == [
        ("input", 1000, D("2.5"), TOKENS_PER), ("output", 100, D("10"), TOKENS_PER),
    ]
    # Professional: x1.20, 100 credits per USD (the seeded rate and markup).
    assert (q.markup, q.credits_per_usd, q.credits) == (D("1.2"), D("100"), D("0.42"))


def test_worked_example_of_the_design(synced):
    """input 1,200 (200 cached), output 300 (100 reasoning): 1,000 + 200 cached + 200 + 100."""
    tokens = TokenCounts(input_tokens=1200, cached_input_tokens=200, output_tokens=300,
                         reasoning_tokens=100)
    q = quote("gpt-4o", tokens)
    by_bucket = {ln.bucket: ln for ln in q.lines}
    assert {b: ln.quantity for b, ln in by_bucket.items()} == {
        "input": 1000, "cached_input": 200, "output": 200, "reasoning": 100,
    }
    # gpt-4o has no reasoning price: reasoning is billed at the output price (same row).
    assert by_bucket["reasoning"].price_id == by_bucket["output"].price_id
    assert by_bucket["cached_input"].unit_price_usd == D("1.25")
    # 0.0025 + 0.00025 + 0.002 + 0.001
    assert q.cost_usd == D("0.00575")
    assert q.credits == D("0.69")  # x1.2 x100


@pytest.mark.parametrize("model, provider, usage, at, context", [
    ("gpt-4o", "openai", dict(input_tokens=1200, cache_read_tokens=200, output_tokens=300), NOW,
     None),
    ("gpt-4o", "openai", dict(input_tokens=5000, cache_read_tokens=1000, output_tokens=70), NOW,
     {"processing": "batch"}),
    ("gpt-4o", "openai", dict(input_tokens=5000, output_tokens=70), NOW,
     {"service_tier": "priority"}),
    ("claude-sonnet-4-5", "anthropic",
     dict(input_tokens=250_000, cache_read_tokens=20_000, cache_write_tokens=5_000,
          output_tokens=1000), NOW, None),
    ("claude-sonnet-4-5", "anthropic", dict(input_tokens=200_000, output_tokens=10), NOW, None),
    ("claude-opus-4-6", "anthropic", dict(input_tokens=300_000, output_tokens=10),
     datetime(2026, 3, 12, 23, 59, tzinfo=UTC), None),
    ("claude-opus-4-6", "anthropic", dict(input_tokens=300_000, output_tokens=10),
     datetime(2026, 3, 13, tzinfo=UTC), None),
])
def test_costs_match_genai_prices(synced, model, provider, usage, at, context):
    tiers = {"batch": "batch", "priority": "priority"}
    tier = tiers[next(iter(context.values()))] if context else ""
    expected = genai_prices.calc_price(
        genai_prices.Usage(**usage), model, provider_id=provider, genai_request_timestamp=at,
        price_context=context,
    ).total_price
    tokens = TokenCounts(
        input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"],
        cached_input_tokens=usage.get("cache_read_tokens", 0),
        cache_write_tokens=usage.get("cache_write_tokens", 0),
    )
    assert quote(model, tokens, at=at, tier=tier, provider=provider).cost_usd == expected


# --- split_tokens ------------------------------------------------------------------------------


def test_split_tokens_follows_the_token_convention():
    assert split_tokens(TokenCounts(input_tokens=1200, cached_input_tokens=200,
                                    output_tokens=300, reasoning_tokens=100)) == {
        "input": 1000, "cached_input": 200, "cache_write": 0, "output": 200, "reasoning": 100,
    }
    assert split_tokens(TokenCounts(input_tokens=10, cached_input_tokens=4, cache_write_tokens=6,
                                    output_tokens=0))["input"] == 0


@pytest.mark.parametrize("tokens, field", [
    (TokenCounts(input_tokens=-1, output_tokens=0), "input_tokens"),
    (TokenCounts(input_tokens=1, output_tokens=-5), "output_tokens"),
    (TokenCounts(input_tokens=1, output_tokens=1, reasoning_tokens=-1), "reasoning_tokens"),
    (TokenCounts(input_tokens=100, output_tokens=0, cached_input_tokens=101),
     "cached_input_tokens"),
    (TokenCounts(input_tokens=100, output_tokens=0, cache_write_tokens=101), "cache_write_tokens"),
    (TokenCounts(input_tokens=100, output_tokens=0, cached_input_tokens=60,
                 cache_write_tokens=41), "cache_write_tokens"),
    (TokenCounts(input_tokens=0, output_tokens=10, reasoning_tokens=11), "reasoning_tokens"),
    (TokenCounts(input_tokens=1.5, output_tokens=0), "input_tokens"),
    (TokenCounts(input_tokens=True, output_tokens=0), "input_tokens"),
])
def test_invalid_tokens_are_refused_with_their_field(tokens, field):
    with pytest.raises(PricingError) as caught:
        split_tokens(tokens)
    assert (caught.value.code, caught.value.field) == ("invalid_tokens", field)
    assert caught.value.message


def test_invalid_tokens_refused_by_the_quote_too(db):
    rate_and_markup()
    model = ai_model(prices={"input": "1", "output": "2"})
    with pytest.raises(PricingError, match="cannot exceed") as caught:
        book().quote_tokens(model=model, occurred_at=NOW, tokens=TokenCounts(
            input_tokens=10, output_tokens=1, cached_input_tokens=11))
    assert caught.value.code == "invalid_tokens"


# --- rules -------------------------------------------------------------------------------------


def test_cliff_tier_prices_all_tokens_from_the_threshold(db):
    rate_and_markup(markup="1", rate="1")
    model = ai_model(prices={("input", "", 0): "3", ("input", "", 200_001): "6",
                             ("output", "", 0): "15", ("output", "", 200_001): "22.5"})
    below = book().quote_tokens(model=model, occurred_at=NOW,
                                tokens=TokenCounts(input_tokens=200_000, output_tokens=1000))
    above = book().quote_tokens(model=model, occurred_at=NOW,
                                tokens=TokenCounts(input_tokens=200_001, output_tokens=1000))
    assert below.cost_usd == D("0.6") + D("0.015")
    assert above.cost_usd == D("200001") * 6 / TOKENS_PER + D("0.0225")


def test_cliff_tier_uses_total_input_for_cached_tokens_too(db):
    rate_and_markup(markup="1", rate="1")
    model = ai_model(prices={("input", "", 0): "3", ("input", "", 1000): "6",
                             ("cached_input", "", 0): "0.3", ("cached_input", "", 1000): "0.6",
                             "output": "1"})
    q = book().quote_tokens(model=model, occurred_at=NOW, tokens=TokenCounts(
        input_tokens=1000, cached_input_tokens=900, output_tokens=0))
    assert {ln.bucket: ln.unit_price_usd for ln in q.lines} == {
        "input": D("6"), "cached_input": D("0.6"),
    }


def test_service_tier_prices_where_the_model_has_them_else_default(synced):
    after = datetime(2026, 10, 20, tzinfo=UTC)  # gpt-4o batch prices start 2026-10-14
    tokens = TokenCounts(input_tokens=1000, cached_input_tokens=400, output_tokens=100)
    q = quote("gpt-4o", tokens, at=after, tier="batch")
    assert {ln.bucket: ln.unit_price_usd for ln in q.lines} == {
        "input": D("1.25"), "output": D("5"),
        "cached_input": D("1.25"),  # no batch cached price: the default tier's
    }
    gpt = AIModel.objects.get(provider="openai", name="gpt-4o")
    batch_input = ModelPrice.objects.get(model=gpt, bucket="input", service_tier="batch")
    assert q.lines[0].price_id == batch_input.pk


def test_service_tier_before_its_prices_existed_uses_the_default(synced):
    before = datetime(2026, 10, 1, tzinfo=UTC)
    q = quote("gpt-4o", TokenCounts(input_tokens=1000, output_tokens=100), at=before, tier="batch")
    assert q.cost_usd == D("0.0035")


def test_reasoning_has_its_own_price_when_the_model_has_one(db):
    rate_and_markup(markup="1", rate="1")
    model = ai_model(prices={"input": "1", "output": "10", "reasoning": "4"})
    q = book().quote_tokens(model=model, occurred_at=NOW, tokens=TokenCounts(
        input_tokens=0, output_tokens=300, reasoning_tokens=100))
    assert {ln.bucket: ln.unit_price_usd for ln in q.lines} == {
        "output": D("10"), "reasoning": D("4"),
    }


def test_cache_buckets_fall_back_to_the_input_price(db):
    """genai-prices leaves unpriced cached tokens inside input_tokens, at the input price."""
    rate_and_markup(markup="1", rate="1")
    model = ai_model(prices={"input": "2", "output": "8"})
    q = book().quote_tokens(model=model, occurred_at=NOW, tokens=TokenCounts(
        input_tokens=1000, cached_input_tokens=300, cache_write_tokens=200, output_tokens=0))
    assert {ln.bucket: ln.unit_price_usd for ln in q.lines} == {
        "input": D("2"), "cached_input": D("2"), "cache_write": D("2"),
    }
    assert q.cost_usd == D("0.002")


def test_a_bucket_without_any_price_is_refused(db):
    rate_and_markup()
    model = ai_model(prices={"input": "2"})  # an embedding model: no output price
    b = book()
    assert b.quote_tokens(model=model, occurred_at=NOW,
                          tokens=TokenCounts(input_tokens=10, output_tokens=0)).cost_usd > 0
    with pytest.raises(PricingError) as caught:
        b.quote_tokens(model=model, occurred_at=NOW,
                       tokens=TokenCounts(input_tokens=10, output_tokens=1))
    assert caught.value.code == "no_price"


def test_zero_tokens_cost_nothing_but_need_a_priced_model(db):
    rate_and_markup()
    priced = ai_model(prices={"input": "2", "output": "8"})
    unpriced = ai_model(name="m2")
    zero = TokenCounts(input_tokens=0, output_tokens=0)
    q = book().quote_tokens(model=priced, tokens=zero, occurred_at=NOW)
    assert (q.lines, q.cost_usd, q.credits) == ((), 0, 0)
    with pytest.raises(PricingError) as caught:
        book().quote_tokens(model=unpriced, tokens=zero, occurred_at=NOW)
    assert caught.value.code == "no_price"


def test_prices_in_force_at_occurred_at_only(db):
    rate_and_markup()
    model = ai_model(prices={"input": "1", "output": "1"})
    with pytest.raises(PricingError) as caught:
        book().quote_tokens(model=model, occurred_at=T0 - timedelta(seconds=1),
                            tokens=TokenCounts(input_tokens=1, output_tokens=1))
    assert caught.value.code == "no_price"


def test_rounding_once_per_event_half_up(db):
    rate_and_markup(markup="1", rate="1")
    model = ai_model(prices={"input": "0.4", "cached_input": "0.4", "output": "0.4"})
    q = book().quote_tokens(model=model, occurred_at=NOW, tokens=TokenCounts(
        input_tokens=2, cached_input_tokens=1, output_tokens=1))
    # Three lines of 0.0000004 credits: each alone would round to 0; the sum rounds once.
    assert [ln.cost_usd for ln in q.lines] == [D("0.0000004")] * 3
    assert q.cost_usd == D("0.0000012")
    assert q.credits == D("0.000001")
    # Exactly half a millionth rounds up.
    half = meter(price="0.0000005")
    assert book().quote_meter(meter=half, quantity=D("1"), occurred_at=NOW).credits == D(
        "0.000001")
    # ...and the markup and rate are applied before rounding, not per line.
    change_model_price(model=model, bucket="output", price_per_million_usd=D("0.45"),
                       starts_at=NOW - timedelta(days=1),
                       now=NOW - timedelta(days=1))
    q = book().quote_tokens(model=model, occurred_at=NOW, tokens=TokenCounts(
        input_tokens=0, output_tokens=1))
    # 0.00000045 rounds down to zero, but a positive cost is charged at least a millionth
    # (issue 26: no event free by rounding).
    assert q.cost_usd == D("0.00000045") and q.credits == D("0.000001")


def test_meter_quote(db):
    rate_and_markup()
    gpu = meter(price="0.0005")
    b = book()
    q = b.quote_meter(meter=b.resolve_meter(code="compute.gpu_seconds"), quantity=D("120.5"),
                      occurred_at=NOW)
    assert [(ln.bucket, ln.quantity, ln.per) for ln in q.lines] == [
        ("compute.gpu_seconds", D("120.5"), 1),
    ]
    assert q.lines[0].price_id == gpu.prices.get().pk
    assert q.cost_usd == D("0.06025")
    assert q.credits == D("7.23")


def test_markup_of_the_plan(db):
    rate_and_markup(markup="1.2", plan="professional")
    change_plan_markup(plan="enterprise", multiplier=D("1.1"), starts_at=T0,
                       now=T0)
    gpu = meter(price="1")
    assert book("enterprise").quote_meter(meter=gpu, quantity=D("1"),
                                          occurred_at=NOW).credits == D("110")
    assert book("professional").quote_meter(meter=gpu, quantity=D("1"),
                                            occurred_at=NOW).credits == D("120")
    with pytest.raises(PricingError) as caught:
        book("free").quote_meter(meter=gpu, quantity=D("1"), occurred_at=NOW)
    assert caught.value.code == "no_price"


def test_no_rate_in_force_is_no_price(db):
    gpu = meter(price="1")
    with pytest.raises(PricingError) as caught:
        book().quote_meter(meter=gpu, quantity=D("1"), occurred_at=NOW)
    assert caught.value.code == "no_price"


def test_breakdown_is_json_with_decimal_strings(synced):
    tokens = TokenCounts(input_tokens=1200, cached_input_tokens=200, output_tokens=300,
                         reasoning_tokens=100)
    q = quote("gpt-4o", tokens)
    data = json.loads(json.dumps(q.breakdown()))
    assert data["cost_usd"] == "0.00575"
    assert data["credits"] == "0.690000"
    assert (data["markup"], data["credits_per_usd"]) == ("1.2", "100")
    assert data["rate_id"] == q.rate_id and data["markup_id"] == q.markup_id
    assert data["lines"][0] == {
        "bucket": "input", "quantity": "1000", "unit_price_usd": "2.5",
        "per": 1_000_000, "price_id": q.lines[0].price_id, "cost_usd": "0.0025",
    }


def test_naive_datetimes_and_unknown_tiers_are_programming_errors(db):
    rate_and_markup()
    model = ai_model(prices={"input": "1", "output": "1"})
    tokens = TokenCounts(input_tokens=1, output_tokens=1)
    with pytest.raises(ValueError):
        book().quote_tokens(model=model, tokens=tokens, occurred_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        book().quote_tokens(model=model, tokens=tokens, occurred_at=NOW, service_tier="turbo")


# --- refusals say what was refused (mutation run, docs/testing.md) ----------------------------


def test_meter_quantity_zero_is_free_and_anything_but_a_finite_decimal_is_refused(db):
    rate_and_markup()
    gpu = meter(price="0.0005")
    assert book().quote_meter(meter=gpu, quantity=D("0"), occurred_at=NOW).credits == D("0")
    for bad in (1, 1.5, D("-0.000001"), D("NaN"), D("Infinity")):
        with pytest.raises(ValueError, match="^quantity must be a finite, non-negative Decimal$"):
            book().quote_meter(meter=gpu, quantity=bad, occurred_at=NOW)
    with pytest.raises(ValueError, match="^occurred_at must be a timezone-aware datetime$"):
        book().quote_meter(meter=gpu, quantity=D("1"), occurred_at=NOW.replace(tzinfo=None))


def test_no_price_messages_name_what_has_no_price(db):
    rate_and_markup()
    late = meter(code="compute.late", starts_at=NOW + timedelta(days=1))
    with pytest.raises(PricingError) as caught:
        book().quote_meter(meter=late, quantity=D("1"), occurred_at=NOW)
    assert caught.value.message == f"no price for compute.late in force at {NOW.isoformat()}"
    gpu = meter(price="1")
    with pytest.raises(PricingError) as caught:
        book("free").quote_meter(meter=gpu, quantity=D("1"), occurred_at=NOW)
    assert caught.value.message == f"no markup for the free plan in force at {NOW.isoformat()}"
    bare = ai_model(name="bare", prices={"request": "0.01"})  # a fee, no token price
    with pytest.raises(PricingError) as caught:
        book().quote_tokens(model=bare, tokens=TokenCounts(input_tokens=1, output_tokens=0),
                           occurred_at=NOW)
    assert "(it prices nothing at 2026-11-27)" in caught.value.message


def test_reasoning_beyond_output_is_refused_with_its_reason(db):
    with pytest.raises(PricingError) as caught:
        split_tokens(TokenCounts(input_tokens=0, output_tokens=1, reasoning_tokens=2))
    assert (caught.value.field, caught.value.message) == (
        "reasoning_tokens", "reasoning_tokens cannot exceed output_tokens")


def test_unknown_and_inactive_meters_are_told_apart_by_their_code(db):
    with pytest.raises(PricingError) as caught:
        book().resolve_meter(code=" compute.quantum_seconds ")
    assert caught.value.message == "unknown meter 'compute.quantum_seconds'"
    with pytest.raises(PricingError) as caught:
        book().resolve_meter(code=None)
    assert caught.value.message == "unknown meter ''"
    m = meter()
    m.active = False
    m.save()
    with pytest.raises(PricingError) as caught:
        book().resolve_meter(code=m.code)
    assert caught.value.message == "inactive meter 'compute.gpu_seconds'"


def test_a_daily_window_price_applies_inside_its_window_only(db):
    rate_and_markup(markup="1", rate="1")
    model = ai_model(prices={"input": "2", "output": "2"})
    change_model_price(model=model, bucket="input", price_per_million_usd=D("1"),
                       daily_window="00:30-16:30", starts_at=T0, now=T0)
    tokens = TokenCounts(input_tokens=1_000_000, output_tokens=0)
    inside = book().quote_tokens(model=model, tokens=tokens, occurred_at=NOW)  # 10:00 UTC
    outside = book().quote_tokens(model=model, tokens=tokens, occurred_at=NOW.replace(hour=20))
    assert (inside.cost_usd, outside.cost_usd) == (D("1"), D("2"))
