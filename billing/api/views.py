"""HTTP API v1 (the contract: docs/api.md): usage events (charged now, or queued with
?mode=async), an event's result by key, the balance, and budgets (budgets.py).

Every error, the framework's own included, has the shape
{"error": {"code", "message", "details"}}. The usage body is parsed here, not
by ninja, so the order of refusals is exactly the contract's (401, 403, 400,
413, 422) and every JSON number becomes a Decimal, never a float.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from accounts.rate_limits import over_limit
from accounts.services import authenticate_api_key
from billing.api import balance, budgets
from billing.api.errors import HTTP_CODES, error_response, unavailable_response
from billing.api.schemas import (
    ERRORS,
    MODE_PARAMETER,
    BalanceOut,
    ErrorOut,
    EventResultOut,
    UsageAcceptedOut,
    UsageBatchIn,
    UsageBatchOut,
    inline_schema,
)
from billing.faults.transient import describe, is_transient, mark_logged
from billing.usage.events import MAX_EVENTS, InvalidEvents, loads
from billing.usage.ingestion.record import PlanNotEligible, UsageRefused, record_usage
from billing.usage.queue.intake import accept_usage
from billing.usage.queue.selectors import event_result

logger = logging.getLogger(__name__)


class Throttled(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`: an active key of any org (plan checked per view),
    within API_RATE_LIMIT_PER_MINUTE requests a minute (docs/api.md, "Rate limit")."""

    def authenticate(self, request, token):
        api_key = authenticate_api_key(token.strip())
        if api_key is not None:
            wait = over_limit(scope="api-key", who=str(api_key.pk),
                              limit=settings.API_RATE_LIMIT_PER_MINUTE, window_seconds=60)
            if wait is not None:
                raise Throttled(wait)
        return api_key


api = NinjaAPI(
    title="Credits billing API",
    version="1",
    description="Report usage events and read the balance. See docs/api.md.",
    auth=ApiKeyAuth(),
    urls_namespace="api_v1",
    docs_url=None,  # ninja's page loads Swagger UI from a CDN; the schema is enough
)
api.add_router("/budgets", budgets.router)


MODES = ("sync", "async")


@api.post(
    "/usage-events",
    response={200: UsageBatchOut, 202: UsageAcceptedOut, 400: ErrorOut, 413: ErrorOut,
              422: ErrorOut, **ERRORS},
    openapi_extra={"requestBody": {
        "required": True,
        "content": {"application/json": {"schema": inline_schema(UsageBatchIn)}},
    }, "parameters": [MODE_PARAMETER]},
    summary="Report usage events (1 to 1,000); ?mode=async queues them (202)",
    operation_id="billing_api_post_usage_events",  # stable for generated clients
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
    # Reported with the events' own problems, so one 422 lists everything wrong.
    request_problems = [
        {"index": None, "field": str(name)[:60], "message": "is not a field of the request"}
        for name in extra
    ]
    mode = request.GET.get("mode", "sync")
    if mode not in MODES:
        request_problems.append(
            {"index": None, "field": "mode", "message": "must be sync (the default) or async"})
    try:
        if mode == "async":
            keys = accept_usage(organization=organization, events=events, api_key=api_key,
                                request_problems=request_problems)
            return JsonResponse({"results": [
                {"idempotency_key": key, "status": "queued"} for key in keys
            ]}, status=202)
        result = record_usage(organization=organization, events=events, api_key=api_key,
                              request_problems=request_problems)
    except InvalidEvents as error:
        return _invalid(error.details)
    except UsageRefused as error:
        return error_response(error.status, error.code, str(error))
    # The text of JsonResponse(result.as_json()), written without 1,000 dicts.
    return HttpResponse(result.json_text(), content_type="application/json")


@api.get("/usage-events/{key}", response={200: EventResultOut, 404: ErrorOut, **ERRORS},
         summary="The result of a usage event, by its idempotency key",
         operation_id="billing_api_get_usage_event")
def get_usage_event(request: HttpRequest, key: str):
    organization = request.auth.organization
    if not organization.billing_enabled:
        return _plan_refusal(organization)
    result = event_result(organization=organization, key=key)
    if result is None:
        return error_response(404, "not_found", f"no usage event with key {key!r}")
    return JsonResponse(result.as_json())


@api.get("/balance", response={200: BalanceOut, **ERRORS}, summary="The balance and runway",
         operation_id="billing_api_get_balance")
def get_balance(request: HttpRequest):
    organization = request.auth.organization
    if not organization.billing_enabled:
        return _plan_refusal(organization)
    return JsonResponse(balance.for_api(organization))


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


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(
        401, "unauthenticated", "send a valid, active API key as 'Authorization: Bearer <key>'",
        WWW_Authenticate="Bearer",
    )


@api.exception_handler(Throttled)
def _throttled(request, exc):
    return error_response(
        429, "rate_limited",
        f"more than {settings.API_RATE_LIMIT_PER_MINUTE} requests a minute with this key: "
        "send the same request again after Retry-After seconds",
        Retry_After=str(exc.retry_after),
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
    if is_transient(exc):
        logger.warning("API %s %s answered 503: %s", request.method, request.path, describe(exc))
        return mark_logged(unavailable_response())
    logger.exception("API error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "something went wrong on our side; retry later")
