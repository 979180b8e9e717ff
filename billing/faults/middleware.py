"""The portal's answer to a transient fault: a plain 503 page with Retry-After.

`UnavailableMiddleware` catches a transient error raised by any view (the
portal's, accounts' and the admin's; the API answers in its own JSON shape,
billing/api/errors.py). `server_error`, the project's handler500, does the same
for a fault raised outside a view (a middleware saving the session), and
leaves every other error to Django's 500, logged with its traceback.
The page is rendered without a request context: the header's balance would
need the database that just failed.
"""

import logging
import sys

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from billing.faults.transient import (
    RETRY_AFTER_SECONDS,
    describe,
    is_transient,
    mark_logged,
)

logger = logging.getLogger(__name__)


def unavailable_page() -> HttpResponse:
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class UnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_transient(exception):
            return None  # a bug: Django answers 500 and logs the traceback
        logger.warning("%s %s answered 503: %s", request.method, request.path,
                       describe(exception))
        return mark_logged(unavailable_page())


def server_error(request):
    error = sys.exc_info()[1]
    if error is not None and is_transient(error):  # Django logs it with its traceback
        return unavailable_page()
    return defaults.server_error(request)
