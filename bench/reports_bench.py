#!/usr/bin/env python
"""Reporting pages at scale (targets: docs/ and bench/README.md). Not part of `make test`.

Into a database of its own (dropped, re-created and migrated), plants one org with
`--entries` ledger rows (10M by default; one INSERT ... SELECT from generate_series:
a page read needs rows, not a valid hash chain), their usage events for one
in five, and a year of daily rollup rows (365 days x 5 resources x 5 operations x
20 users, what ten million events sum to), then times in-process, with Django's
test client (server time: view, queries and template), each page `--repeat` times:

- the transactions page: page 1, a deep page (a cursor near the oldest entry),
  filtered by kind, sorted by amount, and the CSV's first 1,000 rows;
- the monthly summary page and the dashboard.

    .venv/bin/python bench/reports_bench.py                    # 10M entries (~10 min)
    .venv/bin/python bench/reports_bench.py --entries 200000   # a quick run
"""

from __future__ import annotations

import argparse
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
    actor_label, reason, idempotency_key, fingerprint, metadata, created_at, hash, key_id)
SELECT %(account)s, n,
       CASE WHEN n %% 5 = 0 THEN 'usage' WHEN n %% 997 = 0 THEN 'purchase'
            ELSE 'adjustment' END,
       CASE WHEN n %% 5 = 0 THEN -((n %% 1000) + 1) / 1000.0 ELSE ((n %% 700) + 1) / 100.0 END,
       n * 0.01, 'system', 'system:bench', 'bench row ' || n, 'bench:' || n, '', '{}',
       now() - make_interval(secs => (%(total)s - n) * 3), '', ''
FROM generate_series(%(start)s, %(stop)s) AS n
"""

PLANT_ROLLUP = """
INSERT INTO billing_dailyusage (organization_id, day, usage_type, resource, operation,
    user_label, event_count, quantity, input_tokens, output_tokens, cost_usd, credits)
SELECT %(org)s, current_date - d, 'ai_tokens', 'model-' || r, 'op-' || o, 'u' || u || '@x.test',
       55, 55000, 50000, 5000, 0.55, 66
FROM generate_series(0, 364) d, generate_series(1, 5) r, generate_series(1, 5) o,
     generate_series(1, 20) u
"""


def timed(client, url, repeat, *, stream=False):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
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
    times.sort()
    p95 = times[max(int(len(times) * 0.95) - 1, 0)]
    return statistics.median(times), p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="credits_reports_bench")
    parser.add_argument("--keep", action="store_true", help="reuse a planted database")
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

    from accounts.models import Membership, Organization, Role, User
    from billing.ledger.book import ensure_account
    from billing.models import LedgerEntry

    call_command("migrate", verbosity=0)
    org, created = Organization.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "plan": "enterprise"})
    user = User.objects.filter(email="bench@x.test").first() or User.objects.create_user(
        "bench@x.test", "pw-bench-123")
    Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.ADMIN})
    account = ensure_account(organization=org)
    if created or not args.keep:
        step = 250_000
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            for start in range(1, args.entries + 1, step):
                stop = min(start + step - 1, args.entries)
                cursor.execute(PLANT_ENTRIES, {"account": account.pk, "start": start,
                                               "stop": stop, "total": args.entries})
                print(f"  planted {stop:,} entries", flush=True)
            cursor.execute("UPDATE billing_creditaccount SET entry_count = %s WHERE id = %s",
                           [args.entries, account.pk])
            cursor.execute(PLANT_ROLLUP, {"org": org.pk})
            cursor.execute("ANALYZE billing_ledgerentry")
            cursor.execute("ANALYZE billing_dailyusage")
            cursor.execute("CHECKPOINT")
        print(f"planted in {time.perf_counter() - t0:.0f} s", flush=True)

    client = Client()
    client.force_login(user)
    oldest = LedgerEntry.objects.filter(account=account).order_by("id").values_list(
        "id", flat=True)[60]
    today = time.gmtime()
    pages = {
        "transactions, page 1": "/o/bench/transactions/",
        "transactions, deep page (oldest)": f"/o/bench/transactions/?after=-id~{oldest}",
        "transactions, kind=usage": "/o/bench/transactions/?kind=usage",
        "transactions, by amount": "/o/bench/transactions/?sort=-amount",
        "monthly summary": f"/o/bench/reports/monthly/?year={today.tm_year}"
                           f"&month={today.tm_mon}",
        "dashboard": "/o/bench/",
    }
    print(f"\n{args.entries:,} ledger entries; in-process server time, "
          f"{args.repeat} requests each (ms)")
    print(f"{'page':40} {'median':>8} {'p95':>8}")
    for name, url in pages.items():
        timed(client, url, 2)  # warm
        median, p95 = timed(client, url, args.repeat)
        print(f"{name:40} {median:8.1f} {p95:8.1f}", flush=True)
    median, p95 = timed(client, "/o/bench/transactions.csv", max(args.repeat // 4, 3),
                        stream=True)
    print(f"{'CSV, first 1,000 rows':40} {median:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
