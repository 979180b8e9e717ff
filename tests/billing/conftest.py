"""Fixtures shared by the billing tests."""

from tests.billing.purchase_fixtures import package, stripe_stub  # noqa: F401
