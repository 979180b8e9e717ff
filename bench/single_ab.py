#!/usr/bin/env python
"""Single-event requests served by two checkouts of the app, alternated: a charge-path
change's before and after, against the web floor of the same server.

Each round starts gunicorn from one checkout, then the other (4 workers x 8 threads,
as ingest_bench.py), on the same small database, and measures: the web floor at 8
clients (web_floor.py), then single-event POSTs from one org at 8 and at 32 clients
(ingest_bench.http_single: each run checks that no update was lost). For the floor
and the 8-client run it also prints the machine's CPU per request (from /proc/stat),
split into PostgreSQL, the app's processes and this client: on 2 cores the runs are
CPU-bound, so the CPU per request is what sets the ratio to the floor.

The database (`--database`, default `single_ab`) is created, migrated and seeded on
the first run and reused after (`--fresh` re-creates it). Both checkouts must use
the same migrations. Linux only (/proc).

    .venv/bin/python bench/single_ab.py --old /tmp/before-checkout
    .venv/bin/python bench/single_ab.py --old /tmp/before --new . --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, ingest_bench, web_floor

ROOT = harness.ROOT
ORGS = ["ab-floor", "ab-s8", "ab-s32"]


def database_url(args) -> str:
    return args.admin_url.rsplit("/", 1)[0] + "/" + args.database


def seeded_keys(args) -> dict[str, str]:
    """slug -> raw API key, kept beside the database between runs."""
    store = Path(f"/tmp/{args.database}-keys.json")
    env = harness.app_env(database_url(args))
    if store.exists() and not args.fresh:
        return json.loads(store.read_text())
    harness.recreate_database(args.admin_url, args.database)
    keys = harness.migrate_and_seed(env, ORGS)
    store.write_text(json.dumps(keys))
    return keys


def cpu_ticks() -> dict[str, int]:
    """CPU ticks used so far by PostgreSQL's processes, the app's, and this one."""
    ticks = {"postgres": 0, "app": 0, "client": 0}
    me = os.getpid()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        used = int(fields[11]) + int(fields[12])  # utime + stime
        if int(pid) == me:
            ticks["client"] += used
        elif name.startswith(("postgres", "postmaster")):
            ticks["postgres"] += used
        elif name.startswith("gunicorn"):
            ticks["app"] += used
    return ticks


def per_request(before: dict, after: dict, requests: int) -> str:
    hertz = os.sysconf("SC_CLK_TCK")
    parts = [f"{name} {(after[name] - before[name]) / hertz / requests * 1000:.2f}"
             for name in before]
    total = sum(after[name] - before[name] for name in before) / hertz / requests * 1000
    return f"{total:.2f} ms CPU per request ({', '.join(parts)})"


def start(tree: Path, env: dict) -> tuple[subprocess.Popen, int]:
    port = harness.free_port()
    proc = harness.start_gunicorn(env, port, 4, 8, Path("/tmp/single_ab_gunicorn.log"),
                                  tree=tree)
    return proc, port


def measure(label: str, tree: Path, env: dict, keys: dict, args, round_: int) -> None:
    proc, port = start(tree, env)
    try:
        tag = f"{label}{round_}-{port}"
        ingest_bench.http_batches(port, keys["ab-floor"], 4, 4000, seed=round_, prefix=f"w{tag}")
        before = cpu_ticks()
        floor = web_floor.measure(port, keys["ab-floor"], 8, args.requests).rate
        floor_cpu = per_request(before, cpu_ticks(), args.requests)
        line = [f"{label} round {round_ + 1}: floor (8 clients) {floor:,.0f} req/s"]
        for clients in (8, 32):
            slug = f"ab-s{clients}"
            ingest_bench.http_single(port, keys[slug], clients, clients * 40,
                                     seed=port + clients, prefix=f"warm{tag}-")
            before = cpu_ticks()
            run = ingest_bench.http_single(port, keys[slug], clients, args.requests,
                                           seed=port + clients + 1, prefix=f"m{tag}-")
            after = cpu_ticks()
            line.append(f"{clients} clients {run.rate:,.0f} events/s ({run.rate / floor:.2f} "
                        f"of the floor, no lost update: {run.no_lost_update})")
            if clients == 8:
                single_cpu = per_request(before, after, args.requests)
        print("; ".join(line), flush=True)
        print(f"    floor: {floor_cpu}\n    single events, 8 clients: {single_cpu}", flush=True)
    finally:
        harness.stop(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the checkout before")
    parser.add_argument("--new", type=Path, default=ROOT, help="the checkout after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2400, help="per measured run")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="single_ab")
    parser.add_argument("--fresh", action="store_true", help="re-create the database")
    args = parser.parse_args()
    keys = seeded_keys(args)
    env = harness.server_env(harness.app_env(database_url(args)))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for round_ in range(args.rounds):
        for label, tree in (("old", args.old.resolve()), ("new", args.new.resolve())):
            measure(label, tree, env, keys, args, round_)
    return 0


if __name__ == "__main__":
    sys.exit(main())
