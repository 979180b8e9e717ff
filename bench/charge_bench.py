#!/usr/bin/env python
"""In-process timings of the charge path (figures: bench/history.md, "Charge path and batches").

Less noisy than the HTTP benchmark: no gunicorn, no client threads, one process
against the PostgreSQL database of DATABASE_URL (migrated, prices synced by
`sync_model_prices`). Each run creates a fresh org with plenty of credits and
times, as the median of several calls:

- `record_usage` with 1,000 events (the mix of bench/ingest_bench.py);
- `record_usage` with one event;
- one single-event POST /api/v1/usage-events through Django's test client;
- one 1,000-event POST /api/v1/usage-events through the test client (JSON parsing,
  validation and the 1,000 results' encoding on top of `record_usage`);
- `import_lines` (import_usage's service) of N generated lines.

`--profile batch|single|http|http-batch|import` prints cProfile's top functions (by
CPU time) instead; `--only single,http` times only those scenarios; `--queries`
prints the SQL of one single-event HTTP request.

    DATABASE_URL=postgres://... .venv/bin/python bench/charge_bench.py
    DATABASE_URL=postgres://... .venv/bin/python bench/charge_bench.py --profile batch
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-not-secret")
os.environ.setdefault("DEBUG", "False")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("PAYMENTS_PROVIDER", "test")
os.environ.setdefault("ALLOW_TEST_PAYMENTS", "True")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

from accounts.services import create_api_key, create_organization  # noqa: E402
from bench.ingest_bench import make_event  # noqa: E402 (the same event mix as the HTTP bench)
from billing.ledger.actor import Actor  # noqa: E402
from billing.ledger.corrections import adjust_credits  # noqa: E402
from billing.usage.imports.lines import import_lines  # noqa: E402
from billing.usage.ingestion.record import record_usage  # noqa: E402


def fresh_org():
    slug = f"charge-bench-{uuid.uuid4().hex[:8]}"
    org = create_organization(name=slug, slug=slug, plan="professional")
    adjust_credits(
        organization=org,
        credits=Decimal("10000000000"),
        reason="bench",
        actor=Actor.system("bench"),
    )
    key = create_api_key(organization=org, name="bench", created_by=None).raw_key
    return org, key


class Events:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.n = 0

    def take(self, count: int) -> list[dict]:
        out = []
        for _ in range(count):
            self.n += 1
            out.append(make_event(self.rng, f"cb-{self.n}-{uuid.uuid4().hex[:6]}"))
        return out


def timed(fn, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process only: the app's own work, less noisy on a shared machine)
    milliseconds of each call."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def summary(label: str, times: tuple[list[float], list[float]], events: int) -> str:
    wall, cpu = (statistics.median(t) for t in times)
    return (
        f"{label}: median {wall:,.2f} ms wall ({events / wall * 1000:,.0f} events/s), "
        f"{cpu:,.2f} ms CPU in the app process, {len(times[0])} calls"
    )


def scenarios(org, key, events: Events, import_lines_count: int):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def batch():
        record_usage(organization=org, events=events.take(1000))

    def single():
        record_usage(organization=org, events=events.take(1))

    def http():
        body = json.dumps({"events": events.take(1)})
        response = client.post(
            "/api/v1/usage-events", body, content_type="application/json", **auth
        )
        assert response.status_code == 200, response.content[:300]

    def http_batch():
        body = json.dumps({"events": events.take(1000)})
        response = client.post(
            "/api/v1/usage-events", body, content_type="application/json", **auth
        )
        assert response.status_code == 200, response.content[:300]

    def imported():
        lines = (json.dumps(e) + "\n" for e in events.take(import_lines_count))
        report = import_lines(organization=org, lines=lines)
        assert report.charged == import_lines_count, report

    return {"batch": batch, "single": single, "http": http, "http-batch": http_batch,
            "import": imported}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["batch", "single", "http", "http-batch", "import"])
    parser.add_argument("--repeat", type=int, default=7, help="1,000-event calls timed")
    parser.add_argument("--singles", type=int, default=200, help="single-event calls timed")
    parser.add_argument("--import-lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="batch,single,http,http-batch,import",
                        help="comma-separated scenarios to time")
    parser.add_argument("--queries", action="store_true",
                        help="print the SQL of one single-event HTTP request")
    args = parser.parse_args()
    org, key = fresh_org()
    events = Events(args.seed)
    run = scenarios(org, key, events, args.import_lines)
    for name in ("batch", "single", "http", "http-batch"):  # warm the caches and the connection
        run[name]()
    if args.queries:
        print_queries(run["http"])
        return 0
    if args.profile:
        profiler = cProfile.Profile(time.process_time)  # CPU: waits on the database excluded
        count = {"batch": 3, "single": 200, "http": 200, "http-batch": 3,
                 "import": 1}[args.profile]
        profiler.enable()
        for _ in range(count):
            run[args.profile]()
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
        return 0
    only = set(args.only.split(","))
    if "batch" in only:
        print(summary("record_usage, 1,000 events", timed(run["batch"], args.repeat), 1000))
    if "single" in only:
        print(summary("record_usage, 1 event", timed(run["single"], args.singles), 1))
    if "http" in only:
        print(summary("HTTP single event (test client)", timed(run["http"], args.singles), 1))
    if "http-batch" in only:
        print(summary("HTTP 1,000 events (test client)", timed(run["http-batch"], args.repeat),
                      1000))
    if "import" in only:
        print(summary(f"import_lines, {args.import_lines:,} events",
                      timed(run["import"], 1), args.import_lines))
    return 0


def print_queries(request) -> None:
    """The statements one request sends, in order (transaction control included)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        request()
    print(f"{len(captured.captured_queries)} statements:")
    for query in captured.captured_queries:
        print(f"  [{query['time']} s] {query['sql'][:220]}")


if __name__ == "__main__":
    sys.exit(main())
