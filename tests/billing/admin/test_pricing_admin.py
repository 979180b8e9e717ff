from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from billing.models import CreditRate, MeterPrice, ModelPrice, PlanMarkup
from tests.billing.price_catalogue import T0, ai_model, meter, rate_and_markup

CHANGE = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


@pytest.fixture
def staff_client(client, db):
    staff = User.objects.create_superuser("staff@example.com", "pw-123456")
    client.force_login(staff)
    client.staff = staff
    return client


@pytest.fixture
def model(db):
    return ai_model(prices={"input": "2.5", "output": "10"})


def when(moment):
    return {"starts_at_0": moment.strftime("%Y-%m-%d"), "starts_at_1": moment.strftime("%H:%M:%S")}


def test_adding_a_model_price_closes_the_old_row(staff_client, model):
    url = reverse("admin:billing_modelprice_add")
    assert staff_client.get(url + f"?model={model.pk}").status_code == 200
    response = staff_client.post(url, {
        "model": model.pk, "bucket": "input", "service_tier": "", "min_input_tokens": 0,
        "price_per_million_usd": "3", **when(CHANGE),
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    old, new = ModelPrice.objects.filter(model=model, bucket="input").order_by("starts_at")
    assert (old.ends_at, new.starts_at, new.ends_at) == (CHANGE, CHANGE, None)
    assert (new.price_per_million_usd, new.source, new.created_by) == (
        Decimal("3"), "staff", staff_client.staff)


@pytest.mark.parametrize("starts_at", [datetime(2019, 1, 1, tzinfo=UTC),
                                       datetime.now(UTC) - timedelta(days=1)])
def test_a_price_starting_in_the_past_is_refused_on_the_form(staff_client, model, starts_at):
    response = staff_client.post(reverse("admin:billing_modelprice_add"), {
        "model": model.pk, "bucket": "input", "service_tier": "", "min_input_tokens": 0,
        "price_per_million_usd": "3", **when(starts_at),
    })
    assert response.status_code == 200
    assert "cannot start in the past" in str(response.context["adminform"].form.errors)
    assert ModelPrice.objects.filter(model=model, bucket="input").get().ends_at is None


def test_a_negative_price_is_refused_on_the_form(staff_client, model):
    response = staff_client.post(reverse("admin:billing_modelprice_add"), {
        "model": model.pk, "bucket": "input", "service_tier": "", "min_input_tokens": 0,
        "price_per_million_usd": "-1", **when(CHANGE),
    })
    assert response.status_code == 200
    assert ModelPrice.objects.count() == 2


def test_existing_rows_are_read_only_and_never_deleted(staff_client, model):
    price = ModelPrice.objects.get(model=model, bucket="input")
    change_url = reverse("admin:billing_modelprice_change", args=[price.pk])
    page = staff_client.get(change_url)
    assert page.status_code == 200 and b'name="price_per_million_usd"' not in page.content
    staff_client.post(change_url, {"price_per_million_usd": "0", **when(CHANGE)})
    price.refresh_from_db()
    assert price.price_per_million_usd == Decimal("2.5")
    delete_url = reverse("admin:billing_modelprice_delete", args=[price.pk])
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert ModelPrice.objects.filter(pk=price.pk).exists()


def test_model_page_shows_its_prices_inline(staff_client, model):
    page = staff_client.get(reverse("admin:billing_aimodel_change", args=[model.pk]))
    assert page.status_code == 200
    assert b"2.5000000000" in page.content
    assert b"Change a price of this model" in page.content
    assert staff_client.get(reverse("admin:billing_modelprice_changelist")).status_code == 200


def test_meter_rate_and_markup_changes_go_through_the_services(staff_client, db):
    gpu = meter(price="0.0007")
    rate, markup = rate_and_markup()
    for name, data in [
        ("meterprice", {"meter": gpu.pk, "price_per_unit_usd": "0.0006"}),
        ("creditrate", {"credits_per_usd": "50"}),
        ("planmarkup", {"plan": "professional", "multiplier": "1.3"}),
    ]:
        url = reverse(f"admin:billing_{name}_add")
        assert staff_client.get(url).status_code == 200
        response = staff_client.post(url, {**data, **when(CHANGE)})
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert staff_client.get(reverse(f"admin:billing_{name}_changelist")).status_code == 200
    assert MeterPrice.objects.get(meter=gpu, starts_at=T0).ends_at == CHANGE
    rate.refresh_from_db()
    markup.refresh_from_db()
    assert rate.ends_at == CHANGE and markup.ends_at == CHANGE
    assert CreditRate.objects.get(ends_at=None).credits_per_usd == 50
    new_markup = PlanMarkup.objects.get(plan="professional", ends_at=None)
    assert (new_markup.multiplier, new_markup.created_by) == (Decimal("1.3"), staff_client.staff)
