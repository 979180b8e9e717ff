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


class BudgetRefusalOut(Schema):
    kind: Literal["api_key", "user"]
    name: str = Field(description="the API key's name or the user's email")
    monthly_limit: str
    used: str = Field(description="credits used this month before the refused event")


class EventError(Schema):
    code: Literal["insufficient_credits", "budget_exceeded", "idempotency_conflict",
                  "invalid_event", "plan_not_eligible"] = Field(
        description="invalid_event and plan_not_eligible: asynchronous events only")
    message: str
    budget: BudgetRefusalOut | None = Field(None, description="budget_exceeded: which budget")


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


class BudgetKeyOut(Schema):
    prefix: str
    name: str


class BudgetOut(Schema):
    kind: Literal["api_key", "user"]
    api_key: BudgetKeyOut | None
    user: str | None
    monthly_limit: str
    used: str = Field(description="credits charged against it this UTC month")
    remaining: str


class BudgetsOut(Schema):
    month: str = Field(description="the UTC month, YYYY-MM")
    budgets: list[BudgetOut]


class BudgetIn(Schema):
    model_config = ConfigDict(extra="forbid")

    api_key: str | None = Field(None, description="the key's prefix (one of api_key, user)")
    user: str | None = Field(None, description="the user's email, as events send it")
    monthly_limit: str | None = Field(
        description="credits a month, a decimal string; null clears the budget")


class BalanceOut(Schema):
    organization: str
    balance: str
    in_debt: bool
    low_balance: bool
    alert_levels: AlertLevelsOut
    auto_topup: AutoTopupOut
    runway_days: str | None
    budgets: list[BudgetOut]


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
