"""Why a posting was refused. Nothing is written for a refused posting."""


class LedgerError(Exception):
    """A posting was refused; nothing was written for it."""

    code = "ledger_error"


class InsufficientCredits(LedgerError):
    code = "insufficient_credits"


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


class NotReversible(LedgerError):
    code = "not_reversible"
