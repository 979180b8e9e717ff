"""The dashboard: balance to two places (header too), runway, this month against last,
the latest transactions with a link to all of them, a 30-day sparkline."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.ledger.corrections import adjust_credits
from billing.usage.ingestion.record import record_usage
from reporting.dashboard.selectors import spend_comparison
from tests.billing.postings import SYSTEM, D, consume, grant
from tests.billing.usage_fixtures import AI_CREDITS, ai_event, funded, rollup_row, seed_prices

pytestmark = pytest.mark.django_db


def dashboard(client, org):
    response = client.get(reverse("dashboard", args=[org.slug]))
    assert response.status_code == 200
    return response


def test_balance_in_header_and_card_to_two_places_and_latest_entries(member_client, org):
    grant(org, "1234.567891")
    consume(org, "0.5", key="usage:1")
    body = dashboard(member_client, org).content.decode()
    assert 'data-testid="header-balance"' in body and "<strong>1,234.07</strong>" in body
    assert 'data-testid="dashboard-balance">1,234.07<' in body
    assert "1,234.067891" not in body
    assert "Usage" in body and "\u22120.50" in body
    assert reverse("transactions", args=[org.slug]) in body


def test_debt_is_shown_in_the_header(member_client, org):
    adjust_credits(organization=org, credits=D(-25), reason="chargeback", actor=SYSTEM)
    body = dashboard(member_client, org).content.decode()
    assert "Debt <strong>25.00</strong>" in body
    assert "owes 25.00 credits" in body


def test_this_month_against_last_and_the_sparkline(member_client, org):
    seed_prices()
    funded(org)
    now = timezone.now()
    record_usage(organization=org, events=[ai_event("a"), ai_event("b")])
    last_month = now.replace(day=1) - timedelta(days=1)  # the last day of last month
    record_usage(organization=org, events=[ai_event("c")], now=last_month)
    response = dashboard(member_client, org)
    spend = response.context["spend"]
    assert (spend.this_month, spend.last_month) == (2 * AI_CREDITS, AI_CREDITS)
    body = response.content.decode()
    assert 'data-testid="sparkline"' in body and "<polyline" in body
    in_window = last_month.date() > now.date() - timedelta(days=30)
    total = 3 * AI_CREDITS if in_window else 2 * AI_CREDITS
    assert f"{total:.2f} credits in all" in body


def test_admins_get_the_buy_action_members_do_not(client, org, admin_user, member_user):
    client.force_login(admin_user)
    assert 'data-testid="buy-credits"' in dashboard(client, org).content.decode()
    client.force_login(member_user)
    assert 'data-testid="buy-credits"' not in dashboard(client, org).content.decode()


def test_another_orgs_member_gets_404(client, org, other_admin):
    client.force_login(other_admin)
    assert client.get(reverse("dashboard", args=[org.slug])).status_code == 404


def test_queries_do_not_grow_with_history(member_client, org):
    grant(org, 100)
    dashboard(member_client, org)  # the first visit records the org used last
    with CaptureQueriesContext(connection) as few:
        dashboard(member_client, org)
    for n in range(30):
        consume(org, Decimal("0.1"), key=f"usage:{n}")
    with CaptureQueriesContext(connection) as many:
        dashboard(member_client, org)
    assert len(many) == len(few) and len(few) <= 18  # incl. the header and banners


def test_month_to_date_is_compared_with_the_same_days_of_last_month(org):
    rollup_row(org, date(2026, 11, 3), "10")  # within November's first five days
    rollup_row(org, date(2026, 11, 20), "90")  # later in November: not comparable yet
    rollup_row(org, date(2026, 12, 2), "15")

    spend = spend_comparison(org, today=date(2026, 12, 5))

    assert (spend.this_month, spend.last_month_to_date, spend.last_month) == (
        Decimal("15"), Decimal("10"), Decimal("100"))
    assert spend.change_percent == Decimal("50.0")  # not -85.0 against all of November


def test_on_the_31st_the_same_days_are_all_of_a_shorter_month(org):
    rollup_row(org, date(2026, 2, 28), "20")
    rollup_row(org, date(2026, 3, 1), "1")  # this month: never last month's
    spend = spend_comparison(org, today=date(2026, 3, 31))
    assert spend.last_month_to_date == Decimal("20") == spend.last_month


def test_the_card_names_the_days_compared(member_client, org):
    page = dashboard(member_client, org).content.decode()
    assert f"by day {timezone.now().day} of" in page
