from django.urls import path

from billing import usage_views

urlpatterns = [
    path("o/<slug:slug>/usage/", usage_views.usage, name="usage"),
]
