"""Monthly budgets through API v1 (docs/api.md, "Budgets"): GET /api/v1/budgets lists them
with this month's use; PUT /api/v1/budgets sets one (or clears it with a null limit).

A key may read every budget of its org but not change its own: a budget is how an admin
stops a runaway key, and that key must not be able to lift it (403 `own_budget`).
The body is parsed here, like the usage body, so numbers are Decimals, never floats.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from ninja import Router

from billing.api.errors import error_response
from billing.api.schemas import ERRORS, BudgetIn, BudgetsOut, ErrorOut, inline_schema
from billing.budgets.selectors import budgets_json
from billing.budgets.services import (
    BudgetError,
    api_key_subject,
    clear_budget,
    set_budget,
    user_subject,
)
from billing.usage.events import loads
from billing.usage.ingestion.record import PlanNotEligible

router = Router(tags=["budgets"])
FIELDS = ("api_key", "user", "monthly_limit")


@router.get("", response={200: BudgetsOut, **ERRORS}, summary="Monthly budgets and their use",
            operation_id="billing_api_get_budgets")
def get_budgets(request: HttpRequest):
    organization = request.auth.organization
    if not organization.billing_enabled:
        return _plan_refusal(organization)
    return JsonResponse(budgets_json(organization))


@router.put(
    "", response={200: BudgetsOut, 400: ErrorOut, 422: ErrorOut, **ERRORS},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": inline_schema(BudgetIn)}}}},
    summary="Set (or, with a null monthly_limit, clear) the budget of an API key or a user",
    operation_id="billing_api_put_budget")
def put_budget(request: HttpRequest):
    api_key = request.auth
    organization = api_key.organization
    if not organization.billing_enabled:
        return _plan_refusal(organization)
    try:
        body = loads(request.body)
    except (ValueError, RecursionError) as error:
        return error_response(400, "invalid_json", f"the body is not valid JSON: {error}")
    if not isinstance(body, dict):
        return _invalid("body", 'send {"api_key" or "user", "monthly_limit"}')
    if unknown := sorted(set(body) - set(FIELDS)):
        return _invalid(str(unknown[0])[:60], "is not a field of the request")
    if (body.get("api_key") is None) == (body.get("user") is None):
        return _invalid("api_key", "name exactly one of api_key (its prefix) and user")
    if "monthly_limit" not in body:
        return _invalid("monthly_limit", "required: credits a month, or null to clear")
    try:
        if body.get("api_key") is not None:
            subject = api_key_subject(organization=organization, prefix=str(body["api_key"]))
            if subject.api_key.pk == api_key.pk:
                return error_response(403, "own_budget",
                                      "a key cannot change its own budget: ask an org admin")
        else:
            subject = user_subject(str(body["user"]))
        via = f"API key {api_key.name}"
        if body["monthly_limit"] is None:
            clear_budget(organization=organization, subject=subject, actor=None, via=via)
        else:
            set_budget(organization=organization, subject=subject,
                       monthly_limit=body["monthly_limit"], actor=None, via=via)
    except BudgetError as error:
        return _invalid(error.field, error.message)
    return JsonResponse(budgets_json(organization))


def _invalid(field: str, message: str) -> JsonResponse:
    return error_response(422, "invalid_request", f"{field}: {message}; nothing was changed",
                          [{"index": None, "field": field, "message": message}])


def _plan_refusal(organization) -> JsonResponse:
    return error_response(
        403, PlanNotEligible.code,
        f"credits billing is not part of the {organization.get_plan_display()} plan: "
        "upgrade to Professional or Enterprise")
