"""Re-checks every ledger invariant from the rows themselves (see docs/ledger.md).

Each account is checked in one consistent snapshot (a REPEATABLE READ, read
only transaction on PostgreSQL): its row, entries, allocations and grants are
read as of one moment, so postings that commit during a run never look like
tampering. The database guards (the append-only and no-TRUNCATE triggers of
both ledger tables and the digest table) are checked to be installed and
enabled, and each account's history is proved against a signed daily digest. Usage
entries are checked against their events (billing/ledger/verify_usage.py).
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from billing.ledger import cutover as cutovers
from billing.ledger import digests
from billing.ledger.chain import UnknownChainKey, UnknownChainVersion, entry_hash, grant_terms
from billing.ledger.verify_counters import Taken
from billing.ledger.verify_usage import dangling_references, entry_events_problem, events_by_entry
from billing.ledger.verify_usage_sql import summed_events_by_entry
from billing.models import (
    CreditAccount,
    CreditGrant,
    EntryKind,
    GrantAllocation,
    LedgerCutover,
    LedgerDigest,
    LedgerEntry,
)

GUARDED_TABLES = [LedgerEntry._meta.db_table, GrantAllocation._meta.db_table,
                  LedgerDigest._meta.db_table, LedgerCutover._meta.db_table]
# Installed by the migrations: refuse UPDATE/DELETE per row, TRUNCATE per statement, and an
# unkeyed entry once the chain is keyed. Each must fire always (tgenabled 'A'): one left in
# origin mode is stepped around by `SET session_replication_role = replica`.
EXPECTED_TRIGGERS = [f"{table}_{guard}" for table in GUARDED_TABLES
                     for guard in ("append_only", "no_truncate")]
EXPECTED_TRIGGERS.append(f"{LedgerEntry._meta.db_table}_keyed_only")


@dataclass
class Problem:
    organization: str
    invariant: str
    message: str
    entry_id: int | None = None

    def __str__(self):
        where = f" (entry #{self.entry_id})" if self.entry_id else ""
        return f"[{self.organization}] invariant {self.invariant}{where}: {self.message}"


@dataclass
class Report:
    accounts: int = 0
    entries: int = 0
    problems: list[Problem] = field(default_factory=list)
    digest: LedgerDigest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def missing_triggers() -> list[str]:
    """The guard triggers that are not installed, are disabled, or do not fire always."""
    if connection.vendor != "postgresql":
        return []  # the demo database relies on the model guards alone
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s) "
                       "AND tgenabled = 'A'", [EXPECTED_TRIGGERS])
        enabled = {row[0] for row in cursor.fetchall()}
    return [name for name in EXPECTED_TRIGGERS if name not in enabled]


def first_keyed_entry_id() -> int | None:
    """The cut-over: the install's first keyed entry. No unkeyed entry may come after it."""
    return (LedgerEntry.objects.exclude(key_id="").order_by("pk")
            .values_list("pk", flat=True).first())


@dataclass
class Cutover:
    """What the signed cut-over accepts: the unkeyed entries it sealed, per account
    ([count, last hash]), and no unkeyed entry after the first keyed one."""

    sealed: dict
    first_keyed: int | None
    recorded_at: datetime | None = None


def signed_cutover(report: Report) -> Cutover:
    """The recorded cut-over; when it fails its signature (or is gone), it seals nothing."""
    recorded = LedgerCutover.objects.first()
    if recorded is not None and (problem := cutovers.signature_problem(recorded)):
        report.problems.append(Problem("*", "7", problem))
        recorded = None
    if recorded is None:
        first_keyed = first_keyed_entry_id()
        if first_keyed is not None:
            report.problems.append(Problem("*", "7", "no signed cut-over is recorded, though "
                                                     "the chain is keyed: removed"))
        return Cutover({}, first_keyed)
    return Cutover(recorded.sealed, recorded.first_keyed_entry_id or first_keyed_entry_id(),
                   recorded.created_at)


def _allocations_by_entry(account: CreditAccount) -> Iterator[tuple[int, list]]:
    """(entry id, [(grant id, amount), ...]) in entry id order, streamed."""
    rows = (GrantAllocation.objects.filter(entry__account=account).order_by("entry_id", "id")
            .values_list("entry_id", "grant_id", "amount").iterator(chunk_size=5000))
    current, items = None, []
    for entry_id, grant_id, amount in rows:
        if entry_id != current and current is not None:
            yield current, items
            items = []
        current = entry_id
        items.append((grant_id, amount))
    if current is not None:
        yield current, items


