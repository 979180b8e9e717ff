"""Stripe's paths we answer, mounted at /v1/ by config/urls.py (docs/integrate.md)."""

from django.urls import path

from billing.api.stripe_meter_events import create_meter_event

urlpatterns = [
    path("billing/meter_events", create_meter_event, name="stripe_meter_events"),
]
