"""The PriceBook's lookups: model names and meter codes resolved (or refused) once per
batch, and the few queries a whole batch costs. Quotes themselves: test_price_book.py."""


import pytest

from billing.models import AIModel, Meter
from billing.pricing.quotes.price_book import PriceBook, PricingError, TokenCounts
from billing.pricing.sync.prices import sync_prices
from tests.billing.price_catalogue import D, meter
from tests.billing.pricing.quotes.conftest import NOW


def book(plan="professional"):
    return PriceBook(plan=plan)


# --- resolving models and meters ---------------------------------------------------------------


def test_unknown_model_and_meter_are_refused_never_free(db):
    b = book()
    with pytest.raises(PricingError) as caught:
        b.resolve_model(name="gpt-9000")
    assert (caught.value.code, caught.value.field) == ("unknown_model", "model")
    with pytest.raises(PricingError) as caught:
        b.resolve_meter(code="compute.quantum_seconds")
    assert (caught.value.code, caught.value.field) == ("unknown_meter", "meter")


def test_inactive_model_and_meter_are_refused(db):
    AIModel.objects.create(provider="acme", name="old", active=False)
    m = meter()
    m.active = False
    m.save()
    with pytest.raises(PricingError, match="no longer available"):
        book().resolve_model(name="old")
    with pytest.raises(PricingError, match="inactive"):
        book().resolve_meter(code=m.code)


def test_model_by_name_alone_when_unambiguous(db):
    only = AIModel.objects.create(provider="acme", name="solo")
    AIModel.objects.create(provider="acme", name="twin")
    AIModel.objects.create(provider="other", name="twin")
    b = book()
    assert b.resolve_model(name=" SOLO ") == only
    with pytest.raises(PricingError, match="send provider") as caught:
        b.resolve_model(name="twin")
    assert caught.value.code == "unknown_model"
    assert b.resolve_model(name="twin", provider="Other").provider == "other"
    with pytest.raises(PricingError):
        b.resolve_model(name="solo", provider="other")


def test_default_for_name_settles_ambiguity(db):
    AIModel.objects.create(provider="reseller", name="twin")
    home = AIModel.objects.create(provider="acme", name="twin", default_for_name=True)
    assert book().resolve_model(name="twin") == home


def test_sync_marks_the_makers_model_as_default(synced):
    # Google also offers claude-sonnet-4-5; by name alone it means Anthropic's.
    sync_prices(providers=["google"], now=NOW)
    assert AIModel.objects.filter(name="claude-sonnet-4-5").count() == 2
    assert book().resolve_model(name="claude-sonnet-4-5").provider == "anthropic"


# --- the per-batch cache -----------------------------------------------------------------------


def test_a_batch_of_a_thousand_events_costs_a_handful_of_queries(
        synced, django_assert_max_num_queries):
    gpu = Meter.objects.get(code="compute.gpu_seconds")  # seeded by the sync
    tokens = TokenCounts(input_tokens=1200, cached_input_tokens=200, output_tokens=300,
                         reasoning_tokens=100)
    # 2 models + their prices, 1 meter + its prices, the rate, the markup, the unknown name.
    with django_assert_max_num_queries(9):
        b = book()
        for i in range(1000):
            if i % 2:
                model = b.resolve_model(name=("gpt-4o", "gpt-4o-mini")[i % 4 // 2])
                b.quote_tokens(model=model, tokens=tokens, occurred_at=NOW)
            else:
                b.quote_meter(meter=b.resolve_meter(code=gpu.code), quantity=D("2"),
                              occurred_at=NOW)
        with pytest.raises(PricingError):
            b.resolve_model(name="nope")
        with pytest.raises(PricingError):
            b.resolve_model(name="nope")  # cached refusal, no second query