def _check_chain(account: CreditAccount, slug: str, report: Report,
                 cutover: Cutover | None = None, events_beside: bool = False) -> dict:
    """Invariants 2, 3, 7 and 8, plus the refund ceiling of 6, in one pass in seq order.
    Returns the grant terms the hashed entries committed, by grant id."""
    cutover = cutover or Cutover({}, None)
    previous_hash, balance, total, expected_seq = "", Decimal(0), Decimal(0), 0
    chain_broken, keyed_seen = False, False
    unkeyed, first_unkeyed = [0, ""], None  # the unkeyed start: [count, last hash]
    granted = defaultdict(Decimal)
    refunded = defaultdict(Decimal)
    taken = Taken()
    committed_terms = {}
    last_id = 0
    allocations = _allocations_by_entry(account)
    pending = next(allocations, None)
    events = (summed_events_by_entry(account, beside=events_beside)
              if connection.vendor == "postgresql"
              else events_by_entry(account))
    charged = next(events, None)
    entries = LedgerEntry.objects.filter(account=account).order_by("seq")
    for entry in entries.iterator(chunk_size=5000):
        report.entries += 1
        expected_seq += 1
        if entry.seq != expected_seq:
            report.problems.append(Problem(slug, "2", f"seq {entry.seq}, expected {expected_seq}",
                                           entry.pk))
            expected_seq = entry.seq
        if entry.pk <= last_id:
            report.problems.append(Problem(slug, "2", "id order differs from posting order",
                                           entry.pk))
        last_id = entry.pk
        # Allocations come in entry id order too; skip any of an entry we never saw.
        while pending is not None and pending[0] < entry.pk:
            pending = next(allocations, None)
        own = []
        if pending is not None and pending[0] == entry.pk:
            own, pending = pending[1], next(allocations, None)
        while charged is not None and charged[0] < entry.pk:  # events of no entry seen here
            report.problems.append(Problem(slug, "8", "usage events point at an entry that "
                                                      "is not this account's", charged[0]))
            charged = next(events, None)
        its_events = []
        if charged is not None and charged[0] == entry.pk:
            its_events, charged = charged[1], next(events, None)
        if entry.kind == EntryKind.USAGE:
            if (problem := entry_events_problem(entry, its_events)) is not None:
                report.problems.append(Problem(slug, "8", problem, entry.pk))
        elif its_events:
            report.problems.append(Problem(slug, "8", "usage events point at an entry that "
                                                      "is not a usage entry", entry.pk))
        balance += entry.amount
        total += entry.amount
        if entry.balance_after != balance:
            report.problems.append(Problem(
                slug, "2", f"balance_after {entry.balance_after} but running sum is {balance}",
                entry.pk))
            balance = entry.balance_after
        if entry.kind == EntryKind.USAGE and entry.balance_after < 0:
            report.problems.append(Problem(slug, "3", "usage took the balance below zero",
                                           entry.pk))
        if not chain_broken:
            chain_broken = _chain_link_broken(entry, previous_hash, own, keyed_seen,
                                              cutover.first_keyed, slug, report)
        if not entry.key_id and not keyed_seen:
            unkeyed, first_unkeyed = [unkeyed[0] + 1, entry.hash], first_unkeyed or entry.pk
        keyed_seen = keyed_seen or bool(entry.key_id)
        previous_hash = entry.hash
        if entry.metadata and "grant_terms" in entry.metadata:
            committed_terms[entry.metadata.get("grant_id")] = entry.metadata["grant_terms"]
        taken.add(entry)
        purchase_id = entry.metadata.get("purchase_id") if entry.metadata else None
        if purchase_id is not None:
            if entry.kind in (EntryKind.PURCHASE, EntryKind.BONUS):
                granted[purchase_id] += entry.amount
            elif entry.kind == EntryKind.REFUND:
                refunded[purchase_id] -= entry.amount
    if charged is not None:
        report.problems.append(Problem(slug, "8", "usage events point at an entry that is "
                                                  "not this account's", charged[0]))
    sealed = cutover.sealed.get(str(account.pk), [0, ""])
    if not chain_broken and unkeyed != sealed:
        report.problems.append(Problem(
            slug, "7", f"{unkeyed[0]} unkeyed entries where the signed cut-over sealed "
            f"{sealed[0]}: written without the chain key, or altered", first_unkeyed))
    for purchase_id, amount in refunded.items():
        if amount > granted[purchase_id]:
            report.problems.append(Problem(
                slug, "6", f"purchase {purchase_id}: refunded {amount} of {granted[purchase_id]}"))
    for message in taken.problems(account.organization_id):
        report.problems.append(Problem(slug, "6", message))
    if total != account.balance:
        report.problems.append(Problem(
            slug, "1", f"account balance {account.balance} but entries sum to {total}"))
    if previous_hash != account.last_hash or expected_seq != account.entry_count:
        report.problems.append(Problem(slug, "7", "account chain head does not match last entry"))
    return committed_terms


def _chain_link_broken(entry, previous_hash, allocations, keyed_seen, cutover, slug,
                       report) -> bool:
    if not entry.key_id and keyed_seen:
        message = "an unkeyed entry after keyed ones: written without the chain key"
    elif not entry.key_id and cutover is not None and entry.pk > cutover:
        message = (f"an unkeyed entry after the install's first keyed one (#{cutover}): "
                   "written without the chain key")
    else:
        try:
            if entry_hash(entry, previous_hash, allocations) == entry.hash:
                return False
            message = ("hash does not match its contents, allocations and predecessor: "
                       "altered")
        except UnknownChainKey:
            message = f"signed with an unknown chain key {entry.key_id!r}"
        except UnknownChainVersion:
            message = f"an unknown chain version {entry.chain_version!r}: altered"
    report.problems.append(Problem(slug, "7", message, entry.pk))
    return True


