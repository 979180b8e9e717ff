"""URLs of API v1, mounted at /api/v1/ by config/urls.py.

Django answers a wrong method or path before ninja's exception handlers see
it, so both get our error shape here: 405s (and the 404 of ninja's root
view) are rewritten, and any other path under /api/v1/ is a JSON 404.
"""

from django.http import Http404
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from billing.api.cloudevents import ingest_events
from billing.api.errors import error_response
from billing.api.views import api


def _json_errors(view):
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:  # ninja's root view raises it outside its own handlers
            return not_found(request)
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
            allowed = response.get("Allow", "")
            return error_response(
                405, "method_not_allowed", f"{request.method} is not allowed here",
                {"allowed": [m.strip() for m in allowed.split(",") if m.strip()]}, Allow=allowed,
            )
        return response

    wrapper.csrf_exempt = getattr(view, "csrf_exempt", False)
    return wrapper


def _wrap(patterns):
    for pattern in patterns:
        pattern.callback = _json_errors(pattern.callback)
    return patterns


@csrf_exempt
def not_found(request, rest=""):
    return error_response(404, "not_found", f"no API endpoint at {request.path}")


_patterns, _app, _namespace = api.urls
urlpatterns = [
    path("events", ingest_events, name="cloudevents"),  # OpenMeter's ingest, drop-in
    path("", (_wrap(_patterns), _app, _namespace)),
    re_path(r"^(?P<rest>.*)$", not_found),
]
