"""What the PriceBook's tests share: the clock of the synced catalogue, and the sync."""

from datetime import UTC, datetime

import pytest

from billing.pricing.sync.prices import sync_prices

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


@pytest.fixture
def synced(db):
    sync_prices(providers=["openai", "anthropic"], now=NOW)
