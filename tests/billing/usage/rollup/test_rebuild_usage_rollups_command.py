"""manage.py rebuild_usage_rollups [--org SLUG] [--month YYYY-MM] [--check]."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import DailyUsage
from billing.usage.rollup.rebuild import (
    differences,
    differences_in_python,
    differences_in_sql,
)
from tests.billing.usage_fixtures import rollup_row
from tests.reporting.usage_data import march_usage

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    try:
        call_command("rebuild_usage_rollups", *args, stdout=out)
    except SystemExit as exit:
        return exit.code, out.getvalue()
    return 0, out.getvalue()


def snapshot(org):
    return sorted(DailyUsage.objects.filter(organization=org).values_list(
        "day", "usage_type", "resource", "operation", "user_label", "event_count", "quantity",
        "input_tokens", "output_tokens", "cost_usd", "credits"))


def test_a_rollup_written_by_the_charges_matches(org):
    march_usage(org)
    assert run("--check") == (0, "Rollup matches the events: 1 organisation(s).\n")


def test_check_reports_damage_and_changes_nothing(org):
    march_usage(org)
    DailyUsage.objects.filter(organization=org, resource="gpt-4o").update(credits=0)
    rollup_row(org, date(2026, 3, 9), "5", resource="ghost")
    before = snapshot(org)
    code, out = run("--org", "acme", "--check")
    assert code == 1
    assert "ghost" in out and "events stored, none recorded" in out
    assert ("2026-03-03 ai_tokens gpt-4o op='chat' user='ana@acme.test': "
            "credits 0.000000 != 0.420000") in out
    assert "Nothing changed" in out and snapshot(org) == before


def test_rebuild_repairs_exactly_what_the_charges_wrote(org):
    march_usage(org)
    good = snapshot(org)
    DailyUsage.objects.filter(organization=org, resource="gpt-4o").update(credits=0)
    DailyUsage.objects.filter(organization=org, resource="compute.gpu_seconds").delete()
    rollup_row(org, date(2026, 3, 9), "5", resource="ghost")
    code, out = run("--org", "acme")
    assert code == 0 and "Rollup rebuilt" in out
    assert snapshot(org) == good and differences(org) == []


def test_month_narrows_the_rebuild(org):
    march_usage(org)
    rollup_row(org, date(2026, 2, 9), "5", resource="ghost-feb")
    rollup_row(org, date(2026, 3, 9), "5", resource="ghost-mar")
    run("--month", "2026-03")
    left = {r[2] for r in snapshot(org)}
    assert "ghost-feb" in left and "ghost-mar" not in left


@pytest.mark.postgres
def test_the_comparison_in_the_database_finds_what_the_python_one_finds(org):
    """On PostgreSQL the check runs as one query; it must report the same rows and
    totals as the comparison in Python, range or not."""
    march_usage(org)
    assert differences_in_sql(org) == [] == differences_in_python(org)
    DailyUsage.objects.filter(organization=org, resource="gpt-4o").update(credits=0)
    DailyUsage.objects.filter(organization=org, resource="compute.gpu_seconds").delete()
    rollup_row(org, date(2026, 3, 9), "5", resource="ghost")
    rollup_row(org, date(2026, 2, 9), "5", resource="ghost-feb")
    found = differences_in_sql(org)
    assert found == differences_in_python(org)
    assert {d.key[2] for d in found} >= {"gpt-4o", "compute.gpu_seconds", "ghost", "ghost-feb"}
    march = {"first": date(2026, 3, 1), "following": date(2026, 4, 1)}
    assert differences_in_sql(org, **march) == differences_in_python(org, **march)
    assert "ghost-feb" not in {d.key[2] for d in differences_in_sql(org, **march)}


@pytest.mark.parametrize("args, message", [
    (["--month", "2026-3"], "--month must be written YYYY-MM"),
    (["--month", "2026-13"], "--month must be written YYYY-MM"),
    (["--org", "nope"], "no organisation with slug 'nope'"),
])
def test_bad_arguments(org, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
