"""Fixtures shared by the billing tests."""

from tests.billing.purchase_fixtures import package, paid, stripe_stub  # noqa: F401
from tests.billing.redis_fixtures import redis_db  # noqa: F401
from tests.billing.topup_fixtures import credited_topup  # noqa: F401
