"""The 80% and 100% emails of a budget: to the org's admins, after the charge commits, once
each per budget and month, whatever retries or repeats happen.

Transactional: the listener runs after commit, as in production, and the email goes
through the real django-q2 task function (sync in tests) to Django's locmem outbox."""

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail

from billing.budgets.notify import notify_once
from billing.budgets.services import api_key_subject, clear_budget, set_budget, user_subject
from billing.models import BudgetMonth, Notification, NotificationKind
from billing.usage.ingestion.budgets import EXHAUSTED, WARNING, Crossing
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import GPU_CREDITS, api_key_for, funded, gpu_event, seed_prices

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key(org, admin_user, member_user):
    seed_prices()
    funded(org, 1000)
    return api_key_for(org, name="batch")


def budget_for(org, key, limit):
    return set_budget(organization=org, subject=api_key_subject(
        organization=org, prefix=key.api_key.prefix), monthly_limit=limit, actor=None)


def charge(org, key, *names, **extra):
    return record_usage(organization=org, api_key=key.api_key,
                        events=[gpu_event(name, **extra) for name in names])


def kinds():
    return list(Notification.objects.order_by("id").values_list("kind", flat=True))


def test_80_percent_emails_the_admins_once(org, key):
    budget_for(org, key, 5 * GPU_CREDITS)
    charge(org, key, "e1", "e2", "e3")  # 60%
    assert mail.outbox == []
    charge(org, key, "e4")  # 80%
    charge(org, key, "e5_not_yet")  # 100%: the other email
    assert kinds() == [NotificationKind.BUDGET_WARNING, NotificationKind.BUDGET_EXHAUSTED]
    warning, exhausted = mail.outbox
    assert warning.to == ["admin@acme.test"]  # admins only, not the member
    assert warning.subject == "The monthly budget of API key batch is 80% used"
    assert "has used 28.92 of its 36.15 credits this month" in warning.body
    assert "/o/acme/budgets/" in warning.body
    assert exhausted.subject == "The monthly budget of API key batch is used up"
    assert "budget_exceeded" in exhausted.alternatives[0][0]  # the HTML part says it too
    charge(org, key, "e6")  # refused: already told
    assert len(mail.outbox) == 2


def test_the_first_refusal_tells_the_admins_the_budget_is_used_up(org, key):
    budget_for(org, key, 10)  # one GPU event (7.23), then 2.77 left: never exactly 100%
    charge(org, key, "e1")
    assert mail.outbox == []
    result = charge(org, key, "e2", "e3")
    assert [r.error["code"] for r in result.results] == ["budget_exceeded"] * 2
    assert kinds() == [NotificationKind.BUDGET_EXHAUSTED]
    # Used up claims the 80% one too: no warning arrives after it.
    charge(org, key, "e4")
    assert kinds() == [NotificationKind.BUDGET_EXHAUSTED]


def test_a_user_budget_at_zero_is_told_on_its_first_refusal(org, key):
    set_budget(organization=org, subject=user_subject("ana@acme.test"), monthly_limit=0,
               actor=None)
    charge(org, key, "e1", user="ana@acme.test")
    assert [m.subject for m in mail.outbox] == [
        "The monthly budget of user ana@acme.test is used up"]


def test_a_repeated_crossing_is_sent_once_and_a_new_month_again(org, key):
    budget = budget_for(org, key, 10)
    crossing = Crossing(budget.pk, date(2026, 11, 1), WARNING, "api_key", "batch",
                        Decimal(10), Decimal(9))
    assert notify_once(organization=org, crossing=crossing) is True
    assert notify_once(organization=org, crossing=crossing) is False  # a retry
    december = Crossing(budget.pk, date(2026, 12, 1), WARNING, "api_key", "batch",
                        Decimal(10), Decimal(8))
    assert notify_once(organization=org, crossing=december) is True
    assert len(mail.outbox) == 2
    assert BudgetMonth.objects.filter(budget=budget, warned_at__isnull=False).count() == 2


def test_a_budget_cleared_before_its_notification_sends_nothing(org, key):
    budget = budget_for(org, key, 10)
    clear_budget(organization=org, subject=api_key_subject(
        organization=org, prefix=key.api_key.prefix), actor=None)
    crossing = Crossing(budget.pk, date(2026, 12, 1), EXHAUSTED, "api_key", "batch",
                        Decimal(10), Decimal(10))
    assert notify_once(organization=org, crossing=crossing) is False
    assert mail.outbox == [] and not Notification.objects.exists()
