#!/usr/bin/env python
"""Every target of the design's performance table, on ten million rows, in one run.

Phases (each timed): load the database (bench/load_scale.py; `--reuse` keeps a
loaded one), the raw limits (ingest_bench's psycopg CTE and COPY runs, the web
floor of bench/web_floor.py under the app's gunicorn), then on that server the
balance API for the big org and a small one, ingestion (batches of 1,000,
single events from 8 and 32 clients on one org with the lost-update check,
asynchronous single events when ingest_bench has that phase), then in-process
page times (reports_bench's timer), the CSV export's peak RSS over a full month,
`import_usage`, and last `verify_ledger` over the whole database and the
invariant checks (bench/scale_checks.py). Prints one table: figure, target,
raw limit, ratio, met.

    .venv/bin/python bench/scale_bench.py                          # 10M events (~45 min)
    .venv/bin/python bench/scale_bench.py --events 1000000 --import-events 100000
    .venv/bin/python bench/scale_bench.py --reuse --skip-import    # measure a loaded database
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, ingest_bench, load_scale, scale_checks, web_floor
from bench.reports_bench import quantile, timed

PYTHON, ROOT = harness.PYTHON, harness.ROOT
PHASES: dict[str, float] = {}
ROWS: list[tuple] = []  # (figure, value, target, raw, ratio, met)


@contextmanager
def phase(name: str):
    print(f"\n== {name}", flush=True)
    started = time.perf_counter()
    yield
    PHASES[name] = time.perf_counter() - started
    print(f"   ({name}: {PHASES[name]:.0f} s)", flush=True)


def row(figure, value, target="", raw="", ratio=None, met=None) -> None:
    shown_ratio = "" if ratio is None else f"{ratio:.2f}"
    shown_met = "" if met is None else ("yes" if met else "**no**")
    ROWS.append((figure, value, target, raw, shown_ratio, shown_met))
    print(f"   {figure}: {value}" + (f" (ratio {shown_ratio})" if shown_ratio else ""),
          flush=True)


def seed_orgs(run: str) -> dict[str, str]:
    """API keys for the loaded big org and a small one, and fresh funded orgs for ingestion."""
    from decimal import Decimal

    from accounts.models import Organization
    from accounts.services import create_api_key, create_organization
    from billing.ledger.actor import Actor
    from billing.ledger.corrections import adjust_credits

    keys = {}
    for slug in (load_scale.BIG_SLUG, "small-0000"):
        org = Organization.objects.get(slug=slug)
        keys[slug] = create_api_key(organization=org, name=f"bench {run}", created_by=None).raw_key
    for role in ("batch", "s8", "s32", "async", "import"):
        slug = f"ingest-{run}-{role}"
        org = create_organization(name=slug, slug=slug, plan="professional")
        adjust_credits(organization=org, credits=Decimal("10000000000"), reason="bench",
                       actor=Actor.system("bench"))
        keys[role] = create_api_key(organization=org, name="bench", created_by=None).raw_key
        keys[f"{role}-slug"] = slug
    return keys


def async_phase(args, env, port: int, raw_key: str) -> ingest_bench.AsyncRun:
    """32 clients posting ?mode=async while `--async-workers` qcluster workers charge."""
    log = Path(tempfile.gettempdir()) / "scale_bench_qcluster.log"
    workers = harness.start_workers(env, args.async_workers, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        ingest_bench.http_async(base_url, raw_key, 32, 320, db_url=env["DATABASE_URL"],
                                seed=98, prefix="warm")
        harness.settle(env["DATABASE_URL"])
        return ingest_bench.http_async(base_url, raw_key, 32, args.async_events,
                                       db_url=env["DATABASE_URL"], seed=99)
    finally:
        harness.stop(workers)


def server_phases(args, env, keys, raw) -> None:
    port = harness.free_port()
    log = Path(tempfile.gettempdir()) / "scale_bench_gunicorn.log"
    proc = harness.start_gunicorn(harness.server_env(env), port, args.workers,
                                  args.threads, log)
    try:
        ingest_bench.http_batches(port, keys["batch"], args.workers, 1000 * args.workers,
                                  seed=1, prefix="warm")
        floor = {c: web_floor.measure(port, keys["batch"], c, args.floor_requests)
                 for c in (1, *web_floor.CLIENT_COUNTS)}
        for run in floor.values():
            print("   " + run.line("web floor"), flush=True)
        raw["floor"] = floor
        for slug, who in ((load_scale.BIG_SLUG, "big org"), ("small-0000", "a small org")):
            web_floor.hammer(port, keys[slug], 1, 20, "/api/v1/balance")  # warm
            run = web_floor.hammer(port, keys[slug], 1, args.balance_requests, "/api/v1/balance")
            row(f"balance API, {who}, 1 client, p50 / p99 (HTTP)",
                f"{run.p50:.1f} / {run.p99:.1f} ms", "p99 < 10 ms",
                f"floor p50 / p99 {floor[1].p50:.1f} / {floor[1].p99:.1f} ms",
                run.p99 / floor[1].p99, run.p99 < 10)
            run8 = web_floor.hammer(port, keys[slug], 8, args.balance_requests * 2,
                                    "/api/v1/balance")
            row(f"balance API, {who}, 8 clients, p50 / p99 (HTTP)",
                f"{run8.p50:.1f} / {run8.p99:.1f} ms", "p99 < 10 ms",
                f"floor p50 / p99 {floor[8].p50:.1f} / {floor[8].p99:.1f} ms",
                run8.p99 / floor[8].p99, run8.p99 < 10)
        if args.skip_ingest:
            return
        harness.settle(env["DATABASE_URL"])
        rate = ingest_bench.http_batches(port, keys["batch"], 2, args.batch_events, seed=42)
        row("HTTP batches of 1,000, 2 clients", f"{rate:,.0f} events/s", ">= 12,000 events/s",
            f"raw COPY {raw['copy']:,.0f} events/s", rate / raw["copy"], rate >= 12_000)
        single = {}
        for clients, role in ((8, "s8"), (32, "s32")):
            ingest_bench.http_single(port, keys[role], clients, max(clients * 10,
                                     args.single_events // 4), seed=-clients, prefix="warm")
            harness.settle(env["DATABASE_URL"])
            run = single[clients] = ingest_bench.http_single(port, keys[role], clients,
                                                             args.single_events, seed=clients)
            floor_rate = floor[clients].rate
            row(f"single events, sync, one org, {clients} clients", f"{run.rate:,.0f} events/s",
                ">= 0.5 x web floor", f"floor {floor_rate:,.0f} req/s; raw CTE "
                f"{raw[f'single_{clients}']:,.0f}/s", run.rate / floor_rate,
                run.rate >= 0.5 * floor_rate)
            row(f"  lost updates ({clients} clients)",
                "none" if run.no_lost_update else f"LOST: {run.charged_sum} vs {run.drop}",
                "none", met=run.no_lost_update)
        row("single events: 32 clients no slower than 8",
            f"{single[32].rate:,.0f} vs {single[8].rate:,.0f} events/s", "32 >= 8",
            ratio=single[32].rate / single[8].rate, met=single[32].rate >= single[8].rate)
        run = async_phase(args, env, port, keys["async"])
        ratio = run.accepted_rate / floor[32].rate
        row("single events, async, one org, 32 clients: accepted",
            f"{run.accepted_rate:,.0f} events/s", ">= 0.8 x web floor",
            f"floor {floor[32].rate:,.0f} req/s; sync {single[32].rate:,.0f}/s", ratio,
            ratio >= 0.8)
        row("  async: accept to charged, p50 / p99",
            f"{run.p50:.2f} / {run.p99:.2f} s", "p99 < 2 s", met=run.p99 < 2)
        row("  async: lost updates", "none" if run.no_lost_update
            else f"LOST: {run.charged_sum} vs {run.drop}", "none", met=run.no_lost_update)
    finally:
        harness.stop(proc)


def page_phases(args, keys) -> None:
    from django.test import Client

    from accounts.models import User
    from billing.models import CreditAccount, LedgerEntry

    big = load_scale.BIG_SLUG
    account = CreditAccount.objects.get(organization__slug=big)
    client = Client()
    client.force_login(User.objects.get(email=load_scale.ADMIN_EMAIL))
    ids = LedgerEntry.objects.filter(account=account).order_by("id").values_list("id", flat=True)
    oldest, middle = ids[60], ids[account.entry_count // 2]
    now = datetime.now(UTC)
    pages = {
        "monthly summary page": f"/o/{big}/reports/monthly/?year={now.year}&month={now.month}",
        "transactions page 1": f"/o/{big}/transactions/",
        "transactions, deep page (oldest)": f"/o/{big}/transactions/?after=-id~{oldest}",
        "entry detail": f"/o/{big}/entries/{middle}/",
    }
    for name, url in pages.items():
        timed(client, url, 2)
        times = timed(client, url, args.repeat)
        median, p95 = quantile(times, 0.5), quantile(times, 0.95)
        row(f"{name}, big org (in-process)", f"median {median:.0f} ms, p95 {p95:.0f} ms",
            "< 100 ms server time", "", None, p95 < 100)
    for slug, who in ((big, "big org"), ("small-0000", "a small org")):
        api = Client(headers={"Authorization": f"Bearer {keys[slug]}"})
        timed(api, "/api/v1/balance", 3)
        times = timed(api, "/api/v1/balance", args.repeat * 20)
        median, p99 = quantile(times, 0.5), quantile(times, 0.99)
        row(f"balance API, {who} (in-process)", f"median {median:.1f} ms, p99 {p99:.1f} ms",
            "p99 < 10 ms", "", None, p99 < 10)


def csv_month(args) -> datetime:
    """--csv-month, else the last full month (the big org's busiest: its history grows)."""
    if args.csv_month:
        return datetime.strptime(args.csv_month, "%Y-%m")
    return (datetime.now(UTC).replace(day=1) - timedelta(days=1)).replace(day=1)


def csv_phase(args) -> None:
    month = csv_month(args)
    command = [PYTHON, str(ROOT / "bench" / "csv_memory.py"), "--database", args.database,
               "--admin-url", args.admin_url, "--year", str(month.year), "--month",
               str(month.month)]
    proc = subprocess.run(["/usr/bin/time", "-v", *command], cwd=ROOT, capture_output=True,
                          text=True)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    facts = dict(re.findall(r"(\w+)=(\S+)", proc.stdout))
    if proc.returncode or not peak or "rows" not in facts:
        row("CSV export, big org's month", f"failed: {proc.stderr[-300:]}", met=False)
        return
    peak_mb = int(peak.group(1)) / 1024
    rows, seconds = int(facts["rows"]), float(facts["seconds"])
    row(f"CSV export, big org, {month:%Y-%m} ({rows:,} rows, {seconds:.0f} s, "
        f"{rows / max(seconds, 0.001):,.0f} rows/s)",
        f"peak RSS {peak_mb:,.0f} MB (before the export {int(facts['rss_before_kb']) / 1024:,.0f}"
        " MB)", "streamed, < 200 MB", "", None, peak_mb < 200)


def import_phase(args, env, keys, raw) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.jsonl"
        ingest_bench.write_jsonl(path, args.import_events, seed=5)
        harness.settle(env["DATABASE_URL"])
        rate, peak_kb, summary = ingest_bench.run_import(env, path, keys["import-slug"])
    print(f"   {summary}", flush=True)
    row(f"import_usage of {args.import_events:,} events", f"{rate:,.0f} events/s",
        ">= 12,000 events/s", f"raw COPY {raw['copy']:,.0f} events/s", rate / raw["copy"],
        rate >= 12_000)
    row("import_usage peak RSS", f"{peak_kb / 1024:,.0f} MB", "< 200 MB", met=peak_kb < 200 * 1024)


INDEXED_TABLES = ("billing_ledgerentry", "billing_usageevent")


def index_scans(db_url: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(table, index) -> (scans so far, size in bytes) for the ledger and usage tables."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, indexrelname, idx_scan, pg_relation_size(indexrelid) "
            "FROM pg_stat_user_indexes WHERE relname = ANY(%s)",
            [list(INDEXED_TABLES)]).fetchall()
    return {(table, index): (scans, size) for table, index, scans, size in rows}


def print_index_use(db_url: str, before: dict) -> None:
    """Each index of the ledger and usage tables with its scans during the run, so an
    index nothing used shows as 0 (a unique constraint's checks on insert are not scans)."""
    after = index_scans(db_url)
    print("\n| table | index | scans during the run | size |")
    print("|---|---|---|---|")
    for (table, index), (scans, size) in sorted(
            after.items(), key=lambda item: (item[0][0], -item[1][0])):
        used = scans - before.get((table, index), (0, 0))[0]
        print(f"| {table} | {index} | {used:,} | {size / 2**20:,.0f} MB |")


def print_table() -> None:
    print("\n| figure | value | target | raw limit (same run) | ratio | met? |")
    print("|---|---|---|---|---|---|")
    for figure, value, target, raw, ratio, met in ROWS:
        print(f"| {figure} | {value} | {target} | {raw} | {ratio} | {met} |")
    print("\nPhases: " + ", ".join(f"{name} {seconds / 60:.1f} min"
                                    for name, seconds in PHASES.items()))
    print(f"Total: {sum(PHASES.values()) / 60:.1f} min")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    load_scale.add_arguments(parser)
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database")
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument("--import-events", type=int, default=1_000_000)
    parser.add_argument("--csv-month", help="YYYY-MM of the big org's CSV export "
                        "(default: the last full month, its busiest)")
    parser.add_argument("--batch-events", type=int, default=100_000)
    parser.add_argument("--single-events", type=int, default=2_000)
    parser.add_argument("--async-events", type=int, default=6_400)
    parser.add_argument("--async-workers", type=int, default=2, help="qcluster workers")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""),
                        help="the async workers' broker (default $REDIS_URL; none: the ORM)")
    parser.add_argument("--floor-requests", type=int, default=4_000)
    parser.add_argument("--balance-requests", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=10, help="in-process requests per page")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if not args.database.startswith("bench_scale"):
        parser.error("--database must start with bench_scale")
    db_url = load_scale.database_url(args.admin_url, args.database)
    env = harness.app_env(db_url)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    started = datetime.now(UTC)
    print(f"{started:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f} (say whether the machine was shared)")
    if not args.reuse:
        with phase("load"):
            loaded = load_scale.load(args)
            load_scale.report(loaded, args.events, None)
    else:
        load_scale.setup_django(db_url)
    scans_before = index_scans(db_url)
    raw = {}
    with phase("raw limits"):
        raw["single_8"] = ingest_bench.raw_single(db_url, 8, 4000)
        raw["single_32"] = ingest_bench.raw_single(db_url, 32, 4000)
        raw["copy"] = load_scale.raw_copy_rate(db_url, args.batch_events)
        print(f"   raw CTE 8 / 32 clients {raw['single_8']:,.0f} / {raw['single_32']:,.0f} "
              f"events/s; raw COPY {raw['copy']:,.0f} events/s", flush=True)
    keys = seed_orgs(f"{started:%H%M%S}")
    with harness.Analyzer(db_url):
        with phase("server: floor, balance API, ingestion"):
            server_phases(args, env, keys, raw)
    with phase("pages, in-process"):
        page_phases(args, keys)
    if not args.skip_csv:
        with phase("CSV export memory"):
            csv_phase(args)
    if not args.skip_import:
        with harness.Analyzer(db_url), phase("import_usage"):
            import_phase(args, env, keys, raw)
    ok = True
    if not args.skip_verify:
        with phase("verify_ledger and invariants"):
            ok = scale_checks.run_all(env, db_url, row)
    print_table()
    print_index_use(db_url, scans_before)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
