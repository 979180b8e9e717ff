#!/usr/bin/env python
"""Usage ingestion benchmark (targets and figures: bench/README.md). Not part of `make test`.

In one run, on one machine, against a PostgreSQL database of its own
(dropped and re-created, then migrated):

1. the raw limit: plain psycopg 3 doing the writes one charge needs (insert
   the event, update the balance row, insert the entry with balance_after),
   a. single-event transactions, one CTE statement each, from 8 and 32 clients;
   b. batches of 1,000 with COPY and one balance update per batch;
2. the app under gunicorn:
   a. batch ingestion through HTTP, 1,000-event requests;
   b. single-event requests from 8 and 32 concurrent clients on one org, with
      the lost-update check (balance drop == sum of charged credits);
   c. asynchronous single-event requests (`?mode=async`) from 32 clients on one
      org with `manage.py qcluster` workers charging them: accepted events/s and
      each event's time from accept to charged (p50, p99);
3. `import_usage` of a JSON-lines file (1M events by default) with its peak RSS.

Every figure is printed with its ratio to the matching raw limit.

    .venv/bin/python bench/ingest_bench.py                 # the full run (~10 min)
    .venv/bin/python bench/ingest_bench.py --events 20000  # a quick run

The asynchronous phase wants Redis for the workers' broker (`--redis-url`, default
$REDIS_URL); without it the workers use the ORM broker on the bench database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import web_floor
from bench.harness import (
    PYTHON,
    ROOT,
    Analyzer,
    app_env,
    free_port,
    migrate_and_seed,
    recreate_database,
    run_threads,
    server_env,
    settle,
    start_gunicorn,
    start_workers,
    stop,
)

BATCH = 1000
USERS = [f"user{i}@bench.test" for i in range(20)]
OPERATIONS = ["chat.completion", "summarise", "classify", "agent.step", "embed"]
MODELS = ["gpt-4o-mini", "gpt-4o"]
METERS = ["compute.gpu_seconds", "compute.vcpu_seconds", "storage.gb_hours",
          "bandwidth.egress_gb", "data_ops.requests"]


# -- events ------------------------------------------------------------------------------------

def make_event(rng: random.Random, key: str) -> dict:
    if rng.random() < 0.8:
        input_tokens = rng.randint(200, 6000)
        output_tokens = rng.randint(20, 900)
        return {
            "idempotency_key": key, "type": "ai_tokens", "model": rng.choice(MODELS),
            "provider": "openai", "operation": rng.choice(OPERATIONS),
            "user": rng.choice(USERS), "input_tokens": input_tokens,
            "cached_input_tokens": rng.randint(0, input_tokens // 2),
            "output_tokens": output_tokens,
        }
    return {
        "idempotency_key": key, "type": "infrastructure", "meter": rng.choice(METERS),
        "quantity": f"{rng.uniform(0.5, 500):.3f}", "operation": rng.choice(OPERATIONS),
    }


# -- the raw limit -----------------------------------------------------------------------------

RAW_SCHEMA = """
DROP TABLE IF EXISTS raw_event, raw_entry, raw_account;
CREATE TABLE raw_account (id int PRIMARY KEY, balance numeric(20,6) NOT NULL,
                          entry_count bigint NOT NULL DEFAULT 0);
CREATE TABLE raw_entry (id bigserial PRIMARY KEY, account_id int NOT NULL, seq bigint NOT NULL,
                        kind text NOT NULL, amount numeric(20,6) NOT NULL,
                        balance_after numeric(20,6) NOT NULL, idempotency_key text NOT NULL,
                        created_at timestamptz NOT NULL, UNIQUE (account_id, idempotency_key));
