"""A real qcluster on Redis, SIGKILLed mid-batch: nothing lost, nothing charged twice.

The batch is held at a known point, deterministically: the test locks one of the queued
rows, so the worker charges the whole batch (ledger entries, usage events, rollup all
written, uncommitted) and then waits on that row to store the results. There it is
killed with its process group. Its transaction never commits, so every event is still
queued; the next accepted request wakes a fresh worker, which charges them all once.
"""

import os
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
from django.db import connection, transaction

from billing.models import CreditAccount, LedgerEntry, QueuedUsageEvent, UsageEvent
from billing.usage.queue.intake import accept_usage
from tests.billing.postings import assert_ledger_ok
from tests.billing.qcluster import ROOT, process_env, wait_for
from tests.billing.redis_fixtures import REDIS_TEST_URL
from tests.billing.usage_fixtures import GPU_CREDITS, api_key_for, funded, gpu_event, seed_prices
from tests.conftest import make_org

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
EVENTS = 40


def worker_env() -> dict:
    return process_env(
        REDIS_URL=REDIS_TEST_URL, PAYMENTS_PROVIDER="test", ALLOW_TEST_PAYMENTS="True",
        # The worker must wait on the test's row lock for as long as the test holds it.
        DATABASE_LOCK_TIMEOUT_MS="0")


def start_cluster(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def kill(cluster: subprocess.Popen) -> str:
    os.killpg(cluster.pid, signal.SIGKILL)
    output, _ = cluster.communicate(timeout=10)
    return output


def accept_in_a_process(org, key, env):
    """An accepted request as the web would make it: stored, then the worker woken."""
    script = ("from accounts.models import ApiKey; "
              "from billing.usage.queue.intake import accept_usage; "
              f"key = ApiKey.objects.select_related('organization').get(pk={key.pk}); "
              "accept_usage(organization=key.organization, api_key=key, events=[{"
              "'idempotency_key': 'after-restart', 'type': 'infrastructure', "
              "'meter': 'compute.gpu_seconds', 'quantity': '120.5'}])")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def blocked_worker() -> tuple | None:
    """(pid, has written) of a backend waiting on a lock to store the queue's results."""
    with connection.cursor() as cursor:
        # Inside a transaction the activity view is a snapshot taken once: take a fresh one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE 'UPDATE billing_queuedusageevent%%'")
        return cursor.fetchone()


def backend_alive(pid) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_a_worker_killed_mid_batch_loses_nothing_and_charges_nothing_twice(redis_db,
                                                                           monkeypatch):
    seed_prices()
    org = make_org("killed")
    funded(org, 1000)
    key = api_key_for(org).api_key
    # The test process would charge in-process (Q sync in tests): the cluster must do it.
    monkeypatch.setattr("billing.usage.queue.intake.wake_worker", lambda organization_id: None)
    accept_usage(organization=org, api_key=key,
                 events=[gpu_event(f"e{i}") for i in range(EVENTS)])
    env = worker_env()
    last_row = QueuedUsageEvent.objects.order_by("-id").first()

    cluster = start_cluster(env)
    try:
        with transaction.atomic():
            QueuedUsageEvent.objects.select_for_update().get(pk=last_row.pk)
            script = f"from billing.usage.queue.intake import wake_worker; wake_worker({org.pk})"
            woken = subprocess.run([sys.executable, "manage.py", "shell", "-c", script],
                                   cwd=ROOT, env=env, capture_output=True, text=True,
                                   timeout=60)
            assert woken.returncode == 0, woken.stderr
            assert wait_for(lambda: blocked_worker() is not None), "the worker never blocked"
            pid, has_written = blocked_worker()
            assert has_written  # mid-batch: the charge is written, not committed
            output = kill(cluster)
        # Released: the orphaned backend finds its client gone and rolls back.
        assert wait_for(lambda: not backend_alive(pid)), "the killed worker's backend lives on"
    except BaseException:
        if cluster.poll() is None:
            print(kill(cluster))
        raise
    assert not UsageEvent.objects.exists() and not LedgerEntry.objects.filter(kind="usage")
    assert QueuedUsageEvent.objects.filter(status="queued").count() == EVENTS, output

    cluster = start_cluster(env)
    try:
        accept_in_a_process(org, key, env)
        charged = wait_for(lambda: not QueuedUsageEvent.objects.filter(status="queued").exists())
    finally:
        output = kill(cluster)
    assert charged, f"the restarted worker did not charge the queue:\n{output[-3000:]}"

    rows = list(QueuedUsageEvent.objects.filter(organization=org))
    assert len(rows) == EVENTS + 1 and {r.status for r in rows} == {"charged"}
    # Each event recorded once (its key is unique) and in exactly one charge's entry.
    assert UsageEvent.objects.filter(organization=org, entry__isnull=False).count() == EVENTS + 1
    entries = LedgerEntry.objects.filter(kind="usage")
    assert sum(e.metadata["events"] for e in entries) == EVENTS + 1
    charged_sum = sum((r.credits for r in rows), Decimal(0))
    assert charged_sum == (EVENTS + 1) * GPU_CREDITS
    assert Decimal(1000) - CreditAccount.objects.get(organization=org).balance == charged_sum
    assert_ledger_ok(org)
