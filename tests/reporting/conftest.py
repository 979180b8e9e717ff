"""Fixtures shared by the reporting tests."""

from tests.billing.purchase_fixtures import package  # noqa: F401
