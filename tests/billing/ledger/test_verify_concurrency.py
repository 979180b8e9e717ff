"""verify_ledger while 8 threads post usage: each account is read in one snapshot, so
traffic never raises a false alarm."""

import threading
import time

import pytest

from billing.ledger.verify import verify_ledger
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import grant
from tests.billing.usage_fixtures import gpu_event, seed_prices
from tests.concurrency import run_together
from tests.conftest import make_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RUNS = 20
POSTERS = 8


def test_verify_ledger_under_traffic_raises_no_false_alarm():
    seed_prices()
    orgs = [make_org("busy"), make_org("also-busy")]
    for org in orgs:
        grant(org, 1_000_000)
    stop = threading.Event()
    posted = [0] * POSTERS

    def post(i):
        org = orgs[i % len(orgs)]
        while not stop.is_set():
            record_usage(organization=org, events=[gpu_event(f"t{i}-{posted[i]}"),
                                                   gpu_event(f"t{i}-{posted[i]}b")])
            posted[i] += 1

    def verify():
        try:
            reports = []
            while len(reports) < RUNS:
                if sum(posted) >= len(reports) * POSTERS // 2:  # let traffic build between runs
                    reports.append(verify_ledger())
                else:
                    time.sleep(0.01)
            return reports
        finally:
            stop.set()

    results = run_together([verify, *[lambda i=i: post(i) for i in range(POSTERS)]])
    assert not [r for r in results if isinstance(r, Exception)], results
    reports = results[0]
    assert len(reports) == RUNS
    alarms = [str(p) for report in reports for p in report.problems]
    assert alarms == []
    assert sum(posted) > RUNS  # traffic really ran during the runs
    assert verify_ledger().ok
    print(f"\n{RUNS} verify_ledger runs during {sum(posted)} usage batches from {POSTERS} "
          f"threads: {len(alarms)} false alarms")
