"""Schemas of API v1, for the OpenAPI document (docs/api.md is the guide).

Responses are built by hand for speed and the usage body is parsed by
billing.usage.events, so these describe the contract; they do not enforce it.
"""

from typing import Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from billing.models import ServiceTier, UsageType
from billing.usage.events import KEY_PATTERN, MAX_EVENTS, TEXT_LIMITS
from billing.usage.ingestion.record import CHARGED, DUPLICATE, REJECTED

QUEUED = "queued"


class ErrorBody(Schema):
    code: str
    message: str
    details: list[dict] | dict | None = None


class ErrorOut(Schema):
    error: ErrorBody


class UsageEventIn(Schema):
    # Unknown fields are refused (a typo never goes unnoticed): additionalProperties false.
    model_config = ConfigDict(extra="forbid")

    idempotency_key: str = Field(pattern=f"^{KEY_PATTERN}$")
    type: Literal[tuple(UsageType.values)]
    model: str | None = Field(None, description="ai_tokens: the model, e.g. gpt-4o")
    provider: str | None = Field(None, description="ai_tokens: e.g. openai")
    service_tier: Literal[tuple(ServiceTier.values)] | None = None
    input_tokens: int | None = Field(None, ge=0, description="all input, cached included")
    output_tokens: int | None = Field(None, ge=0, description="all output, reasoning included")
    cached_input_tokens: int | None = Field(None, ge=0)
    cache_write_tokens: int | None = Field(None, ge=0)
    reasoning_tokens: int | None = Field(None, ge=0)
    meter: str | None = Field(None, description="infrastructure: e.g. compute.gpu_seconds")
    quantity: str | None = Field(
        None, description="infrastructure: decimal string or JSON number, > 0, <= 6 places"
    )
    operation: str | None = Field(None, max_length=TEXT_LIMITS["operation"])
    user: str | None = Field(
        None, max_length=TEXT_LIMITS["user"], description="email of the person"
    )
    occurred_at: str | None = Field(
        None, description="ISO 8601 with zone; default now; <= 35 days old, <= 5 min ahead"
    )


class UsageBatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    events: list[UsageEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventError(Schema):
    code: Literal["insufficient_credits", "idempotency_conflict", "invalid_event",
                  "plan_not_eligible"] = Field(
        description="invalid_event and plan_not_eligible: asynchronous events only")
    message: str


class EventResultOut(Schema):
    idempotency_key: str
    status: Literal[QUEUED, CHARGED, DUPLICATE, REJECTED] = Field(
        description="queued: asynchronous, not charged yet")
    credits: str | None
    balance_after: str | None
    error: EventError | None


class UsageBatchOut(Schema):
    results: list[EventResultOut]
    balance: str


class QueuedEventOut(Schema):
    idempotency_key: str
    status: Literal[QUEUED]


class UsageAcceptedOut(Schema):
    results: list[QueuedEventOut]


MODE_PARAMETER = {
    "name": "mode", "in": "query", "required": False,
    "schema": {"type": "string", "enum": ["sync", "async"], "default": "sync"},
    "description": "sync: charged now, 200 with the results; async: stored and answered "
                   "202, charged by workers within seconds (read results by key)",
}


class AlertLevelsOut(Schema):
    warning: str | None
    critical: str | None


class AutoTopupOut(Schema):
    enabled: bool
    threshold: str | None = None
    package: str | None = None
    mode: Literal["fixed", "target"] | None = None
    target_balance: str | None = None
    monthly_cap: str | None = Field(None, description="major units of `currency`")
    currency: str | None = None
    disabled_reason: str | None = Field(None, description="why it turned itself off")


class BalanceOut(Schema):
    organization: str
    balance: str
    in_debt: bool
    low_balance: bool
    alert_levels: AlertLevelsOut
    auto_topup: AutoTopupOut
    runway_days: str | None


ERRORS = {401: ErrorOut, 403: ErrorOut, 503: ErrorOut}  # 503: transient, retry


def inline_schema(model) -> dict:
    """The model's JSON schema with its nested models inlined (no $defs to resolve)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)
