"""Staff admin for billing, one module per area."""

from billing.admin import ledger  # noqa: F401
