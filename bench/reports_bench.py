#!/usr/bin/env python
"""Reporting pages at scale (targets: docs/ and bench/README.md). Not part of `make test`.

Into a database of its own (dropped, re-created and migrated), plants one org with
`--entries` ledger rows (10M by default; INSERT ... SELECT from generate_series:
a page read needs rows, not a valid hash chain), a usage event for each usage
entry (one in five; five models, five operations, two users, one API key), and a
year of daily rollup rows (365 days x 5 resources x 5 operations x 20 users,
what ten million events sum to), then times in-process, with Django's test
client (server time: view, queries and template), each page `--repeat` times:

- the transactions page: page 1, a deep page (a cursor near the oldest entry),
  filtered by kind, by model, by API key and by user, sorted by amount (page 1
  and a deep page), and the CSV's first 1,000 rows;
- an entry's detail page, the monthly summary page and the dashboard;
- `GET /api/v1/balance` with an API key (median, p95 and p99).

    .venv/bin/python bench/reports_bench.py                    # 10M entries (~10 min)
    .venv/bin/python bench/reports_bench.py --entries 200000   # a quick run
    .venv/bin/python bench/reports_bench.py --keep --profile "transactions, page 1"
    .venv/bin/python bench/reports_bench.py --keep --explain   # each page's SQL plans
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def recreate(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


PLANT_ENTRIES = """
INSERT INTO billing_ledgerentry (account_id, seq, kind, amount, balance_after, actor_type,
    actor_label, reason, idempotency_key, fingerprint, metadata, created_at, hash, key_id,
    actor_api_key_id)
SELECT %(account)s, n,
       CASE WHEN n %% 5 = 0 THEN 'usage' WHEN n %% 997 = 0 THEN 'purchase'
            ELSE 'adjustment' END,
       CASE WHEN n %% 5 = 0 THEN -((n %% 1000) + 1) / 1000.0 ELSE ((n %% 700) + 1) / 100.0 END,
       n * 0.01, CASE WHEN n %% 5 = 0 THEN 'api_key' ELSE 'system' END,
       CASE WHEN n %% 5 = 0 THEN 'api_key:bench' ELSE 'system:bench' END,
       'bench row ' || n, 'bench:' || n, '', '{}',
       now() - make_interval(secs => (%(total)s - n) * 3), '', '',
       CASE WHEN n %% 5 = 0 THEN %(key)s END
FROM generate_series(%(start)s, %(stop)s) AS n
"""

# One usage event per usage entry, in the same id range: five models, five
# operations, every other one from the bench user, all through one API key.
PLANT_EVENTS = """
INSERT INTO billing_usageevent (organization_id, idempotency_key, type, ai_model_id,
    resource, name_sent, provider, service_tier, input_tokens, output_tokens,
    cached_input_tokens, cache_write_tokens, reasoning_tokens, quantity, operation,
    user_id, user_label, api_key_id, occurred_at, occurred_at_sent, received_at,
    fingerprint, breakdown, cost_usd, markup, credits_per_usd, credits, balance_after,
    entry_id)
SELECT %(org)s, 'ev-' || e.seq, 'ai_tokens', %(model)s, 'model-' || (e.seq %% 7 %% 5 + 1),
       '', 'bench', '', 900, 100, 0, 0, 0, 1000, 'op-' || (e.seq %% 11 %% 5 + 1),
       CASE WHEN e.seq %% 2 = 0 THEN %(user)s END,
       CASE WHEN e.seq %% 2 = 0 THEN 'bench@x.test' ELSE '' END, %(key)s,
       e.created_at, true, e.created_at, '', '{}', 0.001, 1.2, 1000, -e.amount,
       e.balance_after, e.id
FROM billing_ledgerentry e
WHERE e.account_id = %(account)s AND e.kind = 'usage' AND e.seq BETWEEN %(start)s AND %(stop)s
"""

PLANT_ROLLUP = """
INSERT INTO billing_dailyusage (organization_id, day, usage_type, resource, operation,
    user_label, event_count, quantity, input_tokens, output_tokens, cost_usd, credits)
SELECT %(org)s, current_date - d, 'ai_tokens', 'model-' || r, 'op-' || o, 'u' || u || '@x.test',
       55, 55000, 50000, 5000, 0.55, 66
FROM generate_series(0, 364) d, generate_series(1, 5) r, generate_series(1, 5) o,
     generate_series(1, 20) u
