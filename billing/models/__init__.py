from billing.models.ledger import (  # noqa: F401
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
