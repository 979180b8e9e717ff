from billing.models.alerts import AlertSettings, Notification, NotificationKind  # noqa: F401
from billing.models.budgets import Budget, BudgetKind, BudgetMonth  # noqa: F401
from billing.models.cutover import LedgerCutover  # noqa: F401
from billing.models.digests import LedgerDigest  # noqa: F401
from billing.models.disputes import Dispute, DisputeStatus  # noqa: F401
from billing.models.event_mappings import EventMapping  # noqa: F401
from billing.models.ledger import (  # noqa: F401
    DEFAULT_PRIORITY,
    GRANT_KIND_RANK,
    ActorType,
    CreditAccount,
    CreditGrant,
    EntryKind,
    GrantAllocation,
    GrantKind,
    ImmutableLedgerError,
    LedgerEntry,
)
from billing.models.pricing import (  # noqa: F401
    AIModel,
    AIProvider,
    CreditRate,
    Meter,
    MeterCategory,
    MeterPrice,
    ModelCatalogueVersion,
    ModelPrice,
    PlanMarkup,
    PriceSource,
    ServiceTier,
    UsageBucket,
    ZeroPriceAllowance,
)
from billing.models.purchases import (  # noqa: F401
    CreditPackage,
    PaymentProvider,
    Purchase,
    PurchaseStatus,
    StripeCustomer,
    StripeEvent,
)
from billing.models.topups import (  # noqa: F401
    AutoTopupSettings,
    SavedCard,
    TopupAttempt,
    TopupMode,
    TopupStatus,
    TryState,
)
from billing.models.usage import DailyUsage, UsageEvent, UsageType  # noqa: F401
from billing.models.usage_queue import QueuedUsageEvent, QueueStatus  # noqa: F401
