#!/usr/bin/env python
"""Stream one org's transactions CSV for one month through Django's test client, in a
process of its own, so `/usr/bin/time -v` reports the export's peak RSS (bench/scale_bench.py).

    .venv/bin/python bench/csv_memory.py --database bench_scale --org big --year 2026 --month 10
"""

from __future__ import annotations

import argparse
import calendar
import resource
import sys
import time
from pathlib import Path

# Run as a file (python bench/x.py), bench/ itself is on the path, not the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load_scale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=load_scale.DEFAULT_DATABASE)
    parser.add_argument("--admin-url", default=load_scale.ADMIN_URL)
    parser.add_argument("--org", default=load_scale.BIG_SLUG)
    parser.add_argument("--email", default=load_scale.ADMIN_EMAIL)
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--month", type=int, required=True)
    args = parser.parse_args()
    load_scale.setup_django(load_scale.database_url(args.admin_url, args.database))
    from django.test import Client

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(email=args.email))
    last_day = calendar.monthrange(args.year, args.month)[1]
    url = (f"/o/{args.org}/transactions.csv?start={args.year}-{args.month:02d}-01"
           f"&end={args.year}-{args.month:02d}-{last_day:02d}")
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get(url)
    if response.status_code != 200:
        print(f"GET {url}: HTTP {response.status_code}", file=sys.stderr)
        return 1
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    print(f"rows={max(lines - 1, 0)} bytes={size} seconds={seconds:.1f} "
          f"rss_before_kb={before_kb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
