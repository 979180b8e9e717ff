"""The org's monthly summary page: UTC months, totals, breakdowns, charts, scoping."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import money
from tests.billing.usage_fixtures import AI_CREDITS, GPU_CREDITS, ai_event
from tests.reporting.usage_data import at, march_usage, record

pytestmark = pytest.mark.django_db


def get(client, org, **params):
    return client.get(reverse("monthly_summary", args=[org.slug]), params)


def test_member_reads_the_month_totals_and_breakdowns(member_client, org):
    march_usage(org)
    response = get(member_client, org, year=2026, month=3)
    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.totals["events"] == 3
    assert summary.totals["credits"] == 2 * AI_CREDITS + GPU_CREDITS
    assert summary.previous_totals["credits"] == AI_CREDITS  # February's one event
    assert {r["resource"] for r in summary.breakdowns["resource"]} == {"gpt-4o",
                                                                      "compute.gpu_seconds"}
    assert {r["user_label"] for r in summary.breakdowns["user"]} == {"ana@acme.test",
                                                                    "bo@acme.test", ""}
    body = response.content.decode()
    assert "March 2026" in body and "<svg" in body and "fine-tune" in body
    assert 'data-testid="summary-credits">8.07<' in body
    cost = money.display_usd(summary.totals["cost_usd"])
    assert cost.endswith(" USD") and f'data-testid="summary-cost">{cost}<' in body


def test_an_event_at_2359_utc_on_the_last_day_counts_in_that_month(member_client, org):
    march_usage(org)
    days = get(member_client, org, year=2026, month=3).context["summary"].days
    assert len(days) == 31 and days[-1]["credits"] == GPU_CREDITS


def test_bad_month_shows_an_error_and_no_figures(member_client, org):
    response = get(member_client, org, year=2026, month=13)
    assert response.status_code == 200 and "summary" not in response.context
    assert "Select a valid choice" in response.content.decode()


def test_another_orgs_member_gets_404(client, org, other_admin):
    client.force_login(other_admin)
    assert get(client, org).status_code == 404


def test_queries_do_not_grow_with_the_rows(member_client, org):
    march_usage(org)
    get(member_client, org, year=2026, month=3)  # the first visit records the org used last
    with CaptureQueriesContext(connection) as few:
        get(member_client, org, year=2026, month=3)
    record(org, [ai_event(f"more{n}", operation=f"op{n}", user=f"u{n}@x.test")
                 for n in range(40)], when=at(10))
    with CaptureQueriesContext(connection) as many:
        response = get(member_client, org, year=2026, month=3)
    assert response.context["summary"].totals["events"] == 43
    assert len(many) == len(few)
    assert len(few) <= 22, [q["sql"] for q in few.captured_queries]


def test_change_against_last_month(member_client, org):
    march_usage(org)
    summary = get(member_client, org, year=2026, month=3).context["summary"]
    assert summary.change == 2 * AI_CREDITS + GPU_CREDITS - AI_CREDITS
    assert summary.change_percent == (summary.change * 100 / AI_CREDITS).quantize(Decimal("0.1"))
