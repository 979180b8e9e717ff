"""A small price catalogue and event builders shared by the usage tests."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from django.test import Client

from accounts.services import create_api_key
from billing.models import AIModel, DailyUsage, Meter
from billing.pricing.catalogue.changes import (
    change_credit_rate,
    change_meter_price,
    change_model_price,
    change_plan_markup,
)
from tests.billing.postings import grant

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
RATE = Decimal("100")  # credits per USD
MARKUP = Decimal("1.2")  # Professional


def seed_prices():
    """gpt-4o at OpenAI's list prices, one GPU meter, 100 credits/USD, Professional x1.2."""
    gpt = AIModel.objects.create(provider="openai", name="gpt-4o")
    for bucket, price in (("input", "2.5"), ("cached_input", "1.25"), ("output", "10")):
        change_model_price(model=gpt, bucket=bucket, price_per_million_usd=Decimal(price),
                           starts_at=EPOCH, now=EPOCH)
    gpu = Meter.objects.create(code="compute.gpu_seconds", category="compute", unit="GPU second")
    change_meter_price(meter=gpu, price_per_unit_usd=Decimal("0.0005"), starts_at=EPOCH, now=EPOCH)
    egress = Meter.objects.create(code="bandwidth.egress_gb", category="bandwidth", unit="GB")
    change_meter_price(meter=egress, price_per_unit_usd=Decimal("0.09"), starts_at=EPOCH, now=EPOCH)
    change_credit_rate(credits_per_usd=RATE, starts_at=EPOCH, now=EPOCH)
    change_plan_markup(plan="professional", multiplier=MARKUP, starts_at=EPOCH, now=EPOCH)
    change_plan_markup(plan="enterprise", multiplier=Decimal("1.1"), starts_at=EPOCH, now=EPOCH)
    return gpt, gpu


def ai_event(key, **extra):
    event = {"idempotency_key": key, "type": "ai_tokens", "model": "gpt-4o",
             "input_tokens": 1000, "output_tokens": 100}
    event.update(extra)
    return event


def gpu_event(key, quantity="120.5", **extra):
    event = {"idempotency_key": key, "type": "infrastructure", "meter": "compute.gpu_seconds",
             "quantity": quantity}
    event.update(extra)
    return event


# gpt-4o, 1,000 input + 100 output: $0.0035 -> x1.2 x100 = 0.42 credits.
AI_CREDITS = Decimal("0.42")
# 120.5 GPU seconds: $0.06025 -> 7.23 credits.
GPU_CREDITS = Decimal("7.23")


def funded(org, amount=1000):
    grant(org, amount)
    return org


def api_key_for(org, name="tests"):
    return create_api_key(organization=org, name=name, created_by=None)


def rollup_row(org, day, credits, **dims):
    """One row of the daily rollup, as the ingestion service would have summed it."""
    values = {"usage_type": "ai_tokens", "resource": "gpt-4o", "operation": "",
              "user_label": "", **dims}
    return DailyUsage.objects.create(organization=org, day=day, event_count=1,
                                     credits=Decimal(credits), **values)


def write_lines(tmp_path, lines, name="usage.jsonl") -> str:
    """A JSON-lines file for import_usage: dicts as JSON, strings as they are (bad lines)."""
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line)
                              for line in lines) + "\n")
    return str(path)


def statuses(result) -> list[str]:
    """The statuses of a record_usage BatchResult, in order."""
    return [r.status for r in result.results]


def post_events(raw_key, events):
    """Post a batch through the API, as a client would (its own test client, so threads
    each have one); the answer's body."""
    response = Client().post(
        "/api/v1/usage-events", data=json.dumps({"events": events}),
        content_type="application/json", headers={"Authorization": f"Bearer {raw_key}"},
    )
    assert response.status_code == 200, response.content
    return response.json()
