"""The seed_demo step that adds three weeks of usage."""

from io import StringIO

import pytest

from billing.demo.usage_history import seed_usage_history
from billing.models import CreditAccount, UsageEvent
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import seed_prices

pytestmark = pytest.mark.django_db


def test_grants_what_it_needs_then_records_weeks_of_usage_once(org):
    seed_prices()
    out = StringIO()
    seed_usage_history(org, out)
    events = UsageEvent.objects.filter(organization=org)
    assert events.count() > 1000 and "usage history" in out.getvalue()
    days = {e.occurred_at.date() for e in events.only("occurred_at")}
    assert len(days) >= 20
    assert CreditAccount.objects.get().balance > 0
    seed_usage_history(org, StringIO())  # idempotent
    assert UsageEvent.objects.filter(organization=org).count() == events.count()
    assert_ledger_ok(org)


def test_skips_without_prices(org):
    out = StringIO()
    seed_usage_history(org, out)
    assert "skipped" in out.getvalue() and not UsageEvent.objects.exists()
