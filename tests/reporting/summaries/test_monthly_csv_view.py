"""The monthly summary CSV: the page's figures, six places, inert cells."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.billing.usage_fixtures import AI_CREDITS, GPU_CREDITS, ai_event, rollup_row
from tests.reporting.usage_data import at, march_usage, record

pytestmark = pytest.mark.django_db


def rows(response):
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def get(client, org, **params):
    return client.get(reverse("monthly_summary_csv", args=[org.slug]), params)


def test_totals_and_sections(member_client, org):
    march_usage(org)
    response = get(member_client, org, year=2026, month=3)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert "usage-acme-2026-03.csv" in response["Content-Disposition"]
    found = rows(response)
    total = next(r for r in found if r["section"] == "total")
    assert Decimal(total["credits"]) == 2 * AI_CREDITS + GPU_CREDITS
    assert total["credits"] == "8.070000"
    assert sum(Decimal(r["credits"]) for r in found if r["section"] == "day") == Decimal(
        total["credits"])
    assert {r["section"] for r in found} == {"total", "previous", "type", "resource",
                                             "operation", "user", "day"}


def test_quantities_only_within_one_unit_and_costs_at_one_precision(member_client, org):
    march_usage(org)
    found = rows(get(member_client, org, year=2026, month=3))
    resources = {r["name"]: (r["quantity"], r["unit"]) for r in found
                 if r["section"] == "resource"}
    # 2 x (1,000 in + 100 out) tokens of gpt-4o; 120.5 GPU seconds: never added together.
    assert resources == {"gpt-4o": ("2200.000000", "tokens"),
                         "compute.gpu_seconds": ("120.500000", "GPU second")}
    for row in found:
        if row["section"] != "resource":
            assert (row["quantity"], row["unit"]) == ("", ""), row
        assert len(row["cost_usd"].partition(".")[2]) == 16, row


@pytest.mark.parametrize("label", ["=HYPERLINK(\"http://evil\")", "+1", "-1", "@SUM(1)",
                                   "\tx", "\rx"])
def test_user_and_operation_labels_come_out_inert(member_client, org, label):
    # The API strips whitespace from labels, so tab and CR can only come from elsewhere
    # (a rebuilt or imported rollup): written straight into the rollup here.
    rollup_row(org, date(2026, 3, 5), "1.5", operation=label, user_label=label)
    found = rows(get(member_client, org, year=2026, month=3))
    names = {r["name"] for r in found if r["section"] in ("operation", "user")}
    assert "'" + label in names
    assert not any(name.startswith(("=", "+", "-", "@", "\t", "\r")) for name in names)


def test_a_formula_sent_through_the_api_comes_out_inert(member_client, org):
    march_usage(org)
    record(org, [ai_event("evil", operation="=1+2", user="@evil")], when=at(5))
    found = rows(get(member_client, org, year=2026, month=3))
    assert {"'=1+2", "'@evil"} <= {r["name"] for r in found}


def test_bad_month_is_400(member_client, org):
    assert get(member_client, org, year="x", month=1).status_code == 400


def test_another_orgs_member_gets_404(client, org, other_admin):
    client.force_login(other_admin)
    assert get(client, org).status_code == 404