def _exact_sum(values) -> Decimal:
    """SQLite sums decimals as floats; add them up exactly here instead."""
    return sum(values, Decimal(0))


def _check_grants(account: CreditAccount, slug: str, report: Report,
                  committed_terms: dict | None = None) -> None:
    """Invariant 1: live grants hold the balance, or nothing while in debt; and each grant's
    terms are those its opening entry committed (7; grants opened before that: not checked)."""
    live = CreditGrant.objects.filter(account=account, expired_at__isnull=True)
    live_remaining = _exact_sum(live.values_list("remaining", flat=True))
    if account.balance >= 0 and live_remaining != account.balance:
        report.problems.append(Problem(
            slug, "1", f"balance {account.balance} but live grants hold {live_remaining}"))
    if account.balance < 0 and live_remaining != 0:
        report.problems.append(Problem(
            slug, "1", f"in debt but live grants still hold {live_remaining}"))
    allocations = GrantAllocation.objects.filter(grant__account=account)
    if connection.vendor == "postgresql":
        allocated = dict(allocations.values_list("grant_id").annotate(total=Sum("amount")))
    else:
        allocated = defaultdict(Decimal)
        for grant_id, amount in allocations.values_list("grant_id", "amount").iterator():
            allocated[grant_id] += amount
    for grant in CreditGrant.objects.filter(account=account):
        terms = (committed_terms or {}).get(grant.pk)
        if terms is not None and terms != grant_terms(grant):
            report.problems.append(Problem(
                slug, "7", f"grant {grant.pk}'s terms differ from those its opening entry "
                "committed: altered"))
        if not (0 <= grant.remaining <= grant.amount):
            report.problems.append(Problem(slug, "1", f"grant {grant.pk} remaining out of range"))
        if allocated.get(grant.pk, Decimal(0)) != grant.remaining:
            report.problems.append(Problem(
                slug, "1", f"grant {grant.pk} remaining {grant.remaining} but its allocations "
                f"sum to {allocated.get(grant.pk, Decimal(0))}"))


def _check_account(account_id: int, report: Report, digest: LedgerDigest | None,
                   cutover: Cutover) -> None:
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        account = CreditAccount.objects.select_related("organization").get(pk=account_id)
        report.accounts += 1
        slug = account.organization.slug
        # In its own snapshot (not a caller's transaction), the events can be read on a
        # second connection in that snapshot while the chain is walked.
        committed_terms = _check_chain(account, slug, report, cutover,
                                       events_beside=connection.vendor == "postgresql"
                                       and not outer)
        _check_grants(account, slug, report, committed_terms)
        if digest is not None:
            head = digests.check_account(digest, account)
            if not head.ok:
                report.problems.append(Problem(slug, "7", head.message))


def verify_ledger(*, organization=None, digest: LedgerDigest | None = None,
                  now: datetime | None = None) -> Report:
    """Every invariant of every account (or one org's), each in its own snapshot, and the
    history against `digest` (by default the latest one, when there is any), which must
    not be older than its schedule allows at `now`."""
    report = Report()
    for name in missing_triggers():
        report.problems.append(Problem("*", "4", f"the guard trigger {name} is missing, "
                                                 "disabled or does not fire always"))
    digest = digest or LedgerDigest.objects.order_by("-day").first()
    report.digest = digest
    for problem in digests.chain_problems():
        report.problems.append(Problem("*", "7", problem))
    against = digest  # the heads of a digest that fails its signature prove nothing
    if digest is not None and (problem := digests.signature_problem(digest)):
        report.problems.append(Problem("*", "7", problem))
        against = None
    for message in dangling_references(organization):
        report.problems.append(Problem(organization.slug if organization else "*", "8",
                                       message))
    accounts = CreditAccount.objects.order_by("pk")
    if organization is not None:
        accounts = accounts.filter(organization=organization)
    cutover = signed_cutover(report)
    latest = LedgerDigest.objects.order_by("-day").first()
    if (problem := digests.staleness_problem(latest, cutover.recorded_at, accounts,
                                             now=now or timezone.now())):
        report.problems.append(Problem(organization.slug if organization else "*", "7",
                                       problem))
    for account_id in accounts.values_list("pk", flat=True):
        _check_account(account_id, report, against, cutover)
    if against is not None and organization is None:
        present = set(map(str, CreditAccount.objects.values_list("pk", flat=True)))
        for gone in sorted(set(digest.heads) - present, key=int):
            report.problems.append(Problem("*", "7", f"account {gone} of the digest of "
                                                     f"{digest.day} no longer exists"))
    return report
