"""Monthly budgets in the charge (docs/budgets.md): read with the account lock, checked
for each new event before the balance is, and kept by the same write as the entry.

Because every charge of an org holds its account lock, two racing requests see each
other's spending: the second reads the month's totals the first committed, so the last
credits of a budget are passed once. An event past its API key's or its user's budget
is rejected (`budget_exceeded`, naming the budget) and the rest of the batch goes on.
Reaching 80% or 100% of a budget, or being refused by it, is announced after commit to
BUDGET_LISTENERS (the notifications connect in billing/apps.py); the listener claims
each notification once per month on the month's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import transaction

from billing import money
from billing.ledger.store.interface import AddedTotals, LockRead
from billing.models import Budget, BudgetKind, BudgetMonth

WARNING_SHARE = Decimal("0.8")
WARNING, EXHAUSTED = "warning", "exhausted"
BUDGET_LISTENERS: list = []  # called after commit with (organization=, crossings=)

# The name the refusal gives a budget: its API key's (joined) or its user's.
_NAME_COLUMN = {"api_key_id": "api_key__name", "user_label": "user_label"}
_MONTH_COLUMNS = ("budget_id", "credits", "warned_at", "exhausted_at")


def month_of(moment: datetime) -> date:
    """The first day of the UTC month a charge at `moment` counts in."""
    return moment.astimezone(UTC).date().replace(day=1)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A budget that reached a level of its month in a charge (WARNING or EXHAUSTED)."""

    budget_id: int
    month: date
    level: str
    kind: str
    name: str
    monthly_limit: Decimal
    used: Decimal


@dataclass(slots=True)
class _Budget:
    id: int
    kind: str
    name: str  # the API key's name or the user's email: how the refusal names it
    monthly_limit: Decimal
    used: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)  # by this charge
    warned: bool = False
    exhausted: bool = False
    refused: bool = False

    def describe(self) -> str:
        subject = f"API key {self.name!r}" if self.kind == BudgetKind.API_KEY else self.name
        return f"the monthly budget of {subject}"


class BudgetCheck:
    """The budgets that apply to one charge: its API key's and its users'."""

    def __init__(self, *, organization_id: int, api_key_id: int | None, users: set[str],
                 moment: datetime):
        self.organization_id = organization_id
        self.month = month_of(moment)
        self.reads: list[LockRead] = []
        if api_key_id is not None:
            self.reads += self._reads(("api_key_id", api_key_id))
        if users:
            self.reads += self._reads(("user_label", sorted(users)))
        self._key_budget: _Budget | None = None  # the charge has one API key
        self._by_user: dict[str, _Budget] = {}

    def _reads(self, subject: tuple) -> list[LockRead]:
        """The subject's budgets, and their totals of the month."""
        org = ("organization_id", self.organization_id)
        columns = ("id", "monthly_limit", _NAME_COLUMN[subject[0]])
        return [LockRead(model=Budget, columns=columns, where=(org, subject)),
                LockRead(model=BudgetMonth, columns=_MONTH_COLUMNS, where=(
                    org, ("month", self.month), (f"budget__{subject[0]}", subject[1])))]

    def load(self, book) -> None:
        """Fill in the budgets from the rows read with the lock."""
        budgets: dict[int, _Budget] = {}
        for budgets_read, months_read in zip(self.reads[::2], self.reads[1::2], strict=True):
            by_user = budgets_read.columns[2] == "user_label"
            kind = BudgetKind.USER if by_user else BudgetKind.API_KEY
            for budget_id, limit, name in book.rows(budgets_read):
                budget = budgets[budget_id] = _Budget(budget_id, kind, name, limit)
                if by_user:
                    self._by_user[name] = budget
                else:
                    self._key_budget = budget
            for budget_id, credits, warned_at, exhausted_at in book.rows(months_read):
                if (budget := budgets.get(budget_id)) is not None:
                    budget.used = credits
                    budget.warned = warned_at is not None
                    budget.exhausted = exhausted_at is not None

    def _applying(self, user_label: str) -> list[_Budget]:
        found = [self._key_budget] if self._key_budget is not None else []
        if user_label and (user := self._by_user.get(user_label)) is not None:
            found.append(user)
        return found

    def refusal(self, user_label: str, credits: Decimal) -> dict | None:
        """The `budget_exceeded` error of an event that would pass a budget, or None."""
        for budget in self._applying(user_label):
            left = budget.monthly_limit - budget.used - budget.spent
            if credits > left:
                budget.refused = True
                return {
                    "code": "budget_exceeded",
                    "message": f"{budget.describe()} has {money.display(max(left, Decimal(0)))} "
                               f"of {money.display(budget.monthly_limit)} credits left this "
                               f"month; {money.display(credits)} needed",
                    "budget": {"kind": budget.kind, "name": budget.name,
                               "monthly_limit": money.canonical(budget.monthly_limit),
                               "used": money.canonical(budget.used + budget.spent)},
                }
        return None

    def spend(self, user_label: str, credits: Decimal) -> None:
        if credits > 0:
            for budget in self._applying(user_label):
                budget.spent += credits

    def totals(self) -> AddedTotals | None:
        """What this charge adds to its budgets' months, written with its entry."""
        spent = [b for b in self._all() if b.spent]
        if not spent:
            return None
        return AddedTotals(model=BudgetMonth, dimensions=("organization_id", "month", "budget_id"),
                           measures=("credits",), rows={
                               (self.organization_id, self.month, b.id): (b.spent,)
                               for b in spent})

    def _all(self) -> list[_Budget]:
        key_budget = [self._key_budget] if self._key_budget is not None else []
        return [*key_budget, *self._by_user.values()]

    def crossings(self) -> list[Crossing]:
        """The levels this charge reached that were not yet announced this month."""
        found = []
        for budget in self._all():
            used = budget.used + budget.spent
            if not budget.exhausted and (budget.refused or used >= budget.monthly_limit):
                level = EXHAUSTED
            elif not budget.warned and used >= budget.monthly_limit * WARNING_SHARE:
                level = WARNING
            else:
                continue
            if budget.spent or budget.refused:  # this charge did it
                found.append(Crossing(budget.id, self.month, level, budget.kind, budget.name,
                                      budget.monthly_limit, used))
        return found

    def announce(self, organization) -> None:
        """Tell the listeners, after commit, of the levels reached (never inside it)."""
        if crossings := self.crossings():
            for listener in BUDGET_LISTENERS:
                transaction.on_commit(
                    lambda listener=listener: listener(organization=organization,
                                                       crossings=crossings),
                    robust=True)
