"""The app's URLs plus `GET /bench/floor`: the web floor's endpoint (bench/web_floor.py).

The floor is what every API request pays at least: Django's middleware, the
API's real key authentication (ninja's bearer auth and the key lookup), one
trivial query and a small JSON response.
"""

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from ninja import NinjaAPI

from billing.api.views import ApiKeyAuth
from config.urls import urlpatterns as app_urlpatterns

floor_api = NinjaAPI(urls_namespace="bench_floor", auth=ApiKeyAuth(), docs_url=None,
                     openapi_url=None)


@floor_api.get("/floor")
def floor(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"organization": request.auth.organization.slug})


urlpatterns = [path("bench/", floor_api.urls), *app_urlpatterns]
