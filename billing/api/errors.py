"""The API's one error shape: {"error": {"code", "message", "details"}}."""

from django.http import JsonResponse

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
