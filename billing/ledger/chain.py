"""The keyed hash chain and request fingerprints (invariants 5 and 7 of docs/ledger.md).

Each entry's hash is an HMAC-SHA256, under a key only the application holds (its id in
`key_id`, so keys rotate: LEDGER_CHAIN_KEYS), over a canonical encoding of its fields,
its grant allocations and the previous entry's hash: whoever writes to the database
without the key cannot recompute one. Entries from before the chain was keyed (v1, plain
SHA-256) are accepted only as the start of an account's chain.

The encoding is versioned by the entry's signed `chain_version`: v1 and v2 join fields
with an unescaped unit separator; v3, for new entries, length-prefixes each field. Why
and what each catches: docs/ledger.md.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from billing import money
from billing.models import LedgerEntry

UNKEYED_VERSION = "v1"
SEPARATED_VERSION = "v2"  # keyed, fields joined with the unit separator
KEYED_VERSION = "v3"  # keyed, each field length-prefixed: what new entries use
CHAIN_VERSIONS = (UNKEYED_VERSION, SEPARATED_VERSION, KEYED_VERSION)


class UnknownChainVersion(LookupError):
    """An entry names a chain version this code does not know."""


class UnknownChainKey(LookupError):
    """An entry names a key id that LEDGER_CHAIN_KEYS does not hold."""


_keys_of: tuple[object, dict[str, bytes]] | None = None  # (the setting's value, its keys)


def chain_keys() -> dict[str, bytes]:
    global _keys_of
    configured = settings.LEDGER_CHAIN_KEYS
    if _keys_of is not None and _keys_of[0] is configured:  # once per setting, not per entry
        return _keys_of[1]
    keys = {key_id: secret.encode() for key_id, secret in configured.items()}
    if not keys:
        raise ImproperlyConfigured("LEDGER_CHAIN_KEYS holds no key")
    _keys_of = (configured, keys)
    return keys


def current_key_id() -> str:
    key_id = settings.LEDGER_CHAIN_KEY_ID
    if key_id not in chain_keys():
        raise ImproperlyConfigured(f"LEDGER_CHAIN_KEY_ID {key_id!r} is not in LEDGER_CHAIN_KEYS")
    return key_id


def sign(message: str, *, key_id: str) -> str:
    """HMAC-SHA256 of `message` under the key `key_id` (hex)."""
    try:
        key = chain_keys()[key_id]
    except KeyError:
        raise UnknownChainKey(f"no chain key with id {key_id!r}") from None
    keyed = _keyed.get(key)
    if keyed is None:  # the key's HMAC state, set up once and copied per message
        keyed = _keyed[key] = hmac.new(key, digestmod=hashlib.sha256)
    signer = keyed.copy()
    signer.update(message.encode())
    return signer.hexdigest()


_keyed: dict[bytes, hmac.HMAC] = {}


def metadata_json(metadata: dict) -> str:
    """The canonical JSON of an entry's metadata: hashed, and also what a bulk write
    stores (valid JSON for the jsonb column), so it is encoded once per entry."""
    return json.dumps(metadata, sort_keys=True, separators=(",", ":"), default=str)


def _fields(entry: LedgerEntry, metadata_text: str | None = None) -> list[str]:
    return [
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
        metadata_json(entry.metadata) if metadata_text is None else metadata_text,
        hashed_moment(entry.created_at),
    ]


@lru_cache(maxsize=4)  # a book's entries share one moment: formatted once
def hashed_moment(moment: datetime) -> str:
    """A creation time as hashed: UTC, to the microsecond."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def grant_terms(grant) -> dict:
    """What decides a grant's money, committed in the hashed metadata of the entry that opens
    it (docs/ledger.md): amount, kind, burn-down priority and expiry."""
    expires_at = grant.expires_at
    return {"amount": money.canonical(grant.amount), "kind": str(grant.kind),
            "priority": grant.priority,
            "expires_at": hashed_moment(expires_at) if expires_at is not None else None}


def allocations_text(allocations: Iterable[tuple[int, Decimal]]) -> str:
    """Canonical text of an entry's allocations: (grant id, amount), in grant id order."""
    if not isinstance(allocations, list) or len(allocations) > 1:  # one needs no sorting
        allocations = sorted(allocations)
    return ";".join([f"{grant_id}:{money.canonical(amount)}" for grant_id, amount in allocations])


def chain_version(entry: LedgerEntry) -> str:
    """The encoding that hashed the entry: its column, or for entries written before the
    column (empty) v1 when unkeyed, else v2."""
    if not entry.key_id:
        return UNKEYED_VERSION
    return getattr(entry, "chain_version", "") or SEPARATED_VERSION


def length_prefixed(parts: list[str]) -> str:
    """Each part as `<length>:<text>`: no text, whatever it holds, can pass for a boundary."""
    return "".join([f"{len(part)}:{part}" for part in parts])


def entry_hash(entry: LedgerEntry, previous_hash: str,
               allocations: Iterable[tuple[int, Decimal]] = (),
               metadata_text: str | None = None) -> str:
    """The entry's hash in its own chain version (keyed v3 for new entries; v2 and the
    unkeyed v1 as they were). `metadata_text`: metadata_json(entry.metadata), when the
    caller has it already."""
    version = chain_version(entry)
    if version == UNKEYED_VERSION:
        return hashlib.sha256(
            "\x1f".join([UNKEYED_VERSION, *_fields(entry, metadata_text), previous_hash]).encode()
        ).hexdigest()
    parts = [version, entry.key_id, *_fields(entry, metadata_text),
             allocations_text(allocations), previous_hash]
    if version == KEYED_VERSION:
        return sign(length_prefixed(parts), key_id=entry.key_id)
    if version == SEPARATED_VERSION:
        return sign("\x1f".join(parts), key_id=entry.key_id)
    raise UnknownChainVersion(f"no chain version {version!r}")


def fingerprint_of(*parts) -> str:
    return hashlib.sha256(
        json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
