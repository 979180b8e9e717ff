"""The client's address as the throttles see it (docs/deploy.md, TRUSTED_PROXY_COUNT).

Behind N trusted proxies that each append to X-Forwarded-For (nginx's
$proxy_add_x_forwarded_for), the client is the N-th address from the right; the ones
to its left were written by the client and are not trusted. Without proxies it is
REMOTE_ADDR, and a forwarded header is ignored.
"""

from django.conf import settings


def client_address(request) -> str | None:
    """None when the request has no address at all (a test client's bare request)."""
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-hops] if len(forwarded) >= hops else remote
