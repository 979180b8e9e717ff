"""The portal's usage page (reads the rollup) and the dashboard's usage figures."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import money
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import ai_event, funded, gpu_event, seed_prices
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def usage(org):
    seed_prices()
    funded(org)
    make_member(org, "ana@acme.test")
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    record_usage(organization=org, events=[
        ai_event("a", operation="chat", user="ana@acme.test"),
        ai_event("b", operation="summarise", occurred_at=yesterday),
        gpu_event("c", operation="fine-tune"),
    ])


def page(client, org, **params):
    response = client.get(reverse("usage", args=[org.slug]), params)
    assert response.status_code == 200
    return response


def test_members_see_totals_and_breakdowns(member_client, org, usage):
    response = page(member_client, org)
    body = response.content.decode()
    assert response.context["totals"]["events"] == 3
    assert 'data-testid="usage-credits"' in body and "8.07" in body  # 0.42 x 2 + 7.23
    assert {r["resource"] for r in response.context["by_resource"]} == {
        "gpt-4o", "compute.gpu_seconds"
    }
    assert "ana@acme.test" in body and "summarise" in body and "fine-tune" in body


@pytest.mark.parametrize("params, events", [
    ({"type": "infrastructure"}, 1),
    ({"type": "ai_tokens"}, 2),
    ({"resource": "gpt-4o"}, 2),
    ({"operation": "chat"}, 1),
    ({"user": "ana@acme.test"}, 1),
    ({"user": "__none__"}, 2),
])
def test_filters(member_client, org, usage, params, events):
    assert page(member_client, org, **params).context["totals"]["events"] == events


def test_date_range(member_client, org, usage):
    today = timezone.now().date()
    only_today = page(member_client, org, start=today.isoformat(), end=today.isoformat())
    assert only_today.context["totals"]["events"] == 2
    assert [r["day"] for r in only_today.context["by_day"]] == [today]


def test_bad_filters_show_errors(member_client, org, usage):
    response = page(member_client, org, start="2026-02-01", end="2026-01-01")
    assert "totals" not in response.context
    assert "must not be after" in response.content.decode()
    response = page(member_client, org, resource="not-a-resource")
    assert "totals" not in response.context


def test_other_orgs_are_not_found(client, other_admin, org):
    client.force_login(other_admin)
    assert client.get(reverse("usage", args=[org.slug])).status_code == 404


def test_the_dashboard_shows_runway_and_this_months_spend(member_client, org, usage):
    body = member_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    assert 'data-testid="runway"' in body and "days" in body
    assert 'data-testid="month-spend"' in body
    assert reverse("usage", args=[org.slug]) in body


def test_the_dashboard_without_usage(member_client, org):
    body = member_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    assert "no usage in the last 7 days" in body


def test_quantities_are_shown_in_their_own_unit(member_client, org, usage):
    body = page(member_client, org).content.decode()
    # Two AI events of 1,000 in and 100 out; one of 120.5 GPU seconds. Not as credits
    # ("120.50", "2,200.00") and never summed into one figure.
    assert ">2,200 tokens<" in body and ">120.5 GPU second<" in body
    assert "120.50" not in body and "2,200.00" not in body and "2,320.5" not in body


def test_provider_cost_reads_as_money_with_its_code(member_client, org, usage):
    response = page(member_client, org)
    cost = response.context["totals"]["cost_usd"]
    body = response.content.decode()
    assert f'data-testid="usage-cost">{money.display_usd(cost)}</div>' in body
    assert re.fullmatch(r"\d[\d,]*\.\d\d USD", money.display_usd(cost))
