"""Property: for random usage, every figure of the monthly summary page, its CSV, the
transactions CSV and `usage_summary` equals the sum over the raw usage events.

Each example records its events through the real ingestion service (so through the
rollup the reports read) for a fresh organisation, some on either side of the
month's UTC edges, then recomputes every figure in Python from UsageEvent rows.
"""

import csv
import io
import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import money
from billing.models import UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.usage_fixtures import funded, seed_prices
from tests.conftest import Role, make_member, make_org

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
LABELS = ["", "chat", "=SUM(A1)", "+1", "-x", "@home", "ana@acme.test"]
_orgs = itertools.count()

END = datetime(2026, 4, 1, tzinfo=UTC)
# Anywhere from a day and a half before the month to a day and a half after it, and often
# right on its UTC edges.
EDGES = [START - timedelta(microseconds=1), START, END - timedelta(microseconds=1), END]
moments = st.one_of(
    st.sampled_from(EDGES),
    st.integers(min_value=-36 * 60, max_value=(31 * 24 + 36) * 60).map(
        lambda minutes: START + timedelta(minutes=minutes)),
)
ai = st.fixed_dictionaries({
    "type": st.just("ai_tokens"), "model": st.just("gpt-4o"),
    "input_tokens": st.integers(0, 200_000), "output_tokens": st.integers(0, 50_000),
})
infra = st.fixed_dictionaries({
    "type": st.just("infrastructure"),
    "meter": st.sampled_from(["compute.gpu_seconds", "bandwidth.egress_gb"]),
    "quantity": st.decimals(min_value=Decimal("0.001"), max_value=5000, places=3).map(str),
})
events = st.lists(
    st.tuples(st.one_of(ai, infra), st.sampled_from(LABELS), st.sampled_from(LABELS), moments),
    min_size=1, max_size=12,
)


def expected_figures(org):
    """Everything the March 2026 summary should say, from the raw events."""
    march = UsageEvent.objects.filter(organization=org, occurred_at__gte=START,
                                      occurred_at__lt=END)
    sums = defaultdict(lambda: [0, Decimal(0), 0, 0, Decimal(0), Decimal(0)])
    sums[("total", "", "2026-03")]  # the month's total is there even when it is nothing
    for e in march:
        for key in (("total", "", "2026-03"), ("type", e.type, e.type),
                    ("resource", e.type, e.resource), ("operation", "", e.operation),
                    ("user", "", e.user_label),
                    ("day", "", e.occurred_at.astimezone(UTC).date().isoformat())):
            s = sums[key]
            s[0] += 1
            s[1] += e.quantity
            s[2] += e.input_tokens
            s[3] += e.output_tokens
            s[4] += e.cost_usd
            s[5] += e.credits
    return sums


def figures_from_csv(text):
    found = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["section"] == "previous":
            continue
        name = row["name"][1:] if row["name"].startswith("'") else row["name"]
        # A quantity only within one unit: on a model's or meter's row, with its unit.
        one_unit = row["section"] == "resource"
        assert bool(row["quantity"]) == one_unit and bool(row["unit"]) == one_unit, row
        assert len(row["cost_usd"].partition(".")[2]) == 16, row  # one precision
        measures = [int(row["events"]), Decimal(row["quantity"]) if one_unit else None,
                    int(row["input_tokens"]),
                    int(row["output_tokens"]), Decimal(row["cost_usd"]), Decimal(row["credits"])]
        if row["section"] == "day" and measures[0] == 0:
            continue  # the CSV lists every day; the raw events only the days with usage
        found[(row["section"], row["usage_type"], name)] = measures
    return found


def figures_from_summary(summary):
    found = {("total", "", "2026-03"): summary.totals}
    for row in summary.breakdowns["type"]:
        found[("type", row["usage_type"], row["usage_type"])] = row
    for row in summary.breakdowns["resource"]:
        found[("resource", row["usage_type"], row["resource"])] = row
    for row in summary.breakdowns["operation"]:
        found[("operation", "", row["operation"])] = row
    for row in summary.breakdowns["user"]:
        found[("user", "", row["user_label"])] = row
    for row in summary.days:
        if row["events"]:
            found[("day", "", row["day"].isoformat())] = row
    names = ("events", "quantity", "input_tokens", "output_tokens", "cost_usd", "credits")
    return {k: [v[n] for n in names] for k, v in found.items()}


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=events)
def test_every_figure_equals_the_sum_over_raw_events(client, prices, batch):
    org = make_org(f"prop{next(_orgs)}")
    funded(org, 10**9)
    client.force_login(make_member(org, f"m@{org.slug}.test", Role.MEMBER))
    for n, (event, operation, user, when) in enumerate(batch):
        record_usage(organization=org, now=when, events=[
            {**event, "idempotency_key": f"k{n}", "operation": operation, "user": user}])

    expected = {k: list(v) for k, v in expected_figures(org).items()}
    params = {"year": 2026, "month": 3}

    page = client.get(reverse("monthly_summary", args=[org.slug]), params)
    summary = page.context["summary"]
    assert figures_from_summary(summary) == expected
    total = expected.get(("total", "", "2026-03"), [0, 0, 0, 0, 0, Decimal(0)])
    assert f'data-testid="summary-credits">{money.display_rounded(total[5])}<' in (
        page.content.decode())

    download = client.get(reverse("monthly_summary_csv", args=[org.slug]), params)
    in_csv = {k: [v[0], v[1] if k[0] == "resource" else None, *v[2:]]
              for k, v in expected.items()}
    assert figures_from_csv(b"".join(download.streaming_content).decode()) == in_csv

    out = StringIO()
    call_command("usage_summary", "--org", org.slug, "--year", "2026", "--month", "3",
                 "--format", "csv", stdout=out)
    assert figures_from_csv(out.getvalue()) == in_csv
    out = StringIO()
    call_command("usage_summary", "--org", org.slug, "--year", "2026", "--month", "3",
                 "--format", "json", stdout=out)
    rows = json.loads(out.getvalue())["rows"]
    total_row = next(r for r in rows if r["section"] == "total")
    assert Decimal(total_row["credits"]) == total[5] and total_row["events"] == total[0]

    # The transactions CSV: one usage row per charged event, its amount minus its credits.
    ledger = client.get(reverse("transactions_csv", args=[org.slug]), {"kind": "usage"})
    usage_rows = list(csv.DictReader(io.StringIO(b"".join(ledger.streaming_content).decode())))
    charged = UsageEvent.objects.filter(organization=org, credits__gt=0)
    assert sorted(Decimal(r["amount"]) for r in usage_rows) == sorted(-e.credits
                                                                       for e in charged)
    assert sum(-Decimal(r["amount"]) for r in usage_rows) == sum(
        (e.credits for e in UsageEvent.objects.filter(organization=org)), Decimal(0))


@pytest.fixture
def prices(db):
    seed_prices()
