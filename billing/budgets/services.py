"""Org admins' writes to monthly budgets (docs/budgets.md): set one, or clear it. Each is
recorded in the settings history. Bad input raises BudgetError naming the field and
changes nothing.

Clearing takes the org's account lock, so it never deletes a budget that a charge
holding the lock is about to add its credits to (the charge commits first, then the
budget and its months go).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import record_change
from billing import money
from billing.models import Budget, CreditAccount

AREA = "budgets"


class BudgetError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Subject:
    """Whose budget: one API key of the org, or one user (an email, as events send it)."""

    api_key: ApiKey | None = None
    user_label: str = ""

    def describe(self) -> str:
        return f"API key {self.api_key.name}" if self.api_key else self.user_label


def api_key_subject(*, organization, prefix: str) -> Subject:
    """The org's API key with this prefix (revoked ones included: their budget may be
    cleared), or BudgetError on `api_key`."""
    key = ApiKey.objects.filter(organization=organization, prefix=str(prefix).strip()).first()
    if key is None:
        raise BudgetError("api_key", f"no API key of this organisation starts {prefix!r}")
    return Subject(api_key=key)


def user_subject(email: str) -> Subject:
    """A user by email, lower-cased as events' `user` is; BudgetError on `user`."""
    label = str(email).strip().lower()
    limit = Budget._meta.get_field("user_label").max_length
    try:
        validate_email(label)
    except ValidationError:
        raise BudgetError("user", f"{str(email)[:60]!r} is not an email address") from None
    if len(label) > limit:
        raise BudgetError("user", f"an email of at most {limit} characters")
    return Subject(user_label=label)


def parse_limit(value) -> Decimal:
    """A monthly limit in credits: zero or more, at most six places; BudgetError otherwise."""
    try:
        return money.parse_credits(value, allow_zero=True)
    except money.InvalidAmount as error:
        raise BudgetError("monthly_limit", str(error)) from None


def _by(via: str) -> str:
    return f" (by {via})" if via else ""


def _lookup(organization, subject: Subject):
    if subject.api_key is not None:
        return Budget.objects.filter(organization=organization, api_key=subject.api_key)
    return Budget.objects.filter(organization=organization, user_label=subject.user_label)


@transaction.atomic
def set_budget(*, organization, subject: Subject, monthly_limit, actor, via: str = "") -> Budget:
    """Create or change the subject's budget. What it used this month is kept. `via`: how,
    when not by a person in the portal (e.g. "API key ci"), for the settings history."""
    limit = parse_limit(monthly_limit)
    if subject.api_key is not None and subject.api_key.organization_id != organization.pk:
        raise BudgetError("api_key", "that API key belongs to another organisation")
    now = timezone.now()
    budget, created = _lookup(organization, subject).select_for_update().get_or_create(
        defaults={"organization": organization, "api_key": subject.api_key,
                  "user_label": subject.user_label, "monthly_limit": limit,
                  "created_at": now, "updated_at": now, "updated_by": actor})
    if not created:
        if budget.monthly_limit == limit:
            return budget  # the same value again (a resubmitted form): nothing to record
        budget.monthly_limit, budget.updated_at, budget.updated_by = limit, now, actor
        budget.save(update_fields=["monthly_limit", "updated_at", "updated_by"])
    record_change(organization=organization, actor=actor, area=AREA,
                  action="set" if created else "changed",
                  summary=f"Monthly budget of {subject.describe()}: "
                          f"{money.display(limit)} credits{_by(via)}")
    return budget


@transaction.atomic
def clear_budget(*, organization, subject: Subject, actor, via: str = "") -> bool:
    """Remove the subject's budget and its months; False when there was none."""
    CreditAccount.objects.select_for_update().filter(organization=organization).first()
    budget = _lookup(organization, subject).first()
    if budget is None:
        return False
    budget.delete()  # its months go with it (CASCADE)
    record_change(organization=organization, actor=actor, area=AREA, action="cleared",
                  summary=f"Monthly budget of {subject.describe()} cleared{_by(via)}")
    return True
