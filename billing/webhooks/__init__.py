"""Stripe webhooks: received, verified, stored once and dispatched."""
