"""The signed cut-over: which unkeyed (v1) entries the keyed chain accepts (docs/ledger.md).

`seal` records it once: the first keyed entry, and per account whose chain starts
unkeyed the count of those entries and the last one's hash (each v1 hash covers
its predecessor's, so that commits to all of them), signed with the chain key.
verify_ledger accepts an unkeyed entry only inside what the signed row sealed: a
plain SHA-256 chain written later, even under an id below the cut-over's, is not.
"""

import json
from datetime import UTC, datetime

from django.db.models import Count, Max

from billing.ledger.chain import UnknownChainKey, current_key_id, sign


def content(created_at: datetime, first_keyed_entry_id: int | None, sealed: dict) -> str:
    """The canonical text the cut-over's signature covers."""
    return json.dumps({"created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
                       "first_keyed_entry_id": first_keyed_entry_id, "sealed": sealed},
                      sort_keys=True, separators=(",", ":"))


def unkeyed_heads(entries) -> dict[str, list]:
    """{account id: [unkeyed entries, hash of the last one]} from a LedgerEntry manager
    (the migration's historical one, or the model's)."""
    unkeyed = entries.filter(key_id="")
    counts, last = {}, {}
    for account_id, count, seq in (unkeyed.values_list("account_id")
                                   .annotate(count=Count("id"), seq=Max("seq")).order_by()):
        counts[account_id], last[account_id] = count, seq
    hashes = {account_id: hash_ for account_id, seq, hash_ in
              unkeyed.filter(seq__in=set(last.values())).values_list("account_id", "seq", "hash")
              if last[account_id] == seq}
    return {str(account_id): [counts[account_id], hashes[account_id]] for account_id in last}


def seal(cutovers, entries, *, now: datetime):
    """Record the cut-over (once: the existing row if there is one)."""
    existing = cutovers.first()
    if existing is not None:
        return existing
    first_keyed = (entries.exclude(key_id="").order_by("pk").values_list("pk", flat=True)
                   .first())
    sealed = unkeyed_heads(entries)
    key_id = current_key_id()
    return cutovers.create(created_at=now, first_keyed_entry_id=first_keyed, sealed=sealed,
                           key_id=key_id,
                           signature=sign(content(now, first_keyed, sealed), key_id=key_id))


def signature_problem(cutover) -> str | None:
    try:
        expected = sign(content(cutover.created_at, cutover.first_keyed_entry_id,
                                cutover.sealed), key_id=cutover.key_id)
    except UnknownChainKey:
        return f"the cut-over is signed with an unknown key {cutover.key_id!r}"
    if expected != cutover.signature:
        return "the cut-over does not match its signature: altered"
    return None
