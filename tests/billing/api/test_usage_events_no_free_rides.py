"""Issue 26, finding 6: usage cannot be made free by choosing a provider or by rounding."""

from decimal import Decimal

import pytest

from billing.models import AIModel, UsageEvent, ZeroPriceAllowance
from billing.pricing.catalogue.changes import change_model_price
from tests.billing.api.usage_requests import post_events as post
from tests.billing.usage_fixtures import EPOCH, gpu_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]
ISSUE_EVENT = {
    "type": "ai_tokens",
    "model": "gpt-4o",
    "provider": "github-copilot",
    "input_tokens": 10_000_000,
    "output_tokens": 10_000_000,
}


@pytest.fixture
def copilot(db):
    """gpt-4o at github-copilot, priced zero upstream (its users pay a subscription)."""
    model = AIModel.objects.create(provider="github-copilot", name="gpt-4o")
    for bucket in ("input", "output"):
        change_model_price(
            model=model, bucket=bucket, price_per_million_usd=Decimal(0), starts_at=EPOCH, now=EPOCH
        )
    return model


def test_a_zero_price_others_charge_for_is_refused_naming_provider(client, key, copilot):
    response = post(client, key, {"idempotency_key": "free-ride", **ISSUE_EVENT})
    assert response.status_code == 422, response.content
    [detail] = response.json()["error"]["details"]
    assert detail["field"] == "provider"
    assert "'github-copilot' prices 'gpt-4o' at zero" in detail["message"]
    assert not UsageEvent.objects.exists()


def test_the_same_tokens_at_the_paying_provider_are_charged(client, key, copilot):
    event = {**ISSUE_EVENT, "provider": "openai", "input_tokens": 100_000, "output_tokens": 10_000}
    response = post(client, key, {"idempotency_key": "paid", **event})
    assert response.json()["results"][0]["credits"] == "42.000000"  # $0.35 x 1.2 x 100


def test_staff_can_allow_the_zero_price_for_one_org(client, key, org, other_org, copilot):
    ZeroPriceAllowance.objects.create(
        organization=org, provider="github-copilot", reason="Copilot seats billed separately"
    )
    response = post(client, key, {"idempotency_key": "allowed", **ISSUE_EVENT})
    assert response.status_code == 200
    assert response.json()["results"][0]["credits"] == "0.000000"


def test_a_model_free_everywhere_stays_free(client, key, copilot):
    AIModel.objects.filter(provider="openai", name="gpt-4o").update(active=False)
    response = post(client, key, {"idempotency_key": "free-model", **ISSUE_EVENT})
    assert response.status_code == 200
    assert response.json()["results"][0]["credits"] == "0.000000"


@pytest.mark.parametrize(
    ("quantity", "credits"),
    [
        ("0.000001", "0.000001"),  # $0.0000000005 x 1.2 x 100 = 0.00000006: rounded to zero before
        ("0.000008", "0.000001"),  # 0.00000048, rounds half up to zero
        ("0.000009", "0.000001"),  # 0.00000054, rounds to 0.000001 anyway
        ("0.001", "0.000060"),  # above a millionth: rounded as always
    ],
)
def test_a_tiny_billable_quantity_costs_at_least_a_millionth(client, key, quantity, credits):
    response = post(client, key, gpu_event("tiny", quantity=quantity))
    assert response.status_code == 200
    assert response.json()["results"][0]["credits"] == credits
