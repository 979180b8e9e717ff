"""HTTP API v1 (design.md, "HTTP API v1"): usage events and the balance.

Every error, the framework's own included, has the shape
{"error": {"code", "message", "details"}}. The usage body is parsed here, not
by ninja, so the order of refusals is exactly the contract's (401, 403, 400,
413, 422) and every JSON number becomes a Decimal, never a float.
"""

from __future__ import annotations

import logging
from typing import Literal

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from ninja import Field, NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from accounts.services import authenticate_api_key
from billing.api import balance as balance_status
from billing.usage.events import MAX_EVENTS, InvalidEvents, loads
from billing.usage.ingestion import PlanNotEligible, UsageRefused, record_usage

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_request", 429: "throttled",
}


def error_response(status: int, code: str, message: str, details=None, **headers) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`: an active key of any org (plan checked per view)."""

    def authenticate(self, request, token):
        return authenticate_api_key(token.strip())


api = NinjaAPI(
    title="Credits billing API",
    version="1",
    description="Report usage events and read the balance. See docs/api.md.",
    auth=ApiKeyAuth(),
    urls_namespace="api_v1",
    docs_url=None,  # ninja's page loads Swagger UI from a CDN; the schema is enough
)


# -- schemas (for the OpenAPI document; responses are built by hand for speed) -----------------

class ErrorBody(Schema):
    code: str
    message: str
    details: list[dict] | dict | None = None


class ErrorOut(Schema):
    error: ErrorBody


class UsageEventIn(Schema):
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,200}$")
    type: Literal["ai_tokens", "infrastructure"]
    model: str | None = Field(None, description="ai_tokens: the model, e.g. gpt-4o")
    provider: str | None = Field(None, description="ai_tokens: e.g. openai")
    service_tier: Literal["", "batch", "flex", "priority"] | None = None
    input_tokens: int | None = Field(None, ge=0, description="all input, cached included")
    output_tokens: int | None = Field(None, ge=0, description="all output, reasoning included")
    cached_input_tokens: int | None = Field(None, ge=0)
    cache_write_tokens: int | None = Field(None, ge=0)
    reasoning_tokens: int | None = Field(None, ge=0)
    meter: str | None = Field(None, description="infrastructure: e.g. compute.gpu_seconds")
    quantity: str | None = Field(
        None, description="infrastructure: decimal string or JSON number, > 0, <= 6 places"
    )
    operation: str | None = Field(None, max_length=100)
    user: str | None = Field(None, max_length=254, description="email of the person")
    occurred_at: str | None = Field(
        None, description="ISO 8601 with zone; default now; <= 35 days old, <= 5 min ahead"
    )


class UsageBatchIn(Schema):
    events: list[UsageEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class EventError(Schema):
    code: Literal["insufficient_credits", "idempotency_conflict"]
    message: str


class EventResultOut(Schema):
    idempotency_key: str
    status: Literal["charged", "duplicate", "rejected"]
    credits: str | None
    balance_after: str | None
    error: EventError | None


class UsageBatchOut(Schema):
    results: list[EventResultOut]
    balance: str


class AlertLevelsOut(Schema):
    warning: str | None
    critical: str | None


class BalanceOut(Schema):
    organization: str
    balance: str
    in_debt: bool
    low_balance: bool
    alert_levels: AlertLevelsOut
    auto_topup: dict
    runway_days: str | None


ERRORS = {401: ErrorOut, 403: ErrorOut}


def _inline_schema(model) -> dict:
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


# -- endpoints ---------------------------------------------------------------------------------

@api.post(
    "/usage-events",
    response={200: UsageBatchOut, 400: ErrorOut, 413: ErrorOut, 422: ErrorOut, **ERRORS},
    openapi_extra={"requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline_schema(UsageBatchIn)}},
    }},
    summary="Report usage events (1 to 1,000)",
)
def post_usage_events(request: HttpRequest):
    api_key = request.auth
    organization = api_key.organization
    if not organization.billing_enabled:
        return _plan_refusal(organization)
    try:
        body = loads(request.body)
    except RequestDataTooBig:
        return error_response(413, "payload_too_large", "the request body is too large")
    except (ValueError, RecursionError) as error:  # JSONDecodeError and bad UTF-8 are ValueErrors
        return error_response(400, "invalid_json", f"the body is not valid JSON: {error}")
    if not isinstance(body, dict) or "events" not in body:
        return _invalid([{"index": None, "field": "events", "message": 'send {"events": [...]}'}])
    events = body["events"]
    extra = sorted(set(body) - {"events"})
    if isinstance(events, list) and len(events) > MAX_EVENTS:
        return error_response(
            413, "too_many_events", f"{len(events)} events: at most {MAX_EVENTS} per request"
        )
    if extra:
        return _invalid([
            {"index": None, "field": str(name)[:60], "message": "is not a field of the request"}
            for name in extra
        ])
    try:
        result = record_usage(organization=organization, events=events, api_key=api_key)
    except InvalidEvents as error:
        return _invalid(error.details)
    except UsageRefused as error:
        return error_response(error.status, error.code, str(error))
    return JsonResponse(result.as_json())


@api.get("/balance", response={200: BalanceOut, **ERRORS}, summary="The balance and runway")
def get_balance(request: HttpRequest):
    organization = request.auth.organization
    if not organization.billing_enabled:
        return _plan_refusal(organization)
    return JsonResponse(balance_status.for_api(organization))


def _plan_refusal(organization) -> JsonResponse:
    return error_response(
        403, PlanNotEligible.code,
        f"credits billing is not part of the {organization.get_plan_display()} plan: "
        "upgrade to Professional or Enterprise",
    )


def _invalid(details: list[dict]) -> JsonResponse:
    return error_response(
        422, InvalidEvents.code,
        f"{len(details)} problem(s) in the request; nothing was recorded", details,
    )


# -- the framework's errors, in our shape ------------------------------------------------------

@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(
        401, "unauthenticated", "send a valid, active API key as 'Authorization: Bearer <key>'",
        WWW_Authenticate="Bearer",
    )


@api.exception_handler(ValidationError)
def _validation(request, exc):
    details = [
        {"index": None, "field": ".".join(str(p) for p in e.get("loc", ())), "message": e["msg"]}
        for e in exc.errors
    ]
    return error_response(422, "invalid_request", "the request is not valid", details)


@api.exception_handler(HttpError)
def _http_error(request, exc):
    code = HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc) or code.replace("_", " "))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(404, "not_found", "no such resource")


@api.exception_handler(Exception)
def _server_error(request, exc):
    logger.exception("API error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "something went wrong on our side; retry later")
