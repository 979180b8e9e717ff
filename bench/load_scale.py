#!/usr/bin/env python
"""Fill a fresh database with ten million valid usage events, by COPY, in minutes.

The database (dropped, re-created, migrated with the project's migrations,
prices seeded by `sync_model_prices`) gets one big org holding most events
(`--big-share`, 80% by default) and `--small-orgs` orgs sharing the rest, over
`--days` of history, charged as the app charges them (one ledger entry per
charge: batches of `--big-batch` / `--small-batch` events, and single events,
`--single-share` of them), with grant allocations, top-up grants and daily
rollups (bench/scale_data.py says how they are made
valid: a real chain, balances, burn-down, rollups = sums of the events).

Two generator processes (the big org; the small orgs) stream COPY into three
connections each, while the big tables' secondary indexes, unique and
foreign-key constraints are dropped; they are rebuilt (and so re-validated)
afterwards, as pg_restore does. The raw COPY rate of ingest_bench is measured
in the same database for comparison.

    .venv/bin/python bench/load_scale.py                      # 10M events
    .venv/bin/python bench/load_scale.py --events 1000000     # a quick one
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, ingest_bench

ROOT = harness.ROOT

BIG_TABLES = ["billing_ledgerentry", "billing_usageevent", "billing_grantallocation",
              "billing_dailyusage"]
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "bench_scale"
BIG_SLUG = "big"
ADMIN_EMAIL = "admin@big.bench.test"
SMALL_ADMIN_EMAIL = "admin@small.bench.test"


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def setup_django(db_url: str) -> None:
    """Django in this process with ingest_bench's environment (the chain key derives from its
    SECRET_KEY, so every bench script and manage.py child signs and verifies alike), and the
    test settings' static storage and hosts, for in-process page requests as reports_bench."""
    os.environ.update(harness.app_env(db_url), DATABASE_STATEMENT_TIMEOUT_MS="0",
                      DJANGO_SETTINGS_MODULE="config.test_settings")
    import django

    django.setup()


# -- schema: drop the big tables' secondary indexes and constraints, rebuild them after ----------

def secondary_ddl(conn) -> tuple[list[str], list[str], list[str]]:
    """(drop statements, build statements, foreign-key statements) for BIG_TABLES."""
    drops, builds, foreign = [], [], []
    rows = conn.execute(
        "SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY(%s) "
        "AND c.contype IN ('f', 'u') ORDER BY c.contype, c.conname", [BIG_TABLES]).fetchall()
    for table, name, kind, definition in rows:
        drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        statement = f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        (foreign if kind == "f" else builds).append(statement)
    drops.sort(key=lambda s: " FOREIGN " not in s)  # not needed by pg, but readable
    indexes = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", [BIG_TABLES]).fetchall()
    for name, definition in indexes:
        drops.append(f'DROP INDEX "{name}"')
        builds.append(definition)
    return drops, builds, foreign


def run_parallel(db_url: str, statements: list[str], workers: int = 2) -> None:
    """Run statements on `workers` connections at once (index builds use one core each)."""
    def run(statement):
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("SET max_parallel_maintenance_workers = 0")
            started = time.perf_counter()
            conn.execute(statement)
            print(f"    {time.perf_counter() - started:6.1f} s  {statement[:110]}", flush=True)

    # Longest first: the ledger's and the events' indexes.
    ordered = sorted(statements, key=lambda s: ("ledgerentry" not in s, "usageevent" not in s))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, ordered))


# -- orgs ------------------------------------------------------------------------------------------

def create_orgs(small: int, total_events: int, big_share: float, *, big_batch: int,
                small_batch: int, single_share: float):
    """The orgs, their accounts, one API key each and two admins; returns the OrgPlans."""
    from django.contrib.auth import get_user_model

    from accounts.models import ApiKey, Membership, Organization, Role, digest_api_key
    from bench.scale_data import OrgPlan
    from billing.ledger.actor import Actor
    from billing.models import CreditAccount

    big_events = int(total_events * big_share) if small else total_events
    orgs = [Organization(slug=BIG_SLUG, name="Big Bench Co", plan="enterprise")]
    orgs += [Organization(slug=f"small-{n:04d}", name=f"Small Bench {n}", plan="professional")
             for n in range(small)]
    Organization.objects.bulk_create(orgs, batch_size=1000)
    orgs = list(Organization.objects.order_by("id"))
    CreditAccount.objects.bulk_create([CreditAccount(organization=o) for o in orgs
                                       if not CreditAccount.objects.filter(organization=o)
                                       .exists()], batch_size=1000)
    keys = ApiKey.objects.bulk_create(
        [ApiKey(organization=o, name="platform", prefix=f"ld{o.pk}",
                digest=digest_api_key(f"loader-{o.pk}-{os.urandom(8).hex()}")) for o in orgs],
        batch_size=1000)
    users = get_user_model()
    for email, org in ((ADMIN_EMAIL, orgs[0]), (SMALL_ADMIN_EMAIL, orgs[-1])):
        user = users.objects.create_user(email, "pw-bench-123")
        Membership.objects.create(user=user, organization=org, role=Role.ADMIN)
    accounts = dict(CreditAccount.objects.values_list("organization_id", "id"))
    per_small, extra = divmod(total_events - big_events, small) if small else (0, 0)
    plans = []
    for n, (org, key) in enumerate(zip(orgs, keys, strict=True)):
        events = big_events if n == 0 else per_small + (1 if n <= extra else 0)
        plans.append(OrgPlan(organization_id=org.pk, account_id=accounts[org.pk],
                             api_key_id=key.pk, api_key_label=Actor.api_key(key).label,
                             slug=org.slug, events=events, topups=100 if n == 0 else 10,
                             batch=big_batch if n == 0 else small_batch,
                             single_share=single_share))
    return plans


