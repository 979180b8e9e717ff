"""Quotes: usage -> cost in credits, pure functions over Decimal, and the per-batch PriceBook."""
