"""After the measurements on the big database: `verify_ledger` over every account, timed,
and the invariants checked in SQL over all rows (bench/scale_bench.py).

- balance = the sum of the account's entries, entry_count = their number;
- the daily rollup = the sums over the usage events, per org, day and dimensions;
- no event charged twice or lost: each usage entry's events (a unique key per event)
  sum to its amount, as many as its digest covers (a per-charge entry) or one (an
  older per-event entry, with the event's key); every charged event has an entry.
"""

from __future__ import annotations

import subprocess
import time

import psycopg

from bench import harness

CHECKS = {
    "balance = sum of entries, entry_count = their number (accounts that differ)": """
        SELECT count(*) FROM billing_creditaccount a
        LEFT JOIN (SELECT account_id, sum(amount) AS total, count(*) AS n
                   FROM billing_ledgerentry GROUP BY account_id) e ON e.account_id = a.id
        WHERE a.balance <> coalesce(e.total, 0) OR a.entry_count <> coalesce(e.n, 0)""",
    "rollups = sums over the events (rows that differ)": """
        WITH sums AS (
            SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date AS day,
                   type AS usage_type, resource, operation, user_label, count(*) AS n,
                   sum(quantity) AS quantity, sum(input_tokens) AS input_tokens,
                   sum(output_tokens) AS output_tokens, sum(credits) AS credits
            FROM billing_usageevent GROUP BY 1, 2, 3, 4, 5, 6)
        SELECT count(*) FROM sums s FULL JOIN billing_dailyusage d
            USING (organization_id, day, usage_type, resource, operation, user_label)
        WHERE s.n IS DISTINCT FROM d.event_count OR s.quantity IS DISTINCT FROM d.quantity
           OR s.input_tokens IS DISTINCT FROM d.input_tokens
           OR s.output_tokens IS DISTINCT FROM d.output_tokens
           OR s.credits IS DISTINCT FROM d.credits""",
    "usage entries whose events do not sum to them (charged twice or not at all)": """
        SELECT count(*) FROM billing_ledgerentry l
        LEFT JOIN (SELECT entry_id, count(*) AS n, sum(credits) AS credits
                   FROM billing_usageevent WHERE entry_id IS NOT NULL GROUP BY entry_id) e
            ON e.entry_id = l.id
        WHERE l.kind = 'usage' AND l.reverses_id IS NULL
          AND (e.n IS NULL OR e.credits <> -l.amount
               OR e.n <> coalesce((l.metadata ->> 'events')::bigint, 1))""",
    "events whose entry is not theirs (other org, or an older entry of another key)": """
        SELECT count(*) FROM billing_usageevent e
        JOIN billing_ledgerentry l ON l.id = e.entry_id
        JOIN billing_creditaccount a ON a.id = l.account_id
        WHERE a.organization_id <> e.organization_id OR l.kind <> 'usage'
           OR (NOT l.metadata ? 'events_digest'
               AND l.idempotency_key <> 'usage:' || e.idempotency_key)""",
    "charged events without an entry": """
        SELECT count(*) FROM billing_usageevent WHERE credits > 0 AND entry_id IS NULL""",
}


def run_all(env: dict, db_url: str, row) -> bool:
    """The SQL checks, then verify_ledger; each reported through `row`; True when all pass."""
    ok = True
    with psycopg.connect(db_url) as conn:
        conn.execute("SET work_mem = '256MB'")
        for name, sql in CHECKS.items():
            started = time.perf_counter()
            bad = conn.execute(sql).fetchone()[0]
            row(name, f"{bad:,} ({time.perf_counter() - started:.0f} s)", "0", met=bad == 0)
            ok = ok and bad == 0
        entries = conn.execute("SELECT count(*) FROM billing_ledgerentry").fetchone()[0]
    started = time.perf_counter()
    verify = subprocess.run([harness.PYTHON, "manage.py", "verify_ledger"],
                            cwd=harness.ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = (verify.stdout.strip() or verify.stderr.strip()).splitlines()
    row(f"verify_ledger, whole database ({entries:,} entries)",
        f"{output[-1] if output else '(no output)'} in {seconds / 60:.1f} min "
        f"({entries / seconds:,.0f} entries/s)", "passes", met=verify.returncode == 0)
    return ok and verify.returncode == 0
