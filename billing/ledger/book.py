"""The ledger's rules: every entry, grant and balance change goes through a Book.

`open_book` locks the organisation's account in one short transaction; the book
applies postings in Python (burn-down, fingerprints, the chain, the balance)
against the running balance and chain head kept on the account row, and its
store writes them in bulk when the block ends (docs/ledger.md). No network call
belongs inside a book: use on_commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from billing import money
from billing.ledger import listeners
from billing.ledger.actor import Actor
from billing.ledger.chain import (
    KEYED_VERSION,
    current_key_id,
    entry_hash,
    fingerprint_of,
    grant_terms,
    metadata_json,
)
from billing.ledger.credit_accounts import ensure_account
from billing.ledger.errors import IdempotencyConflict, InsufficientCredits, LedgerError
from billing.ledger.postings import EntryFactory, Pending, Posting, burn_order
from billing.ledger.store import current_store
from billing.ledger.store.interface import (
    AddedTotals,
    Changes,
    LinkedRows,
    Locked,
    LockRead,
)
from billing.models import (
    DEFAULT_PRIORITY,
    CreditGrant,
    EntryKind,
    GrantKind,
    LedgerEntry,
)


class Book:
    """The open ledger of one account, valid inside `open_book` only."""

    def __init__(self, locked: Locked, now: datetime, *, keys: Iterable[str] = ()):
        """`locked`: what the store read with the lock; `keys`: the ledger keys it looked
        up (those it did not find are known not to exist yet)."""
        self._store = current_store()
        self.account = locked.account
        self.now = now
        self.balance: Decimal = locked.account.balance
        self._last_hash = locked.account.last_hash
        self._seq = locked.account.entry_count
        self._grants: list[CreditGrant] = burn_order(locked.grants)
        self._rows = locked.rows
        self._dirty_grants: dict[int, CreditGrant] = {}
        self._pending: list[Pending] = []
        self._keys: dict[str, LedgerEntry] = dict(locked.entries)
        # Keys known not to exist yet (see prefetch_keys).
        self._absent: set[str] = {key for key in keys if key not in self._keys}
        self._linked: list[LinkedRows] = []
        self._totals: list[AddedTotals] = []
        self._key_id = current_key_id()
        # The clock is fixed for the book: once expire_due ran, only a new grant can expire.
        self._expiry_done = False
        self._factory: tuple[Actor, EntryFactory] | None = None  # the last actor's

    # -- reading ---------------------------------------------------------------------------

    def rows(self, read: LockRead) -> list[tuple]:
        """The rows of a read taken with the lock (open_book's `reads`)."""
        return self._rows[read]

    @property
    def next_seq(self) -> int:
        """The seq the next entry posted in this book will have."""
        return self._seq + 1

    def live_grants(self) -> list[CreditGrant]:
        """Live grants in burn-down order."""
        return self._grants

    def find(self, idempotency_key: str) -> LedgerEntry | None:
        if idempotency_key not in self._keys:
            self.prefetch_keys([idempotency_key])
        return self._keys.get(idempotency_key)

    def prefetch_keys(self, keys: Iterable[str]) -> None:
        """Load the entries of many keys in one query (batch callers)."""
        keys = [k for k in keys if k not in self._keys]
        self._keys.update(self._store.entries_by_key(self.account, keys))
        self._absent |= set(keys) - set(self._keys)

    def _existing(self, idempotency_key: str, fingerprint: str) -> Posting | None:
        if idempotency_key in self._keys:
            entry = self._keys[idempotency_key]
        elif idempotency_key in self._absent:
            return None
        else:
            entry = self.find(idempotency_key)
        if entry is None:
            return None
        if entry.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {idempotency_key!r} was used for a different request"
            )
        return Posting(entry=entry, replayed=True)

    # -- writing ---------------------------------------------------------------------------

    def _post(self, *, kind, amount: Decimal, actor: Actor, reason: str, idempotency_key: str,
              fingerprint: str, metadata: dict | None, reverses: LedgerEntry | None = None,
              allocations: list[tuple[CreditGrant, Decimal]] = (),
              metadata_text: str | None = None) -> LedgerEntry:
        if abs(self.balance + amount) >= money.MAX_CREDITS:
            raise LedgerError(f"the balance would pass {money.display(money.MAX_CREDITS)} "
                              "credits, more than the ledger holds")
        self.balance = self.balance + amount
        self._seq += 1
        if self._factory is None or self._factory[0] is not actor or reverses is not None:
            factory = (actor, EntryFactory({
                "account": self.account, "actor_user": actor.by_user,
                "actor_api_key": actor.by_api_key, "reverses": reverses}))
            self._factory = factory if reverses is None else self._factory
        else:
            factory = self._factory
        entry = factory[1].make({
            "seq": self._seq, "kind": kind, "amount": amount, "balance_after": self.balance,
            "actor_type": actor.type, "actor_label": actor.label[:254], "reason": reason,
            "idempotency_key": idempotency_key, "fingerprint": fingerprint,
            "metadata": metadata or {}, "created_at": self.now, "key_id": self._key_id,
            "chain_version": KEYED_VERSION,
        })
        # The allocations are hashed with the entry; new grants already have their ids.
        if metadata_text is None:  # else the caller's, worked out before the lock
            metadata_text = metadata_json(entry.metadata)
        entry.hash = entry_hash(entry, self._last_hash,
                                [(grant.pk, delta) for grant, delta in allocations],
                                metadata_text=metadata_text)
        self._last_hash = entry.hash
        for grant, delta in allocations:
            grant.remaining += delta
            self._dirty_grants[id(grant)] = grant
        self._pending.append(Pending(entry=entry, allocations=list(allocations),
                                      metadata_text=metadata_text))
        self._keys[idempotency_key] = entry
        return entry

    def _credit_in(self, amount: Decimal) -> tuple[Decimal, Decimal]:
        """Split an inflow into (debt repaid, credits left for grants)."""
        debt = -self.balance if self.balance < 0 else Decimal(0)
        repaid = min(debt, amount)
        return repaid, amount - repaid

    def grant(self, *, amount: Decimal, grant_kind: str, entry_kind: str, actor: Actor,
              reason: str, idempotency_key: str, expires_at: datetime | None = None,
              priority: int = DEFAULT_PRIORITY, parent: CreditGrant | None = None,
              metadata: dict | None = None, fingerprint: str | None = None) -> Posting:
        amount = money.parse_credits(amount)
        if grant_kind not in GrantKind.values:
            raise LedgerError(f"unknown grant kind {grant_kind!r}")
        if expires_at is not None and expires_at <= self.now:
            raise LedgerError("a grant cannot expire in the past")
        fingerprint = fingerprint or fingerprint_of(
            "grant", entry_kind, grant_kind, money.canonical(amount), expires_at, priority
        )
        if (existing := self._existing(idempotency_key, fingerprint)) is not None:
            return existing
        repaid, remaining = self._credit_in(amount)
        grant = CreditGrant(
            account=self.account, kind=grant_kind, amount=amount, remaining=Decimal(0),
            debt_repaid=repaid, priority=priority, expires_at=expires_at, parent=parent,
            created_at=self.now,
        )
        self._store.insert_grant(grant)  # its id is hashed with the entry
        self.live_grants().append(grant)
        self._grants = burn_order(self._grants)
        self._expiry_done = False
        entry = self._post(
            kind=entry_kind, amount=amount, actor=actor, reason=reason,
            idempotency_key=idempotency_key, fingerprint=fingerprint,
            metadata={**(metadata or {}), "grant_id": grant.pk, "grant_terms": grant_terms(grant)},
            allocations=[(grant, remaining)] if remaining else [],
        )
        return Posting(entry=entry, grant=grant)

    def expire_due(self, *, actor: Actor | None = None) -> list[Posting]:
        """Post an expiry entry for each live grant whose expiry has passed."""
        postings, grants = [], self.live_grants()
        if self._expiry_done:
            return postings
        self._expiry_done = True
        actor = actor or Actor.system("expire_credits")
        for grant in list(grants):
            if grant.expires_at is None or grant.expires_at > self.now:
                continue
            grant.expired_at = self.now
            self._dirty_grants[id(grant)] = grant
            self._grants.remove(grant)
            if grant.remaining <= 0:
                continue
            entry = self._post(
                kind=EntryKind.EXPIRY, amount=-grant.remaining, actor=actor,
                reason=f"{grant.get_kind_display()} credits expired",
                idempotency_key=f"expiry:{grant.pk}",
                fingerprint=fingerprint_of("expiry", grant.pk),
                metadata={"grant_id": grant.pk}, allocations=[(grant, -grant.remaining)],
            )
            postings.append(Posting(entry=entry, grant=grant))
        return postings

    def _draw(self, amount: Decimal, preferred: Iterable[CreditGrant] = ()):
        """Allocations taking `amount` from preferred grants, then burn-down order."""
        allocations, left = [], amount
        ordered = self.live_grants()
        if preferred:
            by_id = {g.pk: g for g in ordered}
            # The book's own copies, and only live ones: a stale or expired grant is never drawn.
            first = [by_id[g.pk] for g in preferred if g.pk in by_id]
            ordered = first + [g for g in ordered if g.pk not in {p.pk for p in first}]
        for grant in ordered:
            if left <= 0:
                break
            take = min(grant.remaining, left)
            if take > 0:
                allocations.append((grant, -take))
                left -= take
        return allocations, left

    def consume(self, *, amount: Decimal, actor: Actor, reason: str, idempotency_key: str,
                metadata: dict | None = None, fingerprint: str | None = None,
                entry_kind: str = EntryKind.USAGE, metadata_text: str | None = None,
                new_key: bool = False) -> Posting:
        """`metadata_text`: chain.metadata_json(metadata), when the caller has it already.
        `new_key`: the caller knows the key is unused (a usage charge, whose events' own
        keys were read with the lock), so it is not looked up; were it used after all, the
        unique key refuses the write and the transaction rolls back."""
        amount = money.parse_credits(amount)
        fingerprint = fingerprint or fingerprint_of("consume", entry_kind, money.canonical(amount))
        if not new_key and (existing := self._existing(idempotency_key, fingerprint)):
            return existing
        self.expire_due()
        if self.balance < 0:
            raise InsufficientCredits("the organisation is in debt: usage is paused")
        if amount > self.balance:
            raise InsufficientCredits(
                f"{money.display(amount)} credits needed, {money.display(self.balance)} available"
            )
        allocations, left = self._draw(amount)
        assert left == 0, "live grants must cover a non-negative balance"
        entry = self._post(
            kind=entry_kind, amount=-amount, actor=actor, reason=reason,
            idempotency_key=idempotency_key, fingerprint=fingerprint, metadata=metadata,
            allocations=allocations, metadata_text=metadata_text,
        )
        return Posting(entry=entry)

    def take_back(self, *, amount: Decimal, entry_kind: str, actor: Actor, reason: str,
                  idempotency_key: str, preferred_grants: Iterable[CreditGrant] = (),
                  metadata: dict | None = None, fingerprint: str | None = None,
                  reverses: LedgerEntry | None = None) -> Posting:
        """Remove credits even past zero: what the grants cannot cover becomes a debt."""
        amount = money.parse_credits(amount)
        preferred_grants = list(preferred_grants)
        fingerprint = fingerprint or fingerprint_of(
            "take_back", entry_kind, money.canonical(amount), [g.pk for g in preferred_grants]
        )
        if (existing := self._existing(idempotency_key, fingerprint)) is not None:
            return existing
        self.expire_due()  # credits past their expiry cannot soften a clawback
        allocations, _debt = self._draw(amount, preferred_grants)
        entry = self._post(
            kind=entry_kind, amount=-amount, actor=actor, reason=reason,
            idempotency_key=idempotency_key, fingerprint=fingerprint, metadata=metadata,
            allocations=allocations, reverses=reverses,
        )
        return Posting(entry=entry)

    def restore(self, *, amount: Decimal, actor: Actor, reason: str, idempotency_key: str,
                to_grants: list[tuple[CreditGrant, Decimal]], metadata: dict | None = None,
                fingerprint: str | None = None, reverses: LedgerEntry | None = None,
                entry_kind: str = EntryKind.REVERSAL) -> Posting:
        """Put credits back: repay debt first, then refill `to_grants` (live ones, up to
        each grant's amount); anything left goes to a new adjustment grant."""
        amount = money.parse_credits(amount)
        fingerprint = fingerprint or fingerprint_of(
            "restore", entry_kind, money.canonical(amount), reverses.pk if reverses else None
        )
        if (existing := self._existing(idempotency_key, fingerprint)) is not None:
            return existing
        self.expire_due()  # never refill a grant whose expiry has passed
        _repaid, left = self._credit_in(amount)
        live = {g.pk: g for g in self.live_grants()}
        allocations, new_grant = [], None
        for grant, wanted in to_grants:
            grant = live.get(grant.pk)
            if grant is None or left <= 0:
                continue
            put = min(wanted, grant.amount - grant.remaining, left)
            if put > 0:
                allocations.append((grant, put))
                left -= put
        if left > 0:
            new_grant = CreditGrant(
                account=self.account, kind=GrantKind.ADJUSTMENT, amount=left, remaining=0,
                created_at=self.now,
            )
            self._store.insert_grant(new_grant)
            self._grants = burn_order([*self.live_grants(), new_grant])
            self._expiry_done = False
            allocations.append((new_grant, left))
        entry = self._post(
            kind=entry_kind, amount=amount, actor=actor, reason=reason,
            idempotency_key=idempotency_key, fingerprint=fingerprint, metadata=metadata,
            allocations=allocations, reverses=reverses,
        )
        return Posting(entry=entry, grant=new_grant)

    # -- writing out -----------------------------------------------------------------------

    def write_with_entries(self, *hooks: LinkedRows | AddedTotals) -> None:
        """Rows of an area written with this book's entries (billing/ledger/store/hooks.py):
        a LinkedRows row may point at an entry posted in this book."""
        for hook in hooks:
            (self._linked if isinstance(hook, LinkedRows) else self._totals).append(hook)

    def flush(self, *, last: bool = False) -> None:
        """Write what was posted, and the areas' rows, through the store. `last`: nothing
        follows in the book's transaction, which it owns (the store may end it)."""
        if not (self._pending or self._dirty_grants or self._linked or self._totals):
            return
        self._store.write(Changes(
            account=self.account, pending=self._pending, grants=list(self._dirty_grants.values()),
            balance=self.balance, last_hash=self._last_hash, entry_count=self._seq,
            now=self.now, linked=self._linked, totals=self._totals, last=last))
        self.account.balance = self.balance
        self.account.last_hash = self._last_hash
        self.account.entry_count = self._seq
        self._pending, self._dirty_grants, self._linked, self._totals = [], {}, [], []


@contextmanager
def open_book(*, organization, now: datetime | None = None, keys: Iterable[str] = (),
              reads: Iterable[LockRead] = ()):
    """Lock the org's account for one short transaction and yield its Book. `keys`: ledger
    keys the caller expects to post (their entries are read with the lock); `reads`:
    queries answered with the lock, in `book.rows(read)`."""
    keys, reads = list(keys), list(reads)
    chosen = current_store()
    with transaction.atomic():
        locked = chosen.lock(organization.pk, keys=keys, reads=reads)
        if locked is None:
            ensure_account(organization=organization)
            locked = chosen.lock(organization.pk, keys=keys, reads=reads)
        # The clock is read once the lock is held: a caller that waited for it must not
        # act at an earlier moment (e.g. draw on a grant that expired meanwhile).
        book = Book(locked, now or timezone.now(), keys=keys)
        before = book.balance
        yield book
        # Outermost, and not inside a transaction begun by hand (autocommit off).
        book.flush(last=len(connection.atomic_blocks) == 1 and connection.commit_on_exit)
        if book.balance != before:
            listeners.announce(organization, before, book.balance, locked.account.watch_level)