CREATE TABLE raw_event (id bigserial PRIMARY KEY, account_id int NOT NULL,
                        idempotency_key text NOT NULL, type text NOT NULL, resource text NOT NULL,
                        operation text NOT NULL, user_label text NOT NULL,
                        quantity numeric(20,6) NOT NULL, input_tokens bigint NOT NULL,
                        output_tokens bigint NOT NULL, occurred_at timestamptz NOT NULL,
                        credits numeric(20,6) NOT NULL, breakdown jsonb NOT NULL,
                        entry_id bigint NOT NULL, UNIQUE (account_id, idempotency_key));
"""

RAW_SINGLE = """
WITH acc AS (
  UPDATE raw_account SET balance = balance - %(c)s, entry_count = entry_count + 1
  WHERE id = %(a)s AND balance >= %(c)s RETURNING balance, entry_count
), en AS (
  INSERT INTO raw_entry (account_id, seq, kind, amount, balance_after, idempotency_key, created_at)
  SELECT %(a)s, entry_count, 'usage', -%(c)s, balance, %(k)s, now() FROM acc
  RETURNING id, balance_after
), ev AS (
  INSERT INTO raw_event (account_id, idempotency_key, type, resource, operation, user_label,
                         quantity, input_tokens, output_tokens, occurred_at, credits, breakdown,
                         entry_id)
  SELECT %(a)s, %(k)s, 'ai_tokens', 'gpt-4o', 'chat.completion', 'user1@bench.test', 1300, 1000,
         300, now(), %(c)s, %(b)s, en.id FROM en
  RETURNING id
)
SELECT balance_after FROM en
"""

BREAKDOWN = json.dumps({"lines": [{"bucket": "input", "quantity": "1000", "price_id": 1,
                                   "unit_price_usd": "2.5", "cost_usd": "0.0025"}],
                        "cost_usd": "0.0035", "markup": "1.2", "credits_per_usd": "100"})


def raw_reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_SCHEMA)
        conn.execute("INSERT INTO raw_account VALUES (1, 100000000000, 0)")
    settle(url)


def raw_single(url: str, clients: int, total: int) -> float:
    raw_reset(url)
    per = total // clients

    def work(i):
        with psycopg.connect(url, autocommit=True) as conn:
            for n in range(per):
                conn.execute(RAW_SINGLE, {"a": 1, "c": Decimal("0.42"), "k": f"s{i}-{n}",
                                          "b": BREAKDOWN})

    elapsed = run_threads(clients, work)
    return per * clients / elapsed


def raw_batches(url: str, clients: int, total: int) -> float:
    raw_reset(url)
    batches = max(1, total // BATCH // clients)

    def work(i):
        with psycopg.connect(url) as conn:
            for b in range(batches):
                with conn.transaction():
                    balance, seq = conn.execute(
                        "SELECT balance, entry_count FROM raw_account WHERE id = 1 FOR UPDATE"
                    ).fetchone()
                    ids = [r[0] for r in conn.execute(
                        "SELECT nextval('raw_entry_id_seq') FROM generate_series(1, %s)", [BATCH]
                    )]
                    credits = Decimal("0.42")
                    with conn.cursor().copy(
                        "COPY raw_entry (id, account_id, seq, kind, amount, balance_after, "
                        "idempotency_key, created_at) FROM STDIN"
                    ) as copy:
                        for n, entry_id in enumerate(ids):
                            balance -= credits
                            copy.write_row((entry_id, 1, seq + n + 1, "usage", -credits, balance,
                                            f"b{i}-{b}-{n}", "now"))
                    with conn.cursor().copy(
                        "COPY raw_event (account_id, idempotency_key, type, resource, operation, "
                        "user_label, quantity, input_tokens, output_tokens, occurred_at, credits, "
                        "breakdown, entry_id) FROM STDIN"
                    ) as copy:
                        for n, entry_id in enumerate(ids):
                            copy.write_row((1, f"b{i}-{b}-{n}", "ai_tokens", "gpt-4o",
                                            "chat.completion", "user1@bench.test", 1300, 1000,
                                            300, "now", credits, BREAKDOWN, entry_id))
                    conn.execute(
                        "UPDATE raw_account SET balance = %s, entry_count = %s WHERE id = 1",
                        [balance, seq + BATCH],
                    )

    elapsed = run_threads(clients, work)
    return batches * clients * BATCH / elapsed


# -- the app under gunicorn --------------------------------------------------------------------

class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, port: int, raw_key: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {raw_key}",
                        "Content-Type": "application/json"}

    def post(self, body: bytes, mode: str = "sync") -> dict:
        path = "/api/v1/usage-events" + ("?mode=async" if mode == "async" else "")
        self.conn.request("POST", path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != (202 if mode == "async" else 200):
            raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
        return json.loads(data)

    def status_of(self, path: str) -> int:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        response.read()
        return response.status

    def balance(self) -> Decimal:
        self.conn.request("GET", "/api/v1/balance", headers=self.headers)
        return Decimal(json.loads(self.conn.getresponse().read())["balance"])


@dataclass
class SingleRun:
    rate: float
    charged: int
    rejected: int
    charged_sum: Decimal
    drop: Decimal

    @property
    def no_lost_update(self) -> bool:
        return self.charged_sum == self.drop


def http_batches(port: int, raw_key: str, clients: int, total: int, seed: int,
                 prefix: str = "hb") -> float:
    rng = random.Random(seed)
    batches = max(1, total // BATCH // clients)
    bodies = [[json.dumps({"events": [make_event(rng, f"{prefix}{i}-{b}-{n}")
                                      for n in range(BATCH)]})
               .encode() for b in range(batches)] for i in range(clients)]

    def work(i):
        client = Client(port, raw_key)
        for body in bodies[i]:
            result = client.post(body)
            assert result["results"][-1]["status"] == "charged", result["results"][-1]

    elapsed = run_threads(clients, work)
    return batches * clients * BATCH / elapsed


def http_single(port: int, raw_key: str, clients: int, total: int, seed: int,
                prefix: str = "hs") -> SingleRun:
    rng = random.Random(seed)
    per = total // clients
    bodies = [[json.dumps({"events": [make_event(rng, f"{prefix}{clients}-{i}-{n}")]}).encode()
               for n in range(per)] for i in range(clients)]
    outcomes: list[list[dict]] = [[] for _ in range(clients)]
    before = Client(port, raw_key).balance()

    def work(i):
        client = Client(port, raw_key)
        for body in bodies[i]:
            outcomes[i].append(client.post(body)["results"][0])

    elapsed = run_threads(clients, work)
    after = Client(port, raw_key).balance()
    flat = [o for per_client in outcomes for o in per_client]
    charged = [o for o in flat if o["status"] == "charged"]
    return SingleRun(
        rate=len(flat) / elapsed, charged=len(charged), rejected=len(flat) - len(charged),
        charged_sum=sum((Decimal(o["credits"]) for o in charged), Decimal(0)),
        drop=before - after,
    )


# -- asynchronous ingestion --------------------------------------------------------------------

@dataclass
class AsyncRun:
    accepted_rate: float  # events/s answered 202
    accepted: int
    charged: int
    rejected: int
    p50: float  # seconds from accept to charged (received_at -> processed_at)
    p99: float
    worst: float
    drained_after: float  # seconds from the last 202 to the last event charged
    charged_sum: Decimal
    drop: Decimal

    @property
    def no_lost_update(self) -> bool:
        return self.charged_sum == self.drop


def http_async(base_url: str, raw_key: str, clients: int, total: int, *, db_url: str,
               seed: int = 42, prefix: str = "ha", timeout: float = 300) -> AsyncRun:
    """`clients` threads posting single events with ?mode=async to one org; then waits for
    the workers to charge them all and reads each event's accept-to-charged time from
    the queue's rows (both stamped by the server's clock)."""
    port = int(base_url.rsplit(":", 1)[1].split("/")[0])
    rng = random.Random(seed)
    per = total // clients
    # Keys of this call only: the queue's rows are read back by key, and a database
    # measured again (scale_bench --reuse) holds the rows of earlier runs.
    prefix = f"{prefix}{uuid.uuid4().hex[:8]}-"
    bodies = [[json.dumps({"events": [make_event(rng, f"{prefix}{clients}-{i}-{n}")]}).encode()
               for n in range(per)] for i in range(clients)]
    before = Client(port, raw_key).balance()

    def work(i):
        client = Client(port, raw_key)
        for body in bodies[i]:
            client.post(body, mode="async")

    elapsed = run_threads(clients, work)
    accepted_at = time.perf_counter()
    pattern = f"{prefix}{clients}-%"
    with psycopg.connect(db_url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while conn.execute("SELECT count(*) FROM billing_queuedusageevent WHERE status = "
                           "'queued' AND idempotency_key LIKE %s", [pattern]).fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"events still queued {timeout:.0f} s after the last 202")
            time.sleep(0.05)
        drained_after = time.perf_counter() - accepted_at
        p50, p99, worst, charged, rejected, charged_sum = conn.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY waited), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY waited), max(waited), "
            "count(*) FILTER (WHERE status = 'charged'), "
            "count(*) FILTER (WHERE status = 'rejected'), "
            "coalesce(sum(credits) FILTER (WHERE status = 'charged'), 0) "
            "FROM (SELECT status, credits, "
            "      extract(epoch FROM processed_at - received_at) AS waited "
            "      FROM billing_queuedusageevent WHERE idempotency_key LIKE %s) AS q",
            [pattern]).fetchone()
    after = Client(port, raw_key).balance()
    return AsyncRun(
        accepted_rate=per * clients / elapsed, accepted=per * clients, charged=charged,
        rejected=rejected, p50=float(p50), p99=float(p99), worst=float(worst),
        drained_after=drained_after, charged_sum=charged_sum, drop=before - after,
    )


# -- import_usage ------------------------------------------------------------------------------

def write_jsonl(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("w") as out:
        for n in range(count):
            out.write(json.dumps(make_event(rng, f"imp-{n}")))
            out.write("\n")


def run_import(env: dict, path: Path, slug: str) -> tuple[float, int, str]:
    """(events/s, peak RSS in kB, summary line) of `manage.py import_usage` as a child."""
    # -v 2: each process's peak RSS and the lock's share, when it runs workers.
    command = [PYTHON, "manage.py", "import_usage", str(path), "--org", slug, "-v", "2"]
    started = time.perf_counter()
    if Path("/usr/bin/time").exists():
        proc = subprocess.run(["/usr/bin/time", "-v", *command], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        peak = int(match.group(1)) if match else -1
    else:  # ru_maxrss of a wrapper whose only child is the import
        wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:]); "
                   "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)")
        proc = subprocess.run([PYTHON, "-c", wrapper, *command], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        peak = int(proc.stderr.strip().splitlines()[-1])
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    progress = [line for line in proc.stderr.splitlines() if "events/s" in line]
    if progress:
        summary += f" | last progress line: {progress[-1].strip()}"
    summary += "".join(f" | {line.strip()}" for line in proc.stderr.splitlines()
                       if line.startswith(("peak RSS:", "turn at the account lock")))
    return count_lines(path) / elapsed, peak, summary


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


# -- main --------------------------------------------------------------------------------------

def run_async_phase(args, env, base_url, raw_key, events) -> AsyncRun:
    """32 clients posting ?mode=async to one org while qcluster workers charge the queue."""
    log = Path(tempfile.gettempdir()) / "ingest_bench_qcluster.log"
    print(f"asynchronous: {args.async_workers} qcluster workers on "
          f"{'Redis' if env.get('REDIS_URL') else 'the ORM broker'} (log: {log})…", flush=True)
    workers = start_workers(env, args.async_workers, log)
    try:
        http_async(base_url, raw_key, 32, max(320, events // 4), db_url=env["DATABASE_URL"],
                   seed=args.seed - 1, prefix="warm")
        settle(env["DATABASE_URL"])
        return http_async(base_url, raw_key, 32, events, db_url=env["DATABASE_URL"],
                          seed=args.seed + 1)
    finally:
        stop(workers)


def run_app(args, env, keys, results, batch_events, single_events):
    """The gunicorn runs and the import; fills `results`."""
    port = free_port()
    print(f"gunicorn on :{port} ({args.workers} workers x {args.threads} threads)…", flush=True)
    log = Path(tempfile.gettempdir()) / "ingest_bench_gunicorn.log"
    proc = start_gunicorn(server_env(env), port, args.workers, args.threads, log)
    print(f"  (server log: {log})", flush=True)
    try:
        # Warm every worker's connection and price cache paths.
        http_batches(port, keys["bench-batch"], args.workers, BATCH * args.workers, seed=1,
                     prefix="warm")
        for clients in web_floor.CLIENT_COUNTS:  # the same server's floor, for the ratios
            results[f"floor_{clients}"] = web_floor.measure(port, keys["bench-batch"], clients,
                                                            max(800, single_events)).rate
        settle(env["DATABASE_URL"])
        results["http_batch"] = http_batches(port, keys["bench-batch"], args.batch_clients,
                                             batch_events, seed=args.seed)
        single = {}
        for clients, slug in ((8, "bench-s8"), (32, "bench-s32")):
            # Warm-up, not measured: an org's first few hundred concurrent events run slower.
            http_single(port, keys[slug], clients, max(clients * 10, single_events // 4),
                        seed=args.seed - clients, prefix="warm")
            settle(env["DATABASE_URL"])
            single[clients] = http_single(port, keys[slug], clients, single_events,
                                          seed=args.seed + clients)
            results[f"http_single_{clients}"] = single[clients].rate
        # Accepts are cheap: more events than the synchronous runs, for a steady p99.
        results["async"] = run_async_phase(args, env, f"http://127.0.0.1:{port}",
                                           keys["bench-async"], max(3200, single_events))
    finally:
        stop(proc)

    print(f"import_usage of {args.events:,} events…", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "usage.jsonl"
        write_jsonl(path, args.events, seed=args.seed)
        settle(env["DATABASE_URL"])
        import_rate, peak_kb, import_summary = run_import(env, path, "bench-import")

    return single, import_rate, peak_kb, import_summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events for import_usage; HTTP and raw runs scale from it")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="credits_bench")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--batch-clients", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""),
                        help="the workers' broker for the asynchronous phase (default "
                             "$REDIS_URL; none: the ORM broker)")
    parser.add_argument("--async-workers", type=int, default=2, help="qcluster workers")
    args = parser.parse_args()

    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    env = app_env(db_url)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    batch_events = max(BATCH * args.batch_clients, min(100_000, args.events // 10))
    raw_single_events = max(320, min(20_000, args.events // 50))
    single_events = max(320, min(4_000, args.events // 50))

    print(f"Database {args.database}: re-creating, migrating, seeding…", flush=True)
    recreate_database(args.admin_url, args.database)
    keys = migrate_and_seed(env, ["bench-batch", "bench-s8", "bench-s32", "bench-async",
                                  "bench-import"])

    results = {}
    print("Raw limit (plain psycopg 3)…", flush=True)
    results["raw_single_8"] = raw_single(db_url, 8, raw_single_events)
    results["raw_single_32"] = raw_single(db_url, 32, raw_single_events)
    results["raw_copy"] = raw_batches(db_url, args.batch_clients, batch_events)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE raw_event, raw_entry, raw_account")

    with Analyzer(db_url) as analyzer:
        if analyzer.needed:
            print("autovacuum is off on this server: ANALYZE runs every 15 s instead", flush=True)
        single, import_rate, peak_kb, import_summary = run_app(args, env, keys, results,
                                                               batch_events, single_events)
    verify = subprocess.run([PYTHON, "manage.py", "verify_ledger", "--org", "bench-s32"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    verify_async = subprocess.run([PYTHON, "manage.py", "verify_ledger", "--org", "bench-async"],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
    run_async: AsyncRun = results["async"]

    print()
    print(f"CPU: {os.cpu_count()} cores; PostgreSQL: {db_url}; events: {args.events:,}")
    print("| what | figure | ratio to raw | target |")
    print("|---|---|---|---|")
    rows = [
        ("raw: single-event CTE transactions, 8 clients", results["raw_single_8"], None, ""),
        ("raw: single-event CTE transactions, 32 clients", results["raw_single_32"], None, ""),
        (f"raw: COPY batches of 1,000, {args.batch_clients} clients", results["raw_copy"], None,
         ""),
        (f"HTTP batches of 1,000, {args.batch_clients} clients", results["http_batch"],
         results["http_batch"] / results["raw_copy"], ">= 12,000 events/s"),
        ("HTTP single events, 8 clients, one org", results["http_single_8"],
         results["http_single_8"] / results["raw_single_8"], "see the web floor rows"),
        ("HTTP single events, 32 clients, one org", results["http_single_32"],
         results["http_single_32"] / results["raw_single_32"], "see the web floor rows"),
        (f"import_usage of {args.events:,} events", import_rate,
         import_rate / results["raw_copy"], ">= 12,000 events/s"),
    ]
    for what, rate, ratio, target in rows:
        shown_ratio = f"{ratio:.2f}" if ratio is not None else "-"
        print(f"| {what} | {rate:,.0f} events/s | {shown_ratio} | {target} |")
    for clients in web_floor.CLIENT_COUNTS:
        floor, single_rate = results[f"floor_{clients}"], results[f"http_single_{clients}"]
        print(f"| web floor, {clients} clients | {floor:,.0f} requests/s | - | |")
        print(f"| HTTP single events, {clients} clients: ratio to the web floor | "
              f"{single_rate / floor:.2f} | - | >= 0.5 x the web floor |")
    print(f"| import_usage peak RSS | {peak_kb / 1024:,.0f} MB | - | < 200 MB |")
    print(f"| HTTP async single events, 32 clients, one org: accepted | "
          f"{run_async.accepted_rate:,.0f} events/s | "
          f"{run_async.accepted_rate / results['raw_single_32']:.2f} | "
          f">= 0.8 x the web floor at 32 clients: "
          f"{run_async.accepted_rate / results['floor_32']:.2f} x; "
          f"{run_async.accepted_rate / results['http_single_32']:.1f} x the synchronous "
          f"32-client figure |")
    print(f"| async: accept to charged, p50 / p99 / worst | {run_async.p50:.3f} / "
          f"{run_async.p99:.3f} / {run_async.worst:.3f} s | - | p99 < 2 s |")
    for clients, run in single.items():
        print(f"{clients} clients: {run.charged} charged, {run.rejected} insufficient_credits; "
              f"charged sum {run.charged_sum} vs balance drop {run.drop}: "
              f"{'no lost update' if run.no_lost_update else 'LOST UPDATE'}")
    print(f"async 32 clients: {run_async.accepted} accepted, {run_async.charged} charged, "
          f"{run_async.rejected} rejected, queue drained {run_async.drained_after:.2f} s after "
          f"the last 202; charged sum {run_async.charged_sum} vs balance drop "
          f"{run_async.drop}: {'no lost update' if run_async.no_lost_update else 'LOST UPDATE'}")
    print(f"import: {import_summary}")
    print(f"verify_ledger bench-s32: {verify.stdout.strip() or verify.stderr.strip()}")
    print(f"verify_ledger bench-async: "
          f"{verify_async.stdout.strip() or verify_async.stderr.strip()}")
    ok = (all(run.no_lost_update for run in single.values()) and run_async.no_lost_update
          and verify.returncode == 0 and verify_async.returncode == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
