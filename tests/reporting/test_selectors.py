"""reporting.selectors: the usage page's totals and breakdowns from the rollup."""

from datetime import date
from decimal import Decimal

import pytest

from reporting import selectors
from tests.billing.usage_fixtures import rollup_row as row

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 27)


def test_filters_and_breakdowns(org):
    row(org, TODAY, 1, user_label="ana@acme.test", operation="chat")
    row(org, TODAY, 2, user_label="", operation="chat", resource="gpt-4o-mini")
    row(org, date(2026, 11, 26), 4, usage_type="infrastructure", resource="compute.gpu_seconds")
    everything = selectors.UsageFilter(start=date(2026, 11, 1), end=TODAY)
    assert selectors.usage_totals(org, everything)["credits"] == Decimal(7)
    by_resource = selectors.usage_breakdown(org, everything, by="resource")
    assert [r["resource"] for r in by_resource] == ["compute.gpu_seconds", "gpt-4o-mini", "gpt-4o"]
    no_user = selectors.UsageFilter(start=date(2026, 11, 1), end=TODAY, user_label="")
    assert selectors.usage_totals(org, no_user)["credits"] == Decimal(6)
    chat = selectors.UsageFilter(start=TODAY, end=TODAY, operation="chat", usage_type="ai_tokens")
    assert [r["day"] for r in selectors.usage_by_day(org, chat)] == [TODAY]
    assert selectors.usage_totals(org, chat)["events"] == 2
    choices = selectors.filter_choices(org, since=date(2026, 1, 1))
    assert choices == {"resource": ["compute.gpu_seconds", "gpt-4o", "gpt-4o-mini"],
                       "operation": ["chat"], "user_label": ["ana@acme.test"]}
