#!/usr/bin/env python
"""Where a 1,000-event batch spends the account lock: each statement, COPY and COMMIT
timed in the app, and the app's own CPU, per 1,000 events (bench/history.md, "Latest").

Imports N generated events (the mix of ingest_bench.py) for a fresh org through
`import_lines` in one process, in batches of 1,000, with psycopg's execute, COPY
and commit wrapped in timers that count only while `open_book` holds the lock.
The sum of the database's parts is the most one org's batches could reach
however little Python ran under the lock. Needs a migrated database with prices
synced (`sync_model_prices`), e.g. the ten-million-row one of load_scale.py.

    DATABASE_URL=postgres://... .venv/bin/python bench/under_lock.py
    DATABASE_URL=postgres://... .venv/bin/python bench/under_lock.py --events 50000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import copy as psycopg_copy

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import charge_bench  # sets Django up with the bench environment
from billing.ledger import book as book_module
from billing.usage.ingestion import record as ingestion

DATABASE_PARTS = ("statement", "COPY", "COMMIT")


class LockTimer:
    """Seconds spent while the account lock is held, by part."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.holding = False
        self.copying = ""

    def add(self, part: str, started: float) -> None:
        if self.holding:
            self.seconds[part] += time.perf_counter() - started

    def install(self) -> None:
        timer, open_book = self, book_module.open_book

        @contextmanager
        def timed_open_book(**kwargs):
            started, started_cpu = time.perf_counter(), time.process_time()
            timer.holding = True
            try:
                with open_book(**kwargs) as book:
                    yield book
            finally:
                timer.seconds["under the lock, wall"] += time.perf_counter() - started
                timer.seconds["under the lock, app CPU"] += time.process_time() - started_cpu
                timer.holding = False

        ingestion.open_book = timed_open_book
        self._wrap(psycopg.Cursor, "execute", lambda args: f"statement: {_kind(args[0])}")
        self._wrap(psycopg.Connection, "commit", lambda args: "COMMIT")
        for method in ("write", "__exit__"):
            self._wrap(psycopg_copy.Copy, method, lambda args: f"COPY {timer.copying}")
        copy = psycopg.Cursor.copy

        def named_copy(cursor, statement, *args, **kwargs):
            timer.copying = str(statement).split("(")[0].split()[1]
            return copy(cursor, statement, *args, **kwargs)

        psycopg.Cursor.copy = named_copy

    def _wrap(self, cls, name: str, part_of) -> None:
        original, timer = getattr(cls, name), self

        def timed(obj, *args, **kwargs):
            started = time.perf_counter()
            try:
                return original(obj, *args, **kwargs)
            finally:
                timer.add(part_of(args), started)

        setattr(cls, name, timed)


def _kind(sql) -> str:
    text = str(sql)
    for marker, kind in (("FOR UPDATE", "the lock with its reads"), ("nextval", "entry ids"),
                         ("billing_dailyusage", "rollup upsert"),
                         ("billing_creditgrant", "grants"),
                         ("billing_creditaccount", "account row")):
        if marker in text:
            return kind
    return text[:40]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    timer = LockTimer()
    timer.install()
    org, _ = charge_bench.fresh_org()
    lines = [json.dumps(e) + "\n" for e in charge_bench.Events(args.seed).take(args.events)]
    started, started_cpu = time.perf_counter(), time.process_time()
    report = charge_bench.import_lines(organization=org, lines=iter(lines))
    assert report.charged == args.events, report
    per = 1000 / args.events * 1000  # seconds in all -> ms per 1,000 events
    print(f"{args.events:,} events in batches of 1,000 (one process): "
          f"{(time.perf_counter() - started) * per:.1f} ms wall per 1,000 events, "
          f"app CPU {(time.process_time() - started_cpu) * per:.1f} ms")
    for part, seconds in sorted(timer.seconds.items(), key=lambda item: -item[1]):
        print(f"  {part}: {seconds * per:.1f} ms")
    database = sum(s for part, s in timer.seconds.items() if part.startswith(DATABASE_PARTS))
    print(f"  the database under the lock: {database * per:.1f} ms per 1,000 events, so at "
          f"most {1000 / (database * per) * 1000:,.0f} events/s for one org")
    return 0


if __name__ == "__main__":
    sys.exit(main())