"""


CPU_MS: list[float] = []  # this process's CPU time of each request timed, last call only


def timed(client, url, repeat, *, stream=False, headers=None):
    """Wall-clock ms of each request; CPU_MS gets this process's CPU ms of each (Django's
    own work, without the waits for the database or for a core on a shared machine)."""
    times = []
    CPU_MS.clear()
    for _ in range(repeat):
        cpu = time.process_time()
        start = time.perf_counter()
        response = client.get(url, headers=headers or {})
        if stream:
            lines = 0
            for chunk in response.streaming_content:
                lines += chunk.count(b"\n")
                if lines > 1000:
                    break
            response.close()
        else:
            assert response.status_code == 200, (url, response.status_code)
        times.append((time.perf_counter() - start) * 1000)
        CPU_MS.append((time.process_time() - cpu) * 1000)
    return times


def floor(client, url, repeat, status, headers=None):
    """Times (ms) of a request answered `status` early, after five to warm up."""
    times = []
    for _ in range(repeat + 5):
        start = time.perf_counter()
        response = client.get(url, headers=headers or {})
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == status, (url, response.status_code)
    return times[5:]


def quantile(times, q):
    ordered = sorted(times)
    return ordered[min(max(int(len(ordered) * q + 0.5) - 1, 0), len(ordered) - 1)]


def plant(connection, *, account, org, user, key, model, entries):
    step = 250_000
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(1, entries + 1, step):
            stop = min(start + step - 1, entries)
            params = {"account": account.pk, "org": org.pk, "start": start, "stop": stop,
                      "total": entries, "key": key.pk, "user": user.pk, "model": model.pk}
            cursor.execute(PLANT_ENTRIES, params)
            cursor.execute(PLANT_EVENTS, params)
            print(f"  planted {stop:,} entries", flush=True)
        cursor.execute("UPDATE billing_creditaccount SET entry_count = %s, balance = %s "
                       "WHERE id = %s", [entries, entries * 0.01, account.pk])
        cursor.execute(PLANT_ROLLUP, {"org": org.pk})
        for table in ("billing_ledgerentry", "billing_usageevent", "billing_dailyusage"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
    print(f"planted in {time.perf_counter() - t0:.0f} s", flush=True)


def explain(connection, client, url, headers=None):
    """Each query the page runs, with its plan (EXPLAIN ANALYZE, BUFFERS)."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url, headers=headers or {})
    for query in ctx.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = [row[0] for row in cursor.fetchall()]
        print(f"  {query['time']}s  {sql[:300]}")
        print("\n".join("      " + line for line in plan))


