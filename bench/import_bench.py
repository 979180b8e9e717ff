#!/usr/bin/env python
"""`manage.py import_usage --workers N` timed as scale_bench's import phase times it, for
several N, alternating, against a small database (figures: bench/history.md, "import_usage
with workers").

Each run imports the same generated file (ingest_bench's event mix) into a fresh funded
org of the database of DATABASE_URL (migrated, prices synced), after a CHECKPOINT, under
`/usr/bin/time -v`. It prints events/s, the app's CPU (user + sys of the command and its
workers, not PostgreSQL's), the peak RSS of each process and the share of the time the
batches held their turn at the account lock (the command's `-v 2` lines: near 100%, the
serial charge is the limit and more workers cannot help), and the load average before
the run (the machine may be shared).

    DATABASE_URL=postgres://... .venv/bin/python bench/import_bench.py --events 200000
    DATABASE_URL=postgres://... .venv/bin/python bench/import_bench.py --workers 1,2 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, ingest_bench

ROOT = harness.ROOT


def funded_org(env: dict, slug: str) -> None:
    script = (
        "from decimal import Decimal\n"
        "from accounts.services import create_organization\n"
        "from billing.ledger.actor import Actor\n"
        "from billing.ledger.corrections import adjust_credits\n"
        f"org = create_organization(name={slug!r}, slug={slug!r}, plan='professional')\n"
        f"adjust_credits(organization=org, credits=Decimal({str(Decimal(10) ** 10)!r}), "
        "reason='bench', actor=Actor.system('bench'))\n"
    )
    subprocess.run([harness.PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed_import(env: dict, path: Path, slug: str, workers: int) -> dict:
    command = [harness.PYTHON, "manage.py", "import_usage", str(path), "--org", slug,
               "--workers", str(workers), "-v", "2"]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *command], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started

    def field(name: str) -> float:
        match = re.search(rf"{re.escape(name)}: ([\d.]+)", proc.stderr)
        return float(match.group(1)) if match else -1

    peaks = re.search(r"peak RSS: (.*)", proc.stderr)
    turn = re.search(r"turn at the account lock held .* \((\d+%)\)", proc.stderr)
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    events = ingest_bench.count_lines(path)
    return {
        "workers": workers, "load": load, "rate": events / elapsed, "seconds": elapsed,
        "cpu_s": field("User time (seconds)") + field("System time (seconds)"),
        "max_rss_mb": field("Maximum resident set size (kbytes)") / 1024,
        "peaks": peaks.group(1) if peaks else "(one process)", "summary": summary,
        "turn": turn.group(1) if turn else "–",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--rounds", type=int, default=2, help="each count this many times")
    args = parser.parse_args()
    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith("postgres"):
        parser.error("set DATABASE_URL to a migrated PostgreSQL bench database")
    env = harness.app_env(db_url)
    counts = [int(n) for n in args.workers.split(",")]
    run = uuid.uuid4().hex[:6]
    print(f"{os.cpu_count()} cores; {args.events:,} events; workers {counts}; run {run}")
    print("| workers | events/s | seconds | app CPU s | time -v max RSS | per process "
          "| turn held | load avg before |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.jsonl"
        ingest_bench.write_jsonl(path, args.events, seed=5)
        for round_no in range(args.rounds):
            for workers in counts if round_no % 2 == 0 else reversed(counts):
                slug = f"import-{run}-w{workers}-r{round_no}"
                funded_org(env, slug)
                harness.settle(db_url)
                result = timed_import(env, path, slug, workers)
                if " 0 duplicate" not in result["summary"]:
                    print(f"unexpected: {result['summary']}", file=sys.stderr)
                print(f"| {workers} | {result['rate']:,.0f} | {result['seconds']:.1f} "
                      f"| {result['cpu_s']:.1f} | {result['max_rss_mb']:.0f} MB "
                      f"| {result['peaks']} | {result['turn']} | {result['load']:.1f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
