"""manage.py usage_summary --org SLUG --year Y --month M [--format table|csv|json]."""

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.billing.usage_fixtures import AI_CREDITS, GPU_CREDITS
from tests.reporting.usage_data import march_usage

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("usage_summary", *args, stdout=out)
    return out.getvalue()


def test_csv_is_the_page_download(member_client, org):
    march_usage(org)
    printed = run("--org", "acme", "--year", "2026", "--month", "3", "--format", "csv")
    page = member_client.get(reverse("monthly_summary_csv", args=[org.slug]),
                             {"year": 2026, "month": 3})
    assert printed == b"".join(page.streaming_content).decode()


def test_json_amounts_are_strings(org):
    march_usage(org)
    data = json.loads(run("--org", "acme", "--year", "2026", "--month", "3", "--format", "json"))
    total = next(r for r in data["rows"] if r["section"] == "total")
    assert total["credits"] == "8.070000" and total["events"] == 3
    assert Decimal(total["credits"]) == 2 * AI_CREDITS + GPU_CREDITS
    assert data["month"] == "2026-03"


def test_json_is_one_document_laid_out_as_jq_would(org):
    march_usage(org)
    printed = run("--org", "acme", "--year", "2026", "--month", "3", "--format", "json")
    assert printed == json.dumps(json.loads(printed), indent=2) + "\n"
    assert '  "organization": "acme",' in printed.splitlines()


def test_table_lines_up(org):
    march_usage(org)
    lines = run("--org", "acme", "--year", "2026", "--month", "03").splitlines()
    assert lines[0].split()[:3] == ["section", "usage_type", "name"]
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[-1] == "8.070000"
    rows = list(csv.reader(io.StringIO(run("--org", "acme", "--year", "2026", "--month", "3",
                                           "--format", "csv"))))
    assert len(lines) == len(rows)


@pytest.mark.parametrize("args, message", [
    (["--org", "nope", "--year", "2026", "--month", "3"], "no organisation with slug 'nope'"),
    (["--org", "acme", "--year", "2026", "--month", "13"], "month must be between 1 and 12"),
    (["--org", "acme", "--year", "twenty", "--month", "3"], "whole numbers"),
    (["--org", "acme", "--year", "1999", "--month", "3"], "year must be between"),
    (["--org", "acme", "--year", "2026", "--month", "3", "--format", "xml"], "--format must be"),
])
def test_bad_arguments_are_one_line_errors(org, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


@pytest.mark.system
def test_bad_arguments_exit_1_with_one_line(org):
    result = subprocess.run(
        [sys.executable, "manage.py", "usage_summary", "--org", "acme", "--year", "2026",
         "--month", "0"], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "month must be between" in result.stderr
