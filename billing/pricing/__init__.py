"""Pricing, in three parts that import one way (quotes -> catalogue <- sync):
catalogue/ (AI models, match rules, name resolution, meters, staff price changes),
quotes/ (usage -> credits, pure functions over Decimal) and sync/ (genai-prices)."""
