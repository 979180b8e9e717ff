"""Stripe's door into the app: the webhook endpoint."""

from django.urls import path

from billing.webhooks import views

urlpatterns = [
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
