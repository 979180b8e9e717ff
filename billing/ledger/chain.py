"""The hash chain and request fingerprints (invariants 5 and 7 of docs/ledger.md).

Each entry's hash covers a versioned, canonical encoding of its fields and
the previous entry's hash, so changing any entry breaks the chain from there
on. A fingerprint is a digest of what matters in a request, compared when an
idempotency key comes back.
"""

import hashlib
import json
from datetime import UTC

from billing import money
from billing.models import LedgerEntry

HASH_VERSION = "v1"


def entry_hash(entry: LedgerEntry, previous_hash: str) -> str:
    """SHA-256 over a versioned, canonical encoding of the entry and its predecessor's hash."""
    fields = [
        HASH_VERSION,
        str(entry.account_id),
        str(entry.seq),
        entry.kind,
        money.canonical(entry.amount),
        money.canonical(entry.balance_after),
        entry.actor_type,
        str(entry.actor_user_id or ""),
        str(entry.actor_api_key_id or ""),
        entry.actor_label,
        entry.reason,
        entry.idempotency_key,
        entry.fingerprint,
        str(entry.reverses_id or ""),
        json.dumps(entry.metadata, sort_keys=True, separators=(",", ":"), default=str),
        entry.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        previous_hash,
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def fingerprint_of(*parts) -> str:
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
