"""Response headers Django and django-csp do not set (docs/deploy.md, "Security headers").

- Permissions-Policy: the portal uses no camera, microphone, location, payment request
  or other powerful feature, so every page denies them all (to frames as well).
- Cache-Control: no-store on every page for a logged-in person (balances, ledger entries,
  exports, API keys): nothing of theirs stays in a shared or browser cache after logout.
  A view that chose its own Cache-Control keeps it.
"""

from django.utils.cache import patch_cache_control

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "sync-xhr",
        "usb",
        "xr-spatial-tracking",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if "Cache-Control" in response:  # the view chose (the 503 page: no-store already)
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True, private=True)
        return response
