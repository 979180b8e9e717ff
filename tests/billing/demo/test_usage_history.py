"""The seed_demo step that adds three weeks of usage."""

from io import StringIO

import pytest

from billing.demo.usage_history import seed_usage_history
from billing.models import CreditAccount, LedgerEntry, UsageEvent
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


def test_each_days_usage_is_charged_on_that_day_in_the_ledgers_order(org):
    """As a client reporting as it goes would have been charged: a usage entry is dated
    at its last event, on the day its events happened, and the ledger's order (its ids)
    is the order of its dates, the grant for the history first."""
    seed_prices()
    seed_usage_history(org, StringIO())
    charges = LedgerEntry.objects.filter(account__organization=org, kind="usage")
    assert charges.count() > 21 * 12  # an hour's events at a time, not one batch a day
    for entry in charges.order_by("?")[:40]:
        moments = [e.occurred_at for e in entry.usage_events.all()]
        assert entry.created_at == max(moments)
        assert {m.date() for m in moments} == {entry.created_at.date()}
    dates = list(LedgerEntry.objects.filter(account__organization=org).order_by("id")
                 .values_list("created_at", flat=True))
    first_event = UsageEvent.objects.order_by("occurred_at").first().occurred_at
    assert dates == sorted(dates) and dates[0] < first_event
