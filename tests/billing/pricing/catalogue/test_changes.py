from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from billing.models import CreditRate, MeterPrice, ModelPrice, PlanMarkup
from billing.pricing.catalogue.changes import (
    PriceChangeError,
    change_credit_rate,
    change_meter_price,
    change_model_price,
    change_plan_markup,
)
from billing.pricing.quotes.price_book import PriceBook, TokenCounts
from tests.billing.price_catalogue import T0, D, ai_model, meter, rate_and_markup

CHANGE = datetime(2026, 11, 1, tzinfo=UTC)
BEFORE = CHANGE - timedelta(microseconds=1)
TOKENS = TokenCounts(input_tokens=1_000_000, output_tokens=0)


@pytest.fixture
def model(db):
    rate_and_markup(rate="1", markup="1")
    return ai_model(prices={"input": "2.5", "output": "10"})


def quote(model, at):
    return PriceBook(plan="professional").quote_tokens(model=model, tokens=TOKENS, occurred_at=at)


def test_a_change_closes_the_old_row_and_opens_a_new_one(model, admin_user):
    old = ModelPrice.objects.get(model=model, bucket="input")
    new = change_model_price(model=model, bucket="input", price_per_million_usd=D("3"),
                             starts_at=CHANGE, now=CHANGE, created_by=admin_user)
    old.refresh_from_db()
    assert (old.price_per_million_usd, old.starts_at, old.ends_at) == (D("2.5"), T0, CHANGE)
    assert (new.price_per_million_usd, new.starts_at, new.ends_at) == (D("3"), CHANGE, None)
    assert (new.source, new.created_by) == ("staff", admin_user)
    assert ModelPrice.objects.filter(model=model, bucket="input").count() == 2
    # The other bucket is untouched.
    assert ModelPrice.objects.get(model=model, bucket="output").ends_at is None


def test_an_event_before_the_change_keeps_the_old_price(model):
    change_model_price(model=model, bucket="input", price_per_million_usd=D("3"),
                       starts_at=CHANGE,
                       now=CHANGE)
    assert quote(model, BEFORE).cost_usd == D("2.5")
    assert quote(model, CHANGE).cost_usd == D("3")
    assert quote(model, BEFORE).lines[0].price_id != quote(model, CHANGE).lines[0].price_id


def test_tier_and_cliff_rows_are_separate_series(model):
    change_model_price(model=model, bucket="input", service_tier="batch",
                       price_per_million_usd=D("1.25"), starts_at=T0,
                       now=T0)
    change_model_price(model=model, bucket="input", min_input_tokens=200_001,
                       price_per_million_usd=D("5"), starts_at=T0,
                       now=T0)
    assert ModelPrice.objects.filter(model=model, bucket="input", ends_at__isnull=True).count() == 3


@pytest.mark.parametrize("starts_at", [T0, T0 - timedelta(days=1)])
def test_the_new_start_must_follow_the_old_one(model, starts_at):
    with pytest.raises(PriceChangeError, match="must start after"):
        change_model_price(model=model, bucket="input", price_per_million_usd=D("3"),
                           starts_at=starts_at,
                           now=starts_at)
    assert ModelPrice.objects.filter(model=model, bucket="input").count() == 1
    assert ModelPrice.objects.get(model=model, bucket="input").ends_at is None


@pytest.mark.parametrize("kwargs, message", [
    ({"price_per_million_usd": 3.0}, "never floats"),
    ({"price_per_million_usd": D("-1")}, "0 or more"),
    ({"price_per_million_usd": D("NaN")}, "finite"),
    ({"price_per_million_usd": D("0.00000000001")}, "decimal places"),
    ({"price_per_million_usd": D("1e12")}, "too large"),
    ({"bucket": "thinking"}, "unknown bucket"),
    ({"service_tier": "turbo"}, "unknown service tier"),
    ({"min_input_tokens": -1}, "min_input_tokens"),
    ({"starts_at": datetime(2026, 12, 1)}, "timezone-aware"),
])
def test_bad_changes_write_nothing(model, kwargs, message):
    args = {"model": model, "bucket": "input", "price_per_million_usd": D("3"),
            "starts_at": CHANGE, **kwargs}
    with pytest.raises(PriceChangeError, match=message):
        change_model_price(**args)
    assert ModelPrice.objects.count() == 2
    assert not ModelPrice.objects.filter(ends_at__isnull=False).exists()


def test_a_zero_price_is_allowed(model):
    assert change_model_price(model=model, bucket="output", price_per_million_usd=D("0"),
                              starts_at=CHANGE,
                              now=CHANGE).price_per_million_usd == 0


