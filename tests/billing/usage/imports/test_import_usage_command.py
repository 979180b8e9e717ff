"""manage.py import_usage FILE --org SLUG."""

from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Plan
from billing.models import CreditAccount, LedgerEntry, UsageEvent
from billing.usage.imports import lines as importer
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    GPU_CREDITS,
    ai_event,
    funded,
    gpu_event,
    write_lines,
)
from tests.conftest import make_org

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("prices")]



def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("import_usage", *args, stdout=out, stderr=err)
        error = None
    except CommandError as exc:
        error = exc
    return out.getvalue(), err.getvalue(), error


def test_imports_in_chunks_and_is_safe_to_rerun(tmp_path, org):
    funded(org)
    path = write_lines(tmp_path, [ai_event(f"a{i}") for i in range(25)] + [gpu_event("g")])
    out, err, error = run(path, "--org", "acme", "--chunk-size", "10")
    assert error is None, err
    assert "26 lines: 26 charged" in out and "0 invalid lines" in out
    assert "100.0%" in err  # the progress bar reached the end
    assert UsageEvent.objects.count() == 26
    balance = CreditAccount.objects.get().balance
    assert balance == 1000 - 25 * AI_CREDITS - GPU_CREDITS
    # A batch of the file is one charge: one usage entry per chunk of 10.
    entries = LedgerEntry.objects.filter(kind="usage").order_by("id")
    assert [e.metadata["events"] for e in entries] == [10, 10, 6]
    out, _, error = run(path, "--org", "acme")
    assert error is None and "0 charged" in out and "26 duplicate" in out
    assert CreditAccount.objects.get().balance == balance
    assert LedgerEntry.objects.filter(kind="usage").count() == 3


def test_bad_lines_are_reported_and_skipped(tmp_path, org):
    funded(org)
    path = write_lines(tmp_path, [
        ai_event("ok-1"), "{not json", "", gpu_event("bad-q", quantity="abc"),
        ai_event("bad-model", model="gpt-9"), ai_event("ok-2"), ai_event("ok-1"),
    ])
    out, err, error = run(path, "--org", "acme", "--no-progress")
    assert "7 lines: 2 charged" in out and "1 duplicate" in out and "3 invalid lines" in out
    assert "line 2: not valid JSON" in err and "line 4: quantity" in err
    assert "line 5: model" in err
    assert error is not None  # not everything was imported
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"ok-1", "ok-2"}


def test_rejections_are_counted(tmp_path, org):
    funded(org, 10)
    path = write_lines(tmp_path, [gpu_event("a"), gpu_event("b")])
    out, err, error = run(path, "--org", "acme")
    assert "1 charged" in out and "1 rejected (1 insufficient_credits)" in out
    assert error is not None


@pytest.mark.parametrize("args, message", [
    (["--org", "nope"], "no organisation"),
    (["--org", "acme", "--chunk-size", "1001"], "--chunk-size"),
    (["--org", "acme", "--workers", "0"], "--workers must be at least 1"),
    # SQLite has one writer; on PostgreSQL this test's transaction is invisible to workers.
    (["--org", "acme", "--workers", "2"], "--workers above 1"),
])
def test_bad_arguments(tmp_path, org, args, message):
    path = write_lines(tmp_path, [ai_event("a")])
    _, _, error = run(path, *args)
    assert message in str(error) and not UsageEvent.objects.exists()


def test_missing_file_and_free_plan(tmp_path, org):
    _, _, error = run(str(tmp_path / "missing.jsonl"), "--org", "acme")
    assert "cannot read" in str(error)
    make_org("freebie", plan=Plan.FREE)
    _, _, error = run(write_lines(tmp_path, [ai_event("a")]), "--org", "freebie")
    assert "plan_not_eligible" in str(error)
    assert not UsageEvent.objects.exists()


def test_exact_decimal_quantities_from_json_numbers(tmp_path, org):
    funded(org)
    path = tmp_path / "n.jsonl"
    path.write_text('{"idempotency_key": "n", "type": "infrastructure", '
                    '"meter": "compute.gpu_seconds", "quantity": 120.50}\n')
    run(str(path), "--org", "acme")
    assert UsageEvent.objects.get().quantity == Decimal("120.5")


def test_problems_are_reported_in_line_order(tmp_path, org):
    """JSON errors are found while reading, shape errors before unknown models, rejections
    last; the report lists them by line all the same."""
    funded(org)
    path = write_lines(tmp_path, [
        ai_event("ok"), ai_event("bad-model", model="gpt-9"),
        gpu_event("bad-q", quantity="abc"), "{not json",
    ])
    _, err, _ = run(path, "--org", "acme", "--no-progress")
    reported = [line.split(":")[0].strip() for line in err.splitlines() if "line " in line]
    assert reported == ["line 2", "line 3", "line 4"], err


def test_one_line_file_reads_in_the_singular_and_progress_ends_once(tmp_path, org):
    funded(org)
    path = write_lines(tmp_path, [ai_event("only")])
    out, err, error = run(path, "--org", "acme")
    assert error is None, err
    assert out.startswith("1 line: 1 charged") and "0 invalid lines" in out
    progress = [line for line in err.splitlines() if "events/s" in line]
    assert len(progress) == 1 and "100.0%" in progress[0] and "1 line," in progress[0], err


def test_chunk_size_sets_the_events_per_batch(tmp_path, org):
    funded(org)
    path = write_lines(tmp_path, [ai_event(f"a{i}") for i in range(25)])
    with mock.patch.object(importer, "record_usage", wraps=importer.record_usage) as record:
        run(path, "--org", "acme", "--chunk-size", "10", "--workers", "1")
    assert [len(call.kwargs["events"]) for call in record.call_args_list] == [10, 10, 5]
