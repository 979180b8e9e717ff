"""Login throttling (django-axes) and password-reset limits: the project's hooks.

Axes counts failed logins of the portal and the admin by account and by client address
(AXES_LOCKOUT_PARAMETERS); after LOGIN_FAILURE_LIMIT failures both are locked for
LOGIN_COOLOFF_MINUTES, the right password included, and each further try restarts the
cool-off. docs/operate.md, "Login throttling": how to unlock someone.
"""

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

from accounts.client_address import client_address
from accounts.rate_limits import over_limit

HOUR = 3600


def login_name(request, credentials) -> str:
    """Axes' key for an account: the address as the login matches it (case-insensitive)."""
    source = credentials or request.POST
    return str(source.get(settings.AXES_USERNAME_FORM_FIELD) or "").strip().lower()


def locked_out(request, original_response=None, credentials=None):
    """The page of a locked login: says when to try again (axes' AXES_LOCKOUT_CALLABLE)."""
    retry_at = timezone.now() + settings.AXES_COOLOFF_TIME
    return render(
        request,
        "registration/locked_out.html",
        {"retry_at": retry_at, "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)},
        status=429,
    )


def password_reset_wait(request, email: str) -> int | None:
    """Seconds to wait before another reset mail for this address or from this client."""
    address = email.strip().lower()
    return over_limit(
        scope="reset-address",
        who=address,
        limit=settings.PASSWORD_RESET_LIMIT_PER_ADDRESS,
        window_seconds=HOUR,
    ) or over_limit(
        scope="reset-client",
        who=client_address(request) or "unknown",
        limit=settings.PASSWORD_RESET_LIMIT_PER_CLIENT,
        window_seconds=HOUR,
    )
