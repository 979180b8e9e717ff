"""Refunds Stripe confirmed, of any charge we made (purchases and auto-topups alike)."""
