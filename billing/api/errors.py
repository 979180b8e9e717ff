"""The API's one error shape: {"error": {"code", "message", "details"}}."""

from django.http import JsonResponse

from billing.faults.transient import RETRY_AFTER_SECONDS

HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_request", 429: "throttled", 503: "unavailable",
}


def error_response(status: int, code: str, message: str, details=None, **headers) -> JsonResponse:
    response = JsonResponse(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def unavailable_response() -> JsonResponse:
    """503 for a transient fault (billing/faults/transient.py): retry the same request."""
    return error_response(
        503, "unavailable",
        "the service is briefly unavailable (a database or queue fault): send the same "
        "request again after Retry-After seconds; the same idempotency keys never charge twice",
        Retry_After=str(RETRY_AFTER_SECONDS),
    )
