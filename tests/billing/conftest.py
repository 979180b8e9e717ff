"""Fixtures shared by the billing tests."""

from tests.billing.purchase_helpers import package, stripe_stub  # noqa: F401
