"""The demo's price catalogue."""

from billing.pricing.sync.prices import sync_prices


def seed_price_catalogue(org, stdout) -> bool:
    """seed_demo: the price catalogue every demo charge needs (idempotent). True if it
    added models or prices."""
    report = sync_prices()
    stdout.write(f"  prices: {report.models_added} AI models and {report.prices_added} prices "
                 f"added, {len(report.differences)} differences from genai-prices")
    return bool(report.models_added or report.prices_added)
