"""The reporting pages of the org portal."""

from django.urls import path

from reporting import views

urlpatterns = [
    path("o/<slug:slug>/usage/", views.usage, name="usage"),
]