def test_meter_price_change(db):
    rate_and_markup(rate="1", markup="1")
    gpu = meter(price="0.0007")
    new = change_meter_price(meter=gpu, price_per_unit_usd=D("0.0006"), starts_at=CHANGE,
                             now=CHANGE)
    assert MeterPrice.objects.get(meter=gpu, starts_at=T0).ends_at == CHANGE
    book = PriceBook(plan="professional")
    assert book.quote_meter(meter=gpu, quantity=D("10"), occurred_at=BEFORE).cost_usd == D("0.007")
    after = book.quote_meter(meter=gpu, quantity=D("10"), occurred_at=CHANGE)
    assert (after.cost_usd, after.lines[0].price_id) == (D("0.006"), new.pk)


def test_credit_rate_change(model):
    old = CreditRate.objects.get()
    new = change_credit_rate(credits_per_usd=D("50"), starts_at=CHANGE,
                             now=CHANGE)
    old.refresh_from_db()
    assert old.ends_at == CHANGE
    before, after = quote(model, BEFORE), quote(model, CHANGE)
    assert (before.credits_per_usd, before.rate_id, before.credits) == (1, old.pk, D("2.5"))
    assert (after.credits_per_usd, after.rate_id, after.credits) == (50, new.pk, D("125"))
    with pytest.raises(PriceChangeError):
        change_credit_rate(credits_per_usd=D("0"), starts_at=CHANGE + timedelta(days=1),
                           now=CHANGE + timedelta(days=1))


def test_plan_markup_change(model):
    old = PlanMarkup.objects.get(plan="professional")
    new = change_plan_markup(plan="professional", multiplier=D("1.5"), starts_at=CHANGE,
                             now=CHANGE)
    old.refresh_from_db()
    assert old.ends_at == CHANGE
    before, after = quote(model, BEFORE), quote(model, CHANGE)
    assert (before.markup, before.markup_id, before.credits) == (1, old.pk, D("2.5"))
    assert (after.markup, after.markup_id, after.credits) == (D("1.5"), new.pk, D("3.75"))
    # Another plan's markup is a separate series.
    change_plan_markup(plan="enterprise", multiplier=D("1.1"), starts_at=T0,
                       now=T0)
    with pytest.raises(PriceChangeError, match="unknown plan"):
        change_plan_markup(plan="gold", multiplier=D("1.1"), starts_at=T0,
                           now=T0)


def test_the_database_allows_one_open_row_per_series(model):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelPrice.objects.create(model=model, bucket="input", price_per_million_usd=D("1"),
                                  starts_at=CHANGE)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditRate.objects.create(credits_per_usd=D("2"), starts_at=CHANGE)
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanMarkup.objects.create(plan="professional", multiplier=D("2"), starts_at=CHANGE)


def test_the_database_refuses_negative_prices_and_backwards_periods(model):
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelPrice.objects.create(model=model, bucket="reasoning", price_per_million_usd=D("-1"),
                                  starts_at=CHANGE)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelPrice.objects.create(model=model, bucket="reasoning", price_per_million_usd=D("1"),
                                  starts_at=CHANGE, ends_at=CHANGE)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_series_keep_one_contiguous_history():
    import threading

    from django.db import connection

    from billing.models import AIModel

    model = AIModel.objects.create(provider="acme", name="race")
    change_model_price(model=model, bucket="input", price_per_million_usd=D("1"), starts_at=T0,
                       now=T0)
    count = 8
    barrier = threading.Barrier(count)
    results = [None] * count

    def work(i):
        try:
            barrier.wait()
            results[i] = change_model_price(
                model=model, bucket="input", price_per_million_usd=D(i + 2),
                starts_at=CHANGE + timedelta(days=i), now=CHANGE,
            )
        except Exception as error:  # noqa: BLE001 - every outcome is inspected
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(isinstance(r, ModelPrice | PriceChangeError) for r in results), [
        repr(r) for r in results if not isinstance(r, ModelPrice | PriceChangeError)]
    rows = list(ModelPrice.objects.filter(model=model).order_by("starts_at"))
    assert len(rows) == 1 + sum(isinstance(r, ModelPrice) for r in results) >= 2
    assert [r.ends_at for r in rows[:-1]] == [r.starts_at for r in rows[1:]]
    assert rows[-1].ends_at is None


def test_a_change_never_starts_in_the_past(model):
    from django.utils import timezone

    now = timezone.now()
    with pytest.raises(PriceChangeError, match="cannot start in the past"):
        change_model_price(model=model, bucket="input", price_per_million_usd=D("3"),
                           starts_at=now - timedelta(days=1))
    with pytest.raises(PriceChangeError, match="cannot start in the past"):
        change_credit_rate(credits_per_usd=D("50"), starts_at=now - timedelta(hours=1))
    assert ModelPrice.objects.filter(model=model, bucket="input").get().ends_at is None
    # A form shown with "now" and sent a little later starts at the moment of the change.
    recent = change_model_price(model=model, bucket="input", price_per_million_usd=D("3"),
                                starts_at=now - timedelta(minutes=2))
    assert recent.starts_at >= now
