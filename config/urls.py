from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("billing.api.urls")),
    path("v1/", include("billing.api.stripe_urls")),  # Stripe's meter events, drop-in
    path("", include("accounts.urls")),
    path("", include("billing.portal.urls")),
    path("", include("billing.webhooks.urls")),
    path("", include("reporting.urls")),
]

# A transient fault raised outside a view answers 503 too (billing/faults/middleware.py).
handler500 = "billing.faults.middleware.server_error"
