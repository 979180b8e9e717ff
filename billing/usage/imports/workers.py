"""import_usage with several worker processes, charging in file order (docs/operate.md).

This process hands out numbered batches of lines; each forked worker prices its
batch before the account lock, then waits for its turn (batch k takes the lock once
batch k-1 committed), so what is committed is always a prefix of the file, charged
as one process would. Why and how: docs/architecture.md, "Importing usage".
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from functools import partial

from django.db import connection, connections

from billing.ledger.actor import Actor
from billing.usage.events import MAX_EVENTS, chunks
from billing.usage.imports.lines import ImportReport, charge_lines, number_lines

MAX_WORKERS = 8  # the turn under the lock is serial: more workers only wait longer
POLL_SECONDS = 0.2  # how often a waiting process checks that the others are alive


class ImportStopped(Exception):
    """A worker failed or died: the batches before it are committed, the rest are not."""

    def __init__(self, message: str, report: ImportReport):
        super().__init__(message)
        self.report = report


def workers_refused() -> str | None:
    """Why this process cannot share an import with workers, if it cannot."""
    if connection.vendor != "postgresql":
        return "needs PostgreSQL (SQLite has one writer)"
    if connection.in_atomic_block:  # the workers could not see this transaction's rows
        return "cannot run inside a transaction"
    return None


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


def import_lines_in_workers(*, organization, lines: Iterable[str], workers: int,
                            actor: Actor | None = None, chunk_size: int = MAX_EVENTS,
                            progress: Callable[[ImportReport], None] | None = None
                            ) -> ImportReport:
    """As import_lines, with `workers` processes; the report is the same, plus the peak RSS
    of this process and of each worker (`peaks_kb`) and the turns' total (`turn_seconds`)."""
    actor = actor or Actor.system("import_usage")
    context = multiprocessing.get_context("fork")  # the children share the caller's settings
    batches = context.Queue(maxsize=workers)  # bounded: how far this process reads ahead
    results = context.Queue()
    turn = _Turn(context)
    # A forked child must not use the parent's socket: each opens its own connection.
    connections.close_all()
    pool = [context.Process(target=_work, daemon=True, name=f"import worker {n + 1}",
                            args=(organization, actor, chunk_size, batches, results, turn))
            for n in range(workers)]
    # The children inherit every object loaded so far; frozen, their garbage collections
    # skip them (docs/deploy.md, "Worker processes"). Thawed here once they are forked.
    gc.collect()
    gc.freeze()
    try:
        for process in pool:
            process.start()
    finally:
        gc.unfreeze()
    merger = _Merger(progress)
    read = ImportReport()  # counts the lines read so far
    try:
        for index, batch in enumerate(chunks(number_lines(lines, read), chunk_size)):
            while not _put(batches, (index, batch)):
                merger.collect(results, pool)
            merger.sent += 1
            merger.collect(results, pool, wait=False)
        for _ in pool:
            while not _put(batches, None):
                merger.collect(results, pool)
        while merger.pending():
            merger.collect(results, pool)
    except ImportStopped:
        _stop(pool)
        merger.collect_reported(results)  # what the workers committed before they stopped
        raise
    except BaseException:  # Ctrl-C: nothing more may be charged
        _stop(pool)
        raise
    for process in pool:
        process.join()
    report = merger.report
    report.lines = read.lines
    report.peaks_kb = [_peak_kb(), *merger.peaks_kb.values()]
    return report


def _put(batches, item) -> bool:
    try:
        batches.put(item, timeout=POLL_SECONDS)
    except queue.Full:
        return False
    return True


def _stop(pool) -> None:
    for process in pool:
        if process.is_alive():
            process.terminate()  # its connection closes: PostgreSQL rolls its transaction back
    for process in pool:
        process.join()


class _Merger:
    """The workers' reports added in batch order (they may arrive out of it), so progress
    and the report are those of one process."""

    def __init__(self, progress):
        self.progress = progress
        self.report = ImportReport()
        self.sent = self.merged = 0
        self.waiting: dict[int, tuple[int, ImportReport]] = {}
        self.peaks_kb: dict[int, int] = {}

    def pending(self) -> bool:
        return self.merged < self.sent

    def collect(self, results, pool, *, wait: bool = True) -> None:
        try:
            message = results.get(timeout=POLL_SECONDS) if wait else results.get_nowait()
        except queue.Empty:
            self._check(pool)
            return
        if message[0] == "failed":
            _, name, details = message
            raise ImportStopped(f"{name} failed:\n{details}", self.report)
        self._add(message)

    def _add(self, message) -> None:
        _, index, last_line, part, pid, peak_kb = message
        self.peaks_kb[pid] = peak_kb
        self.waiting[index] = (last_line, part)
        while self.merged in self.waiting:
            last_line, part = self.waiting.pop(self.merged)
            self.report.add(part)
            self.report.lines = last_line
            self.merged += 1
            if self.progress:
                self.progress(self.report)

    def collect_reported(self, results) -> None:
        """The results already sent, once every worker has stopped."""
        while True:
            try:
                message = results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                return
            if message[0] == "done":
                self._add(message)

    def _check(self, pool) -> None:
        for process in pool:
            if process.exitcode not in (None, 0):
                raise ImportStopped(f"{process.name} died (exit code {process.exitcode})",
                                    self.report)


class _Turn:
    """Whose turn it is to take the account lock: batch k waits until k-1 has committed."""

    def __init__(self, context):
        self.current = context.Value("q", 0, lock=False)
        self.changed = context.Condition()
        self.taken_at = None  # in a worker: when its batch got the turn

    def wait(self, index: int) -> None:
        with self.changed:
            while self.current.value != index:
                self.changed.wait(POLL_SECONDS)
                _exit_if_orphaned()
        if self.taken_at is None:
            self.taken_at = time.perf_counter()

    def held(self) -> float:
        """Seconds since this worker's batch got the turn."""
        return time.perf_counter() - self.taken_at

    def pass_on(self, index: int) -> None:
        self.taken_at = None
        with self.changed:
            self.current.value = index + 1
            self.changed.notify_all()


def _work(organization, actor, chunk_size, batches, results, turn) -> None:
    """A worker's loop: batches until told to stop (None)."""
    global _parent_pid  # noqa: PLW0603 - one per process, set once
    _parent_pid = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        while (task := _next(batches)) is not None:
            index, batch = task
            part = charge_lines(organization=organization, lines=batch, actor=actor,
                                chunk_size=chunk_size, before_lock=partial(turn.wait, index))
            turn.wait(index)  # a batch with nothing to charge still takes its turn
            part.turn_seconds = turn.held()
            results.put(("done", index, batch[-1][0], part, os.getpid(), _peak_kb()))
            turn.pass_on(index)
    except BaseException:
        results.put(("failed", multiprocessing.current_process().name, traceback.format_exc()))
        sys.exit(1)  # reported above; the parent stops the others
    finally:
        connections.close_all()


def _next(batches):
    while True:
        try:
            return batches.get(timeout=POLL_SECONDS)
        except queue.Empty:
            _exit_if_orphaned()


_parent_pid = None  # in a worker: the process that started it


def _exit_if_orphaned() -> None:
    # The parent was killed (it cannot stop its workers): stop rather than wait forever.
    if os.getppid() != _parent_pid:
        os._exit(1)


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
