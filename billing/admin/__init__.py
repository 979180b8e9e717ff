"""Staff admin for billing, one module per area."""

from billing.admin import (
    budgets,  # noqa: F401
    disputes,  # noqa: F401
    event_mappings,  # noqa: F401
    ledger,  # noqa: F401
    model_names,  # noqa: F401
    pricing,  # noqa: F401
    purchases,  # noqa: F401
    topups,  # noqa: F401
    usage,  # noqa: F401
)
