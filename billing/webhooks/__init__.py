"""Stripe webhooks: received, verified, stored once and dispatched to the handlers each
area registers (`@webhooks.handler(...)`, registry.py)."""

from billing.webhooks.registry import handled_types, handler

__all__ = ["handled_types", "handler"]
