"""What the usage tests share. Modules that price events ask for `prices` in their
pytestmark (`pytest.mark.usefixtures("prices")`), so it is seeded before anything else."""

import pytest

from tests.billing.usage_fixtures import seed_prices


@pytest.fixture
def prices(db):
    """The price list of usage_fixtures: (the gpt-4o model, the GPU-seconds meter)."""
    return seed_prices()
