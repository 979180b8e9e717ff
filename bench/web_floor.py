#!/usr/bin/env python
"""The web floor: what one authenticated API request costs with nothing else to do.

The same gunicorn setup as bench/ingest_bench.py (4 workers x 8 gthread
threads, DEBUG off, persistent connections) answering `GET /bench/floor`
(bench/floor_urls.py): the API's real key authentication, one trivial query,
a small JSON body. Hammered by 8 and 32 keep-alive clients; prints requests/s
and p50/p99 latency. The design's single-event targets are ratios to it.

    .venv/bin/python bench/web_floor.py                    # its own database, ~1 min
    .venv/bin/python bench/web_floor.py --requests 4000

Other scripts call `measure(port, raw_key, clients, total)` against a server
they started with bench/harness.py's `server_env(env)`.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

FLOOR_PATH = "/bench/floor"
CLIENT_COUNTS = (8, 32)


@dataclass
class LatencyRun:
    """Requests/s over the whole run and per-request latency percentiles (ms)."""

    clients: int
    requests: int
    rate: float
    p50: float
    p99: float

    def line(self, what: str) -> str:
        return (f"{what}, {self.clients} clients: {self.rate:,.0f} requests/s, "
                f"p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms ({self.requests:,} requests)")


def percentile(sorted_values: list[float], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def hammer(port: int, raw_key: str, clients: int, total: int, path: str) -> LatencyRun:
    """`total` GETs of `path` split over `clients` keep-alive connections released together."""
    per = max(1, total // clients)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    headers = {"Authorization": f"Bearer {raw_key}"}

    def work(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        own = latencies[i]
        for _ in range(per):
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            own.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status}")
        conn.close()

    elapsed = harness.run_threads(clients, work)
    flat = sorted(v for own in latencies for v in own)
    return LatencyRun(clients=clients, requests=len(flat), rate=len(flat) / elapsed,
                      p50=statistics.median(flat), p99=percentile(flat, 0.99))


def measure(port: int, raw_key: str, clients: int, total: int) -> LatencyRun:
    """The floor at `clients` clients (after a short unmeasured warm-up)."""
    hammer(port, raw_key, clients, clients * 5, FLOOR_PATH)
    return hammer(port, raw_key, clients, total, FLOOR_PATH)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per client count")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_scale_floor")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    env = harness.app_env(db_url)
    print(f"Database {args.database}: re-creating, migrating, seeding…", flush=True)
    harness.recreate_database(args.admin_url, args.database)
    keys = harness.migrate_and_seed(env, ["bench-floor"])
    port = harness.free_port()
    log = Path(tempfile.gettempdir()) / "web_floor_gunicorn.log"
    proc = harness.start_gunicorn(harness.server_env(env), port, args.workers, args.threads, log)
    try:
        runs = [measure(port, keys["bench-floor"], clients, args.requests)
                for clients in CLIENT_COUNTS]
    finally:
        harness.stop(proc)
    print(f"gunicorn {args.workers} workers x {args.threads} threads, DEBUG off, "
          f"persistent connections; GET {FLOOR_PATH} (API key auth + SELECT 1)")
    for run in runs:
        print(run.line("web floor"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
