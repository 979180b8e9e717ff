"""Fixtures shared by the API tests: the price catalogue and a funded org's API key."""

import pytest

from tests.billing.usage_fixtures import api_key_for, funded, seed_prices


@pytest.fixture
def prices(db):
    return seed_prices()


@pytest.fixture
def funding():
    """The credits granted to the key's org (funded()'s default); a module overrides it
    where its amounts are worked out from a smaller balance."""
    return 1000


@pytest.fixture
def key(org, prices, funding):
    funded(org, funding)
    return api_key_for(org)
