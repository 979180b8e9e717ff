"""The transactions CSV: exactly the filtered rows, in the page's order, six places, inert cells."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.ledger.corrections import adjust_credits
from billing.models import LedgerEntry
from billing.usage.ingestion.record import record_usage
from reporting.transactions.export import HEADER
from tests.billing.postings import SYSTEM, D
from tests.billing.usage_fixtures import ai_event, funded, gpu_event, seed_prices

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(org):
    seed_prices()
    funded(org)
    record_usage(organization=org, events=[ai_event("a", operation="=cmd()", user="@x"),
                                           gpu_event("b", operation="train")])
    adjust_credits(organization=org, credits=D("-2.5"), reason="-sneaky +1", actor=SYSTEM)


def download(client, org, **params):
    response = client.get(reverse("transactions_csv", args=[org.slug]), params)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv"
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_all_rows_newest_first_as_the_page_with_six_places(member_client, org, ledger):
    rows = download(member_client, org)
    expected = LedgerEntry.objects.filter(account__organization=org).order_by("-id")
    assert [int(r["entry"]) for r in rows] == [e.pk for e in expected]
    assert list(rows[0]) == list(HEADER)
    assert [Decimal(r["amount"]) for r in rows] == [e.amount for e in expected]
    assert rows[0]["amount"] == "-2.500000"  # a number we wrote stays a number


def test_cost_usd_has_one_precision(member_client, org, ledger):
    # A charge of AI events alone sums to ten places ("0.0035000000"), one with a meter
    # to sixteen: the CSV writes every cost to sixteen.
    record_usage(organization=org, events=[ai_event("ai-only")])
    rows = download(member_client, org)
    costs = [r["cost_usd"] for r in rows if r["kind"] == "usage"]
    assert len(costs) == 2 and all(len(c.partition(".")[2]) == 16 for c in costs), costs
    charges = LedgerEntry.objects.filter(account__organization=org, kind="usage").order_by("-id")
    # Exact, never rounded: the same numbers as the entries' metadata.
    assert [Decimal(c) for c in costs] == [Decimal(e.metadata["cost_usd"]) for e in charges]
    assert {r["cost_usd"] for r in rows if r["kind"] != "usage"} == {""}


@pytest.mark.parametrize("sort", ["id", "-amount", "amount"])
def test_rows_follow_the_pages_sort(member_client, org, ledger, sort):
    rows = download(member_client, org, sort=sort)
    page = member_client.get(reverse("transactions", args=[org.slug]), {"sort": sort})
    assert [int(r["entry"]) for r in rows] == [e.pk for e in page.context["page"].rows]


@pytest.mark.parametrize("params", [{"kind": "usage"}, {"resource": "gpt-4o"},
                                    {"sign": "in"}, {"operation": "train", "kind": "usage"}])
def test_exactly_the_rows_the_page_shows(member_client, org, ledger, params):
    rows = download(member_client, org, **params)
    page = member_client.get(reverse("transactions", args=[org.slug]), params)
    assert sorted(int(r["entry"]) for r in rows) == sorted(e.pk for e in page.context["page"].rows)


def test_text_cells_come_out_inert(member_client, org, ledger):
    rows = download(member_client, org)
    # The two events are one charge: its row names both, and starts with "=" all the same.
    [usage] = [r for r in rows if r["kind"] == "usage"]
    assert usage["model_or_meter"] == "compute.gpu_seconds; gpt-4o"
    assert usage["operation"] == "'=cmd(); train" and usage["user"] == "'@x"
    assert usage["usage_type"] == "ai_tokens; infrastructure"
    assert rows[0]["reason"] == "'-sneaky +1"  # the newest, first as on the page


def test_another_orgs_member_gets_404(client, org, ledger, other_admin):
    client.force_login(other_admin)
    assert client.get(reverse("transactions_csv", args=[org.slug])).status_code == 404


def test_both_dates_and_the_used_range_filter(member_client, org, ledger):
    week_ago = timezone.now() - timedelta(days=7)
    record_usage(organization=org, events=[ai_event("late", occurred_at=week_ago.isoformat())])
    late = LedgerEntry.objects.get(usage_events__idempotency_key="late")
    rows = download(member_client, org, start=week_ago.date(), end=week_ago.date(),
                    dates="used")
    assert [int(r["entry"]) for r in rows] == [late.pk]
    assert rows[0]["used_from_utc"] == rows[0]["used_until_utc"] == week_ago.isoformat()
    assert rows[0]["created_at_utc"] == late.created_at.isoformat()
    assert download(member_client, org, start=week_ago.date(), end=week_ago.date()) == []
    adjustment = download(member_client, org, kind="adjustment")[0]
    assert adjustment["used_from_utc"] == adjustment["used_until_utc"] == ""
