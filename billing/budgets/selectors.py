"""Budgets as the portal and the API read them: each with what it used this month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ApiKey, Membership
from billing import money
from billing.models import Budget, BudgetKind, BudgetMonth
from billing.usage.ingestion.budgets import month_of


@dataclass(frozen=True)
class BudgetUse:
    budget: Budget
    used: Decimal

    @property
    def left(self) -> Decimal:
        return max(self.budget.monthly_limit - self.used, Decimal(0))

    @property
    def percent(self) -> int:
        """How much of the limit is used, in whole percent (100 for a zero limit)."""
        limit = self.budget.monthly_limit
        return 100 if limit == 0 else min(int(self.used * 100 / limit), 100)

    def as_json(self) -> dict:
        budget = self.budget
        return {
            "kind": budget.kind,
            "api_key": ({"prefix": budget.api_key.prefix, "name": budget.api_key.name}
                        if budget.kind == BudgetKind.API_KEY else None),
            "user": budget.user_label or None,
            "monthly_limit": money.canonical(budget.monthly_limit),
            "used": money.canonical(self.used),
            "remaining": money.canonical(self.left),
        }


def this_month() -> date:
    return month_of(timezone.now())


def budgets_of(organization, *, month: date | None = None) -> list[BudgetUse]:
    """The org's budgets (API keys first, then users), each with its month's use: one query."""
    used = (BudgetMonth.objects.filter(budget=OuterRef("pk"), organization=organization,
                                       month=month or this_month()).values("credits")[:1])
    rows = (Budget.objects.filter(organization=organization).select_related("api_key")
            .annotate(used=Coalesce(Subquery(used), Value(Decimal(0)),
                                    output_field=DecimalField(**money.CREDITS_FIELD)))
            .order_by("user_label", "api_key__name", "id"))
    return [BudgetUse(budget=row, used=money.round_credits(Decimal(str(row.used)))) for row in rows]


def budgets_json(organization) -> dict:
    """What GET /api/v1/budgets and the balance answer carry."""
    month = this_month()
    return {"month": f"{month:%Y-%m}",
            "budgets": [use.as_json() for use in budgets_of(organization, month=month)]}


@dataclass(frozen=True)
class SubjectRow:
    """One line of the portal's budgets page: a key or a user, with its budget if any."""

    kind: str
    subject: str  # the key's prefix or the user's email: what the forms send back
    name: str
    detail: str
    use: BudgetUse | None


def budget_rows(organization) -> tuple[list[SubjectRow], list[SubjectRow]]:
    """The org's API keys (active ones, and revoked ones that still have a budget), and its
    users (members, and anyone else with a budget), each with its budget and use."""
    uses = budgets_of(organization)
    by_key = {u.budget.api_key_id: u for u in uses if u.budget.kind == BudgetKind.API_KEY}
    by_user = {u.budget.user_label: u for u in uses if u.budget.kind == BudgetKind.USER}
    keys = [SubjectRow(BudgetKind.API_KEY, key.prefix, key.name,
                       "revoked" if key.revoked_at else "", by_key.get(key.pk))
            for key in ApiKey.objects.filter(organization=organization).order_by("name", "id")
            if key.revoked_at is None or key.pk in by_key]
    members = {email.lower(): role for email, role in Membership.objects.filter(
        organization=organization).values_list("user__email", "role")}
    users = [SubjectRow(BudgetKind.USER, email, email,
                        members[email] if email in members else "not a member",
                        by_user.get(email))
             for email in sorted(set(members) | set(by_user))]
    return keys, users
