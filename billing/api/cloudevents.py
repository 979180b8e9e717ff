"""`POST /api/v1/events` as OpenMeter ingests CloudEvents, so code written for OpenMeter
(its client, or the `cloudevents` package) reports usage to us unchanged, with our API key
as the bearer token.

One event (`application/cloudevents+json`) or up to 1,000
(`application/cloudevents-batch+json`, or `application/json` with a list): `id` is the
idempotency key shared with our own API and Stripe's shape, `subject` the key's own org,
`type` a meter code or a mapped name. Accepted: 204, as OpenMeter answers; refused: a
problem document carrying our error object. The fields, statuses and errors:
docs/integrate.md.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from billing.api import dropin
from billing.api.views import Throttled
from billing.usage.events import MAX_EVENTS, InvalidEvents, loads, problem
from billing.usage.ingestion.record import UsageRefused
from billing.usage.mapped_events import WireEvent, to_usage_events

ONE, BATCH, JSON = ("application/cloudevents+json", "application/cloudevents-batch+json",
                    "application/json")
WIRE_FIELDS = {"key": "id", "name": "type", "time": "time", "payload": "data"}
REQUIRED = ("specversion", "id", "source", "type", "subject")
TITLES = {400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
          405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
          415: "Unsupported Media Type", 429: "Too Many Requests"}


def problem_response(status: int, code: str, message: str, details=None,
                     **headers) -> JsonResponse:
    """OpenMeter's problem document with our error object inside."""
    response = JsonResponse(
        {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
         "detail": message, "error": {"code": code, "message": message, "details": details}},
        status=status, content_type="application/problem+json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


@csrf_exempt
def ingest_events(request):
    if request.method != "POST":
        return problem_response(405, "method_not_allowed", f"{request.method} is not allowed",
                                Allow="POST")
    try:
        api_key = dropin.api_key_from(request)
    except Throttled as throttled:
        return problem_response(
            429, "rate_limited", f"more than {settings.API_RATE_LIMIT_PER_MINUTE} requests a "
            "minute with this key", Retry_After=str(throttled.retry_after))
    if api_key is None:
        return problem_response(401, "unauthenticated", "send a valid, active API key as "
                                "'Authorization: Bearer <key>'", WWW_Authenticate="Bearer")
    organization = api_key.organization
    if not organization.billing_enabled:
        return problem_response(403, "plan_not_eligible", "credits billing is not part of the "
                                f"{organization.get_plan_display()} plan")
    content_type = request.content_type
    if content_type not in (ONE, BATCH, JSON):
        return problem_response(415, "unsupported_media_type",
                                f"send {ONE} (one event) or {BATCH} (a list)")
    mode = dropin.mode_of(request)
    if mode is None:
        return problem_response(400, "invalid_events", "mode must be sync or async",
                                [problem(None, "mode", "must be sync (the default) or async")])
    try:
        body = loads(request.body)
    except RequestDataTooBig:
        return problem_response(413, "payload_too_large", "the request body is too large")
    except (ValueError, RecursionError) as error:
        return problem_response(400, "invalid_json", f"the body is not valid JSON: {error}")
    if content_type == BATCH or (content_type == JSON and isinstance(body, list)):
        if not isinstance(body, list):
            return _invalid([problem(None, "", "a batch must be a JSON list of events")])
        if len(body) > MAX_EVENTS:
            return problem_response(413, "too_many_events",
                                    f"{len(body)} events: at most {MAX_EVENTS} per request")
        if not body:
            return _invalid([problem(None, "", "must hold 1 to 1000 events")])
        events = body
    else:
        events = [body]
    problems = []
    names = dropin.OrgNames(organization)  # once per request, not per event
    wire = [_read(index, event, names, problems) for index, event in enumerate(events)]
    mapped = to_usage_events(wire)
    mapped.problems[:0] = problems
    try:
        outcome = dropin.ingest(api_key=api_key, mapped=mapped, mode=mode)
    except InvalidEvents as error:
        return _invalid(error.details)
    except UsageRefused as error:
        return problem_response(error.status, error.code, str(error))
    if rejections := outcome.rejections:
        codes = sorted({error["code"] for _, error in rejections})
        code = codes[0] if len(codes) == 1 else "events_rejected"
        return problem_response(
            outcome.status_of_rejections(), code,
            f"{len(rejections)} of {len(events)} event(s) refused ({', '.join(codes)}); the "
            "others were charged", [r.as_json() for r in outcome.result.results])
    return HttpResponse(status=204)


def _read(index: int, event, names: dropin.OrgNames, problems: list) -> WireEvent:
    """The CloudEvent's attributes as a wire event; problems of its envelope appended."""
    if not isinstance(event, dict):
        problems.append(problem(index, "", "each event must be a JSON object"))
        return WireEvent(key=None, name=None, payload=None, fields=WIRE_FIELDS)
    for name in REQUIRED:
        if not isinstance(event.get(name), str) or not event[name]:
            problems.append(problem(index, name, "is required" if event.get(name) is None
                                    else "must be a non-empty string"))
    if isinstance(event.get("specversion"), str) and event["specversion"] != "1.0":
        problems.append(problem(index, "specversion", "must be 1.0"))
    subject = event.get("subject")
    if isinstance(subject, str) and subject and subject not in names:
        problems.append(problem(index, "subject", f"{subject[:100]!r} is not the API key's "
                                "organisation (send its slug or Stripe customer id)"))
    data = event.get("data")
    if data is None:
        data = {}
    return WireEvent(key=event.get("id"), name=event.get("type"), payload=data,
                     occurred_at=event.get("time"), fields=WIRE_FIELDS, path_field=_data_field)


def _data_field(keys: list[str]) -> str:
    return ".".join(["data", *keys])


def _invalid(details: list[dict]) -> JsonResponse:
    return problem_response(400, InvalidEvents.code, f"{len(details)} problem(s) in the "
                            "request; nothing was recorded", details)
