from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("billing.api_urls")),
    path("", include("accounts.urls")),
    path("", include("billing.urls")),
    path("", include("billing.purchase_urls")),
    path("", include("billing.usage_urls")),
]