# -- generation ------------------------------------------------------------------------------------

TEMPLATES: list = []  # set before the generators fork


def generate(job) -> dict:
    """One generator process: its orgs, streamed by COPY into three connections."""
    from bench.scale_data import (
        ALLOCATION_COLUMNS,
        ENTRY_COLUMNS,
        EVENT_VARYING,
        Ids,
        copy_statement,
        event_constant_columns,
        generate_org,
        write_results,
    )
    from billing.usage.ingestion.charges import FIELDS

    db_url, plans, ids, first, last, seed, label = job
    streams = [("billing_usageevent", EVENT_VARYING + event_constant_columns(FIELDS)),
               ("billing_ledgerentry", ENTRY_COLUMNS),
               ("billing_grantallocation", ALLOCATION_COLUMNS)]
    connections = [psycopg.connect(db_url) for _ in streams]
    started = time.perf_counter()
    total = sum(p.events for p in plans)
    progress = Progress(label, total, started)
    results = []
    with ExitStack() as stack:
        writers = []
        for conn, (table, columns) in zip(connections, streams, strict=True):
            conn.execute("SET synchronous_commit = off")
            copy = stack.enter_context(conn.cursor().copy(copy_statement(table, columns)))
            writers.append(BufferedCopy(copy))
            stack.callback(writers[-1].flush)  # runs before the COPY ends
        for n, plan in enumerate(plans):
            result = generate_org(plan, TEMPLATES, ids, first=first, last=last, seed=seed + n,
                                  write_event=writers[0].write, write_entry=writers[1].write,
                                  write_allocation=writers[2].write,
                                  progress=progress.add if len(plans) == 1 else None)
            results.append((plan, result))
            if len(plans) > 1:
                progress.add(plan.events)
    write_results(connections[1].cursor(), results, TEMPLATES)
    for conn in connections:
        conn.commit()
        conn.close()
    return {"label": label, "events": total, "seconds": time.perf_counter() - started,
            "ids": Ids(**vars(ids))}


