"""A real qcluster, started by the test, runs an enqueued auto-topup end to end: once on the
ORM broker (the test database) and once on Redis (db REDIS_TEST_URL), against the Stripe stub.
"""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Task

from billing.models import TopupAttempt, TopupStatus
from tests.billing.purchase_fixtures import assert_ledger_ok, balance
from tests.billing.redis_fixtures import REDIS_TEST_URL
from tests.billing.topup_fixtures import (
    intent_requests,
    save_stripe_card,
    set_balance_below,
    topup_entries,
    turn_on,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(stub, **extra) -> dict:
    from django.conf import settings

    # Workers sign ledger entries: they hold the web's chain keys (docs/operate.md).
    chain_keys = ",".join(f"{key_id}={secret}"
                          for key_id, secret in settings.LEDGER_CHAIN_KEYS.items())
    return {
        "LEDGER_CHAIN_KEYS": chain_keys, "LEDGER_CHAIN_KEY_ID": settings.LEDGER_CHAIN_KEY_ID,
        "PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "False", "SECRET_KEY": "q" * 50, "DATABASE_URL": database_url(),
        "PAYMENTS_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_stub",
        "STRIPE_WEBHOOK_SECRET": "whsec_test", "STRIPE_API_BASE": stub.url,
        "SECURE_SSL_REDIRECT": "False", "EMAIL_URL": "consolemail://", "Q_WORKERS": "1",
        "LOG_LEVEL": "WARNING", **extra,
    }


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def wait_for(predicate, timeout=120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


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
            and Task.objects.filter(func="billing.tasks.run_auto_topup_task").exists())
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
