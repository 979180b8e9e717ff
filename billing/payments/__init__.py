"""Payments: the provider port and its adapters (Stripe, the local test provider)."""
