"""`POST /v1/billing/meter_events` as Stripe's API defines it (docs/integrate.md), so code
written for Stripe's meter events reports usage to us unchanged: the official `stripe`
library, its base address set to ours and our API key as its secret key.

Form-encoded `event_name`, `payload[...]`, `identifier` (the idempotency key, shared
with our own API and CloudEvents) and `timestamp` (Unix seconds). The answer is Stripe's
`billing.meter_event` object; every refusal is Stripe's error shape
{"error": {"type", "code", "message", "param"}} with the status Stripe's libraries read
(401 authentication, 403 permission, 429 rate limit, 400 for the rest; a key reused for
another event is an `idempotency_error`), so they raise their own error classes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from billing.api import dropin
from billing.api.views import Throttled
from billing.usage.events import InvalidEvents
from billing.usage.ingestion.record import UsageRefused
from billing.usage.mapped_events import WireEvent, to_usage_events

PARAMS = {"event_name", "identifier", "timestamp"}
CUSTOMER = "stripe_customer_id"
WIRE_FIELDS = {"key": "identifier", "name": "event_name", "time": "timestamp",
               "payload": "payload"}
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z


def stripe_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 error_type: str = "invalid_request_error", **headers) -> JsonResponse:
    error = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    response = JsonResponse({"error": error}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _payload_param(keys: list[str]) -> str:
    return "payload" + "".join(f"[{key}]" for key in keys)


@csrf_exempt
def create_meter_event(request):
    if request.method != "POST":
        return stripe_error(405, f"{request.method} is not allowed: POST a meter event")
    try:
        api_key = dropin.api_key_from(request)
    except Throttled as throttled:
        return stripe_error(429, f"more than {settings.API_RATE_LIMIT_PER_MINUTE} requests a "
                            "minute with this key", code="rate_limit",
                            Retry_After=str(throttled.retry_after))
    if api_key is None:
        return stripe_error(401, "Invalid API Key provided: send an active API key of ours "
                            "as the Bearer token (the stripe library's api_key)")
    organization = api_key.organization
    if not organization.billing_enabled:
        return stripe_error(403, f"credits billing is not part of the "
                            f"{organization.get_plan_display()} plan", code="plan_not_eligible",
                            error_type="invalid_request_error")
    mode = dropin.mode_of(request)
    if mode is None:
        return stripe_error(400, "mode must be sync (the default) or async", param="mode",
                            code="parameter_invalid")
    try:
        form = request.POST
    except RequestDataTooBig:
        return stripe_error(413, "the request body is too large")
    params, payload, unknown = _read_form(form)
    if unknown:
        return stripe_error(400, f"Received unknown parameter: {unknown[:100]}",
                            param=unknown[:100], code="parameter_unknown")
    if not params.get("event_name"):
        return stripe_error(400, "Missing required param: event_name.", param="event_name",
                            code="parameter_missing")
    customer = payload.get(CUSTOMER)
    if not isinstance(customer, str) or not customer:
        return stripe_error(400, f"Missing required param: payload[{CUSTOMER}].",
                            param=f"payload[{CUSTOMER}]", code="parameter_missing")
    if customer not in dropin.OrgNames(organization):
        return stripe_error(400, f"No such customer: {customer[:100]!r} (send the slug or "
                            "Stripe customer id of the API key's organisation)",
                            param=f"payload[{CUSTOMER}]", code="resource_missing")
    occurred_at = None
    if "timestamp" in params:
        occurred_at = _timestamp(params["timestamp"])
        if occurred_at is None:
            return stripe_error(400, "Invalid integer: timestamp must be Unix seconds",
                                param="timestamp", code="parameter_invalid_integer")
    key = (params.get("identifier") or request.headers.get("Idempotency-Key")
           or f"mev_{uuid.uuid4().hex}")
    mapped = to_usage_events([WireEvent(key=key, name=params["event_name"], payload=payload,
                                        occurred_at=occurred_at, fields=WIRE_FIELDS,
                                        path_field=_payload_param)])
    try:
        outcome = dropin.ingest(api_key=api_key, mapped=mapped, mode=mode)
    except InvalidEvents as error:
        first = error.details[0]
        more = f" ({len(error.details) - 1} more problem(s))" if len(error.details) > 1 else ""
        return stripe_error(400, f"{first['field']} {first['message']}{more}",
                            param=first["field"] or None, code="parameter_invalid")
    except UsageRefused as error:
        return stripe_error(error.status, str(error), code=error.code)
    for _, rejection in outcome.rejections:
        if rejection["code"] == "idempotency_conflict":
            return stripe_error(400, rejection["message"], param="identifier",
                                code=rejection["code"], error_type="idempotency_error")
        return stripe_error(400, rejection["message"], code=rejection["code"])
    now = timezone.now()
    return JsonResponse({
        "object": "billing.meter_event",
        "created": int(now.timestamp()),
        "event_name": params["event_name"],
        "identifier": key,
        "livemode": True,  # the credits are real
        "payload": payload,
        "timestamp": int((occurred_at or now).timestamp()),
    })


def _read_form(form) -> tuple[dict, dict, str]:
    """The top-level params, the payload (nested as `payload[a][b]` says) and the first
    name that is neither (empty if none)."""
    params, payload = {}, {}
    for name in form:
        value = form.get(name)
        if name in PARAMS:
            params[name] = value
        elif name.startswith("payload[") and name.endswith("]"):
            keys = name[len("payload["):-1].split("][")
            node = payload
            for part in keys[:-1]:
                node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
            node[keys[-1]] = value
        else:
            return params, payload, name
    return params, payload, ""


def _timestamp(text: str) -> datetime | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_TIMESTAMP:
        return None
    return datetime.fromtimestamp(int(text), tz=UTC)
