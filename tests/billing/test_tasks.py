"""A real qcluster, started by the test, runs an enqueued auto-topup end to end: once on the
ORM broker (the test database) and once on Redis (db REDIS_TEST_URL), against the Stripe stub.
"""

import os
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
from django_q.models import Task

from billing.models import TopupAttempt, TopupStatus
from tests.billing.purchase_fixtures import assert_ledger_ok, balance
from tests.billing.qcluster import ROOT, process_env, wait_for
from tests.billing.redis_fixtures import REDIS_TEST_URL
from tests.billing.topup_fixtures import (
    intent_requests,
    save_stripe_card,
    set_balance_below,
    topup_entries,
    turn_on,
)

pytestmark = [pytest.mark.system, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def worker_env(stub, **extra) -> dict:
    return process_env(
        PAYMENTS_PROVIDER="stripe", STRIPE_SECRET_KEY="sk_test_stub",
        STRIPE_WEBHOOK_SECRET="whsec_test", STRIPE_API_BASE=stub.url,
        EMAIL_URL="consolemail://", **extra)


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def run_cluster_until_topped_up(org, stub, env):
    cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        enqueued = manage("shell", "-c",
                          "from django_q.tasks import async_task; "
                          f"print(async_task('billing.tasks.run_auto_topup_task', {org.pk}))",
                          env=env)
        assert enqueued.returncode == 0, enqueued.stderr
        done = wait_for(lambda: TopupAttempt.objects.filter(
            organization=org, status=TopupStatus.SUCCEEDED).exists()
            and Task.objects.filter(func="billing.tasks.run_auto_topup_task").exists(),
            timeout=120.0, every=0.5)
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            output, _ = cluster.communicate(timeout=5)  # its graceful stop takes ~30 s
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            output, _ = cluster.communicate()
    assert done, f"the cluster did not top up in time:\n{output[-3000:]}"
    task = Task.objects.get(func="billing.tasks.run_auto_topup_task")
    assert task.success and task.result == "credited"
    assert len(intent_requests(stub)) == 1
    assert topup_entries(org).count() == 1
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


@pytest.fixture
def low_org(org, admin_user, package, stripe_stub):
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package)
    return org


def test_a_qcluster_on_the_orm_broker_runs_an_enqueued_topup(low_org, stripe_stub):
    run_cluster_until_topped_up(low_org, stripe_stub, worker_env(stripe_stub))


def test_a_qcluster_on_redis_runs_an_enqueued_topup(low_org, stripe_stub, redis_db):
    run_cluster_until_topped_up(low_org, stripe_stub,
                                worker_env(stripe_stub, REDIS_URL=REDIS_TEST_URL))