def profile(client, url, headers=None, repeat=10):
    import cProfile
    import pstats

    timed(client, url, 2, headers=headers)
    profiler = cProfile.Profile()
    profiler.enable()
    timed(client, url, repeat, headers=headers)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_reports")
    parser.add_argument("--keep", action="store_true", help="reuse a planted database")
    parser.add_argument("--profile", metavar="PAGE", help="cProfile one page, then stop")
    parser.add_argument("--explain", action="store_true", help="print each page's plans")
    args = parser.parse_args()

    base = args.admin_url.rsplit("/", 1)[0]
    db_url = f"{base}/{args.database}"
    if not args.keep:
        recreate(args.admin_url, args.database)
    os.environ.update(DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="config.test_settings",
                      ALLOWED_HOSTS="testserver", DATABASE_STATEMENT_TIMEOUT_MS="0")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import ApiKey, Membership, Organization, Role, User
    from accounts.services import API_KEY_PREFIX, create_api_key, digest_api_key
    from billing.ledger.credit_accounts import ensure_account
    from billing.models import AIModel, LedgerEntry

    call_command("migrate", verbosity=0)
    org, created = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "plan": "enterprise"})
    user = User.objects.filter(email="bench@x.test").first() or User.objects.create_user(
        "bench@x.test", "pw-bench-123")
    Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.ADMIN})
    # A fixed raw key, so a --keep run can authenticate with the same key.
    raw_key = API_KEY_PREFIX + "bench-reports-key-0123456789abcdef"
    key = ApiKey.objects.filter(organization=org, name="bench").first()
    if key is None:
        key = create_api_key(organization=org, name="bench", created_by=user).api_key
        ApiKey.objects.filter(pk=key.pk).update(digest=digest_api_key(raw_key))
    # A member with no entries at all: the user filter's worst case.
    idle = User.objects.filter(email="idle@x.test").first() or User.objects.create_user(
        "idle@x.test", "pw-bench-123")
    Membership.objects.get_or_create(user=idle, organization=org, defaults={"role": Role.MEMBER})
    model, _ = AIModel.objects.get_or_create(provider="bench", name="bench-model")
    account = ensure_account(organization=org)
    if created or not args.keep:
        plant(connection, account=account, org=org, user=user, key=key, model=model,
              entries=args.entries)

    client = Client()
    client.force_login(user)
    entries = LedgerEntry.objects.filter(account=account)
    oldest = entries.order_by("id").values_list("id", flat=True)[60]
    usage_entry = entries.filter(kind="usage").order_by("-id").values_list("id", flat=True)[0]
    smallest = entries.order_by("amount", "id").values_list("amount", "id")[60]
    today = time.gmtime()

    def days_ago(days: int) -> str:  # the UTC date `days` days ago
        return time.strftime("%Y-%m-%d", time.gmtime(time.time() - days * 86400))

    api_headers = {"authorization": f"Bearer {raw_key}"}
    pages = {
        "transactions, page 1": "/o/bench/transactions/",
        "transactions, deep page (oldest)": f"/o/bench/transactions/?after=-id~{oldest}",
        "transactions, kind=usage": "/o/bench/transactions/?kind=usage",
        "transactions, model-3": "/o/bench/transactions/?resource=model-3",
        # The worst case of a join filter: no row matches, so every entry is looked at.
        "transactions, model never used": "/o/bench/transactions/?resource=no-such-model",
        "transactions, API key": f"/o/bench/transactions/?who=key:{key.pk}",
        "transactions, user": f"/o/bench/transactions/?who=user:{user.pk}",
        "transactions, user with no entries": f"/o/bench/transactions/?who=user:{idle.pk}",
        # Five days in the middle of the history, by when charged and by when used.
        "transactions, 5 days charged": f"/o/bench/transactions/?start={days_ago(20)}"
                                        f"&end={days_ago(16)}",
        "transactions, 5 days used": f"/o/bench/transactions/?start={days_ago(20)}"
                                     f"&end={days_ago(16)}&dates=used",
        "transactions, 5 days used, user": f"/o/bench/transactions/?start={days_ago(20)}"
                                           f"&end={days_ago(16)}&dates=used"
                                           f"&who=user:{user.pk}",
        "transactions, by amount": "/o/bench/transactions/?sort=-amount",
        "transactions, by amount, deep": "/o/bench/transactions/?sort=-amount"
                                         f"&after=-amount~{smallest[0]}~{smallest[1]}",
        "entry detail (usage)": f"/o/bench/entries/{usage_entry}/",
        "monthly summary": f"/o/bench/reports/monthly/?year={today.tm_year}"
                           f"&month={today.tm_mon}",
        "dashboard": "/o/bench/",
    }
    api = "/api/v1/balance"
    if args.profile:
        url = api if args.profile == "balance API" else pages[args.profile]
        profile(client, url, api_headers if url == api else None)
        return
    if args.explain:
        for name, url in [*pages.items(), ("balance API", api)]:
            print(f"\n== {name}: {url}")
            explain(connection, client, url, api_headers if url == api else None)
        return

    # The floors, measured in the same run: a portal request that gets as far as the org
    # check (session, user, membership: then 404) and an API request that gets as far
    # as the key check (one query: then 401). Every page is printed against them.
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the floors' 404s and 401s
    portal_floor = statistics.median(
        floor(client, "/o/no-such-org/transactions/", args.repeat * 5, 404))
    api_floor_times = floor(Client(), api, max(args.repeat * 20, 200), 401,
                            {"authorization": "Bearer not-a-key"})
    api_floor = statistics.median(api_floor_times)
    print(f"\n{args.entries:,} ledger entries; in-process server time, "
          f"{args.repeat} requests each (ms); machine shared with other builds")
    print(f"floors: portal request {portal_floor:.1f} ms, API request {api_floor:.1f} ms "
          "(medians)")
    print(f"{'page':40} {'median':>8} {'p95':>8} {'x floor':>8} {'CPU':>6}")
    for name, url in pages.items():
        timed(client, url, 2)  # warm
        times = timed(client, url, args.repeat)
        median = statistics.median(times)
        print(f"{name:40} {median:8.1f} {quantile(times, 0.95):8.1f} "
              f"{median / portal_floor:8.1f} {statistics.median(CPU_MS):6.1f}", flush=True)
    times = timed(client, "/o/bench/transactions.csv", max(args.repeat // 4, 3), stream=True)
    median = statistics.median(times)
    print(f"{'CSV, first 1,000 rows':40} {median:8.1f} {quantile(times, 0.95):8.1f} "
          f"{median / portal_floor:8.1f} {statistics.median(CPU_MS):6.1f}")
    timed(client, api, 20, headers=api_headers)
    times = timed(client, api, max(args.repeat * 20, 200), headers=api_headers)
    median = statistics.median(times)
    print(f"{'balance API':40} {median:8.1f} {quantile(times, 0.95):8.1f} "
          f"{median / api_floor:8.1f} {statistics.median(CPU_MS):6.1f}   "
          f"p99 {quantile(times, 0.99):.1f} ms over {len(times)} requests "
          f"(API floor p99 {quantile(api_floor_times, 0.99):.1f} ms)")

if __name__ == "__main__":
    main()
