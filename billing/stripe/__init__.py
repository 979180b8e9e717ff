"""Stripe: the one door to its API (gateway.py) and its webhooks."""