class BufferedCopy:
    """Lines gathered and sent to COPY 20,000 at a time."""

    def __init__(self, copy):
        self.copy, self.lines = copy, []

    def write(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= 20_000:
            self.flush()

    def flush(self) -> None:
        self.copy.write("".join(self.lines))
        self.lines.clear()


class Progress:
    """Prints a generator's events done and its rate, every tenth of its total."""

    def __init__(self, label: str, total: int, started: float):
        self.label, self.total, self.started = label, total, started
        self.done, self.next = 0, max(total // 10, 1)

    def add(self, events: int) -> None:
        self.done += events
        if self.done >= self.next or self.done >= self.total:
            rate = self.done / (time.perf_counter() - self.started)
            print(f"  [{self.label}] {self.done:,} / {self.total:,} events, {rate:,.0f} events/s",
                  flush=True)
            self.next = self.done + max(self.total // 10, 1)


def id_ranges(plans, starts):
    """Disjoint id ranges per generator: events, entries (events + grants), allocations."""
    from bench.scale_data import Ids

    events = sum(p.events for p in plans)
    grants = sum(p.topups for p in plans) * 3 + 1000
    ids = Ids(event=starts.event, entry=starts.entry, allocation=starts.allocation,
              grant=starts.grant)
    following = Ids(event=starts.event + events, entry=starts.entry + events + grants,
                    allocation=starts.allocation + 2 * events + grants,
                    grant=starts.grant + grants)
    return ids, following


def load(args) -> dict:
    """Create and fill the database; returns timings and sizes."""
    timings = {}
    t0 = time.perf_counter()
    db_url = database_url(args.admin_url, args.database)
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{args.database}"')
    setup_django(db_url)
    from django.core.management import call_command
    from django.db import connections

    from bench import scale_data
    from bench.scale_data import Ids
    from billing.usage.ingestion.charges import FIELDS

    call_command("migrate", verbosity=0)
    call_command("sync_model_prices", stdout=open(os.devnull, "w"))  # noqa: SIM115
    plans = create_orgs(args.small_orgs, args.events, args.big_share, big_batch=args.big_batch,
                        small_batch=args.small_batch, single_share=args.single_share)
    last = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    first = last - timedelta(days=args.days)
    TEMPLATES[:] = scale_data.price_templates(count=args.templates, plan="professional",
                                              first=first, last=last, seed=args.seed,
                                              event_fields=FIELDS)
    timings["setup"] = time.perf_counter() - t0
    print(f"migrated, {len(plans):,} orgs, {len(TEMPLATES):,} priced templates "
          f"({timings['setup']:.0f} s)", flush=True)

    with psycopg.connect(db_url, autocommit=True) as conn:
        drops, builds, foreign = secondary_ddl(conn)
        for statement in drops:
            conn.execute(statement)
    groups = [[p for p in plans if p.slug == BIG_SLUG], [p for p in plans if p.slug != BIG_SLUG]]
    groups = [g for g in groups if g]
    starts = Ids(event=1, entry=1, allocation=1, grant=1)
    jobs = []
    for n, group in enumerate(groups):
        ids, starts = id_ranges(group, starts)
        jobs.append((db_url, group, ids, first, last, args.seed * 1000 + n * 100_000,
                     "big org" if group[0].slug == BIG_SLUG else f"{len(group):,} small orgs"))
    connections.close_all()
    t1 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        done = pool.map(generate, jobs)
    timings["copy"] = time.perf_counter() - t1
    print(f"COPY done in {timings['copy']:.0f} s "
          f"({args.events / timings['copy']:,.0f} events/s with entries and allocations)",
          flush=True)

    t2 = time.perf_counter()
    print("rebuilding indexes and constraints…", flush=True)
    run_parallel(db_url, builds)
    run_parallel(db_url, foreign)
    timings["indexes"] = time.perf_counter() - t2
    with psycopg.connect(db_url, autocommit=True) as conn:
        for table, column in (("billing_usageevent", "event"), ("billing_ledgerentry", "entry"),
                              ("billing_grantallocation", "allocation"),
                              ("billing_creditgrant", "grant")):
            top = max(getattr(d["ids"], column) for d in done)
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [top])
        t3 = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
        timings["analyze"] = time.perf_counter() - t3
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in (*BIG_TABLES, "billing_creditgrant")}
    timings["total"] = time.perf_counter() - t0
    return {"timings": timings, "size": size, "counts": counts, "db_url": db_url}


def raw_copy_rate(db_url: str, events: int) -> float:
    """ingest_bench's raw limit (COPY batches of 1,000, two clients), in this database."""
    rate = ingest_bench.raw_batches(db_url, 2, events)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE raw_event, raw_entry, raw_account")
    return rate


def add_arguments(parser) -> None:
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--small-orgs", type=int, default=2000)
    parser.add_argument("--big-share", type=float, default=0.8)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--big-batch", type=int, default=1000,
                        help="events per charge of the big org (its batch requests, imports)")
    parser.add_argument("--small-batch", type=int, default=100,
                        help="events per charge of the small orgs (queue batches)")
    parser.add_argument("--single-share", type=float, default=0.05,
                        help="the share of events charged one at a time (a charge of one)")
    parser.add_argument("--templates", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default=DEFAULT_DATABASE,
                        help="dropped and re-created; its name must start with bench_scale")


def report(loaded: dict, events: int, raw: float | None) -> None:
    t = loaded["timings"]
    print(f"\nLoaded {events:,} events in {t['total'] / 60:.1f} min: setup {t['setup']:.0f} s, "
          f"COPY {t['copy']:.0f} s, indexes and constraints {t['indexes']:.0f} s, "
          f"VACUUM ANALYZE + CHECKPOINT {t['analyze']:.0f} s")
    for table, count in loaded["counts"].items():
        print(f"  {table}: {count:,} rows")
    print(f"  database size on disk: {loaded['size'] / 2**30:.1f} GB")
    rate = events / t["total"]
    if raw:
        print(f"  overall {rate:,.0f} events/s (COPY phase {events / t['copy']:,.0f}/s) against "
              f"raw COPY {raw:,.0f} events/s: ratio {rate / raw:.2f} "
              f"(COPY phase {events / t['copy'] / raw:.2f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--skip-raw", action="store_true", help="skip the raw COPY rate")
    args = parser.parse_args()
    if not args.database.startswith("bench_scale"):
        parser.error("--database must start with bench_scale")
    loaded = load(args)
    raw = None if args.skip_raw else raw_copy_rate(loaded["db_url"], 100_000)
    report(loaded, args.events, raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
