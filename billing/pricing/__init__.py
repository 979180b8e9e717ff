"""Pricing: quotes (pure functions over Decimal), staff price changes, the genai-prices sync."""
