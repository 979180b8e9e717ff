"""Fixtures shared by the auto-topup tests."""

from tests.billing.topup_fixtures import ready  # noqa: F401
