"""manage.py import_usage --workers N: worker processes charging in file order.

The workers are forked from the test process, so these tests commit (transaction=True)
and need PostgreSQL. A failure is injected under the account lock by wrapping our own
`Book.write_with_entries` (inherited by the forked workers): the batch is charged in the
book, not yet written nor committed.
"""

import json
import os
import signal
import time
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from billing.ledger.book import Book
from billing.models import CreditAccount, UsageEvent
from billing.usage.imports.workers import import_lines_in_workers
from billing.usage.ingestion.charges import COLUMNS
from tests.billing.postings import assert_ledger_ok
from tests.billing.usage_fixtures import (
    AI_CREDITS,
    ai_event,
    funded,
    gpu_event,
    write_lines,
)
from tests.conftest import make_org

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("prices")]
KEY = COLUMNS.index("idempotency_key")  # in a usage row



def run(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("import_usage", *args, "--no-progress", stdout=out, stderr=err)
        error = None
    except CommandError as exc:
        error = exc
    return out.getvalue(), err.getvalue(), error


def charged(org):
    """(key, balance after) of the org's events in the order they were charged."""
    return list(UsageEvent.objects.filter(organization=org)
                .order_by("balance_after").reverse().values_list("idempotency_key",
                                                                 "balance_after"))


def mixed_lines():
    """Good events, bad lines of every stage, a key repeated within a batch, and more
    events than the credits pay for (the tail is rejected)."""
    lines = []
    for i in range(60):
        lines.append(gpu_event(f"g{i}") if i % 3 == 0 else ai_event(f"a{i}"))
        if i == 7:
            lines += ["{not json", "", gpu_event("bad-q", quantity="abc")]
        if i == 20:
            lines += [ai_event("bad-model", model="gpt-9"), ai_event("a19")]
    return lines


def test_two_workers_charge_in_file_order_with_the_report_of_one_process(tmp_path):
    path = write_lines(tmp_path, mixed_lines())
    alone, shared = funded(make_org("alone"), 100), funded(make_org("shared"), 100)
    out_1, err_1, error_1 = run(path, "--org", "alone", "--workers", "1", "--chunk-size", "2")
    out_2, err_2, error_2 = run(path, "--org", "shared", "--workers", "3", "--chunk-size", "2")
    assert "insufficient_credits" in out_1 and "3 invalid lines" in out_1, out_1
    assert (out_2, err_2, str(error_2)) == (out_1, err_1, str(error_1))
    assert charged(shared) == charged(alone)  # same events, same balances after each
    assert_ledger_ok(shared)
    out, err, _ = run(path, "--org", "shared", "--workers", "2", "--chunk-size", "2", "-v", "2")
    assert "peak RSS: parent" in err and "turn at the account lock held" in err, err
    assert " 0 charged" in out and CreditAccount.objects.get(organization=shared).balance == (
        CreditAccount.objects.get(organization=alone).balance)


@pytest.mark.parametrize("failure", ["killed", "raises"])
def test_a_worker_failing_under_the_lock_leaves_a_committed_prefix_and_a_rerun_completes(
        tmp_path, failure):
    org = funded(make_org("acme"), 1000)
    path = write_lines(tmp_path, [ai_event(f"k{i:02}") for i in range(40)])
    real_write = Book.write_with_entries

    def fail_under_the_lock(book, rows, *hooks):
        # Charged in the book, the lock held, nothing committed. (A small batch's write
        # commits with its statement, so the failure comes just before it.)
        if any(row[KEY] == "k13" for row in rows.rows):
            if failure == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("disk on fire")
        real_write(book, rows, *hooks)

    with mock.patch.object(Book, "write_with_entries", fail_under_the_lock):
        out, _, error = run(path, "--org", "acme", "--workers", "2", "--chunk-size", "4")
    assert "died" in str(error) if failure == "killed" else "disk on fire" in str(error)
    assert "re-run" in str(error)
    # Batches 0-2 (lines 1-12) committed; batch 3 rolled back; batch 4 on never charged.
    assert sorted(UsageEvent.objects.values_list("idempotency_key", flat=True)) == [
        f"k{i:02}" for i in range(12)]
    assert CreditAccount.objects.get().balance == 1000 - 12 * AI_CREDITS
    assert out.startswith("12 lines: 12 charged")
    assert_ledger_ok(org)
    out, _, error = run(path, "--org", "acme", "--workers", "2", "--chunk-size", "4")
    assert error is None and "28 charged" in out and "12 duplicate" in out
    assert CreditAccount.objects.get().balance == 1000 - 40 * AI_CREDITS
    assert_ledger_ok(org)


def test_ctrl_c_stops_the_workers_and_rolls_back_the_open_batch(tmp_path):
    org = funded(make_org("acme"), 1000)
    path = write_lines(tmp_path, [ai_event(f"k{i:02}") for i in range(40)])
    real_write = Book.write_with_entries
    # Ctrl-C as an operator's shell delivers it, whatever an earlier test of this process
    # left installed (the signal module's own handler raises KeyboardInterrupt).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def interrupt_under_the_lock(book, rows, *hooks):
        if any(row[KEY] == "k13" for row in rows.rows):
            for _ in range(30):  # charged in the book, holding the lock, when it is stopped
                os.kill(os.getppid(), signal.SIGINT)  # the operator's Ctrl-C, until it lands
                time.sleep(1)
        real_write(book, rows, *hooks)

    started = time.monotonic()
    try:
        with mock.patch.object(Book, "write_with_entries", interrupt_under_the_lock), \
                pytest.raises(KeyboardInterrupt):
            run(path, "--org", "acme", "--workers", "2", "--chunk-size", "4")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 20
    assert UsageEvent.objects.count() == 12
    assert CreditAccount.objects.get().balance == 1000 - 12 * AI_CREDITS
    assert_ledger_ok(org)


def test_reads_ahead_only_a_few_batches(tmp_path):
    """Constant memory: the file is streamed, not read before charging starts."""
    org = funded(make_org("acme"), 1000)
    read = []

    def lines():
        for i in range(200):
            read.append(i)
            yield json.dumps(ai_event(f"k{i}"))

    seen = []
    report = import_lines_in_workers(organization=org, lines=lines(), workers=2, chunk_size=5,
                                     progress=lambda r: seen.append((r.lines, len(read))))
    assert report.charged == 200 and report.lines == 200 and len(report.peaks_kb) == 3
    assert report.turn_seconds > 0
    first_batch_lines, read_by_then = seen[0]
    assert first_batch_lines == 5 and read_by_then <= 8 * 5, seen[:3]
    assert [lines for lines, _ in seen] == list(range(5, 201, 5))  # progress in file order


def test_the_workers_are_forked_with_the_parents_objects_frozen_and_thawed_after(tmp_path):
    """Each worker's garbage collections skip what it inherited (gc.freeze before the
    forks: 6.0-6.1 s of CPU against 6.7-7.2 s for 100,000 events, bench/README.md); the
    parent, which may live on, thaws its objects once the workers are started."""
    import gc
    import multiprocessing.process

    calls = []
    start = multiprocessing.process.BaseProcess.start
    org = funded(make_org("acme"), 1000)
    with mock.patch.object(gc, "freeze", side_effect=lambda: calls.append("freeze")), \
            mock.patch.object(gc, "unfreeze", side_effect=lambda: calls.append("unfreeze")), \
            mock.patch.object(multiprocessing.process.BaseProcess, "start", autospec=True,
                              side_effect=lambda self: (calls.append("start"), start(self))):
        report = import_lines_in_workers(
            organization=org, workers=2, chunk_size=5,
            lines=(json.dumps(ai_event(f"k{i}")) for i in range(10)))
    assert report.charged == 10
    assert calls[:4] == ["freeze", "start", "start", "unfreeze"]
