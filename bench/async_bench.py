#!/usr/bin/env python
"""The asynchronous ingestion target alone, in a few minutes (bench/README.md).

The same measurement as ingest_bench's asynchronous phase, without the rest of
its run: a fresh database (`--database`, dropped and re-created), gunicorn as
there (4 x 8 gthread by default), the web floor at 32 clients, then 32 clients
posting single events with `?mode=async` to one org while `--async-workers`
qcluster workers charge them on the Redis broker; accepted events/s against
the floor, accept-to-charged latency, and the lost-update and ledger checks.

    .venv/bin/python bench/async_bench.py --redis-url redis://127.0.0.1:6379/3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, ingest_bench, web_floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="credits_async_bench")
    parser.add_argument("--redis-url", required=True, help="the workers' broker")
    parser.add_argument("--async-workers", type=int, default=2, help="qcluster workers")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--events", type=int, default=6400)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    env = {**harness.app_env(db_url), "REDIS_URL": args.redis_url}
    harness.recreate_database(args.admin_url, args.database)
    keys = harness.migrate_and_seed(env, ["bench-async"])
    port = harness.free_port()
    log = Path(tempfile.gettempdir()) / "async_bench_gunicorn.log"
    proc = harness.start_gunicorn(harness.server_env(env), port, args.workers,
                                  args.threads, log)
    try:
        floor = web_floor.measure(port, keys["bench-async"], 32, 4000).rate
        run = ingest_bench.run_async_phase(args, env, f"http://127.0.0.1:{port}",
                                           keys["bench-async"], args.events)
    finally:
        harness.stop(proc)
    verify = subprocess.run([harness.PYTHON, "manage.py", "verify_ledger", "--org",
                             "bench-async"], cwd=harness.ROOT, env=env,
                            capture_output=True, text=True)
    print(f"web floor, 32 clients: {floor:,.0f} requests/s")
    print(f"async accepted, 32 clients, one org: {run.accepted_rate:,.0f} events/s = "
          f"{run.accepted_rate / floor:.2f} x the floor (target >= 0.8)")
    print(f"accept to charged: p50 {run.p50:.3f} s, p99 {run.p99:.3f} s, worst {run.worst:.3f} s "
          f"(target p99 < 2 s); drained {run.drained_after:.2f} s after the last 202")
    print(f"{run.accepted} accepted, {run.charged} charged, {run.rejected} rejected; charged sum "
          f"{run.charged_sum} vs balance drop {run.drop}: "
          f"{'no lost update' if run.no_lost_update else 'LOST UPDATE'}")
    print(f"verify_ledger: {verify.stdout.strip() or verify.stderr.strip()}")
    return 0 if run.no_lost_update and verify.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
