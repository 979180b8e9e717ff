"""Re-checks every ledger invariant from the rows themselves (see docs/ledger.md)."""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from billing.ledger.chain import entry_hash
from billing.models import CreditAccount, CreditGrant, EntryKind, GrantAllocation, LedgerEntry


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

    @property
    def ok(self) -> bool:
        return not self.problems


def _trigger_installed() -> bool:
    if connection.vendor != "postgresql":
        return True  # the demo database relies on the model guards alone
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'billing_ledgerentry_append_only' "
            "AND tgenabled <> 'D'"
        )
        return cursor.fetchone()[0] == 1


def _check_chain(account: CreditAccount, slug: str, report: Report) -> None:
    """Invariants 2, 3 and 7, plus the refund ceiling of 6, in one pass in seq order."""
    previous_hash, balance, total, expected_seq = "", Decimal(0), Decimal(0), 0
    first_chain_break = None
    granted = defaultdict(Decimal)
    refunded = defaultdict(Decimal)
    last_id = 0
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
        if first_chain_break is None and entry_hash(entry, previous_hash) != entry.hash:
            first_chain_break = entry.pk
            report.problems.append(Problem(
                slug, "7", "hash does not match its contents and predecessor: altered", entry.pk))
        previous_hash = entry.hash
        purchase_id = entry.metadata.get("purchase_id") if entry.metadata else None
        if purchase_id is not None:
            if entry.kind in (EntryKind.PURCHASE, EntryKind.BONUS):
                granted[purchase_id] += entry.amount
            elif entry.kind == EntryKind.REFUND:
                refunded[purchase_id] -= entry.amount
    for purchase_id, amount in refunded.items():
        if amount > granted[purchase_id]:
            report.problems.append(Problem(
                slug, "6", f"purchase {purchase_id}: refunded {amount} of {granted[purchase_id]}"))
    if total != account.balance:
        report.problems.append(Problem(
            slug, "1", f"account balance {account.balance} but entries sum to {total}"))
    if previous_hash != account.last_hash or expected_seq != account.entry_count:
        report.problems.append(Problem(slug, "7", "account chain head does not match last entry"))


def _exact_sum(values) -> Decimal:
    """SQLite sums decimals as floats; add them up exactly here instead."""
    return sum(values, Decimal(0))


def _check_grants(account: CreditAccount, slug: str, report: Report) -> None:
    """Invariant 1: live grants hold the balance, or nothing while in debt."""
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
        if not (0 <= grant.remaining <= grant.amount):
            report.problems.append(Problem(slug, "1", f"grant {grant.pk} remaining out of range"))
        if allocated.get(grant.pk, Decimal(0)) != grant.remaining:
            report.problems.append(Problem(
                slug, "1", f"grant {grant.pk} remaining {grant.remaining} but its allocations "
                f"sum to {allocated.get(grant.pk, Decimal(0))}"))


def verify_ledger(*, organization=None) -> Report:
    report = Report()
    if not _trigger_installed():
        report.problems.append(Problem("*", "4", "the append-only trigger is missing or disabled"))
    accounts = CreditAccount.objects.select_related("organization").order_by("pk")
    if organization is not None:
        accounts = accounts.filter(organization=organization)
    for account in accounts:
        report.accounts += 1
        slug = account.organization.slug
        _check_chain(account, slug, report)
        _check_grants(account, slug, report)
    return report
