"""The API's answers to faults: 503 `unavailable` with Retry-After when the infrastructure is
briefly away (billing/faults/transient.py), 500 `internal_error` logged with its traceback
for a bug; nothing is half-written and the same request sent again charges once."""

import json
import logging
from unittest import mock

import pytest
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.tasks import async_task

from billing.api import views
from billing.faults.transient import RETRY_AFTER_SECONDS
from billing.models import CreditAccount, DailyUsage, LedgerEntry, UsageEvent
from billing.usage.ingestion.record import record_usage
from tests.billing.faults.outage import account_locked, database_timeouts, dead_port
from tests.billing.usage_fixtures import GPU_CREDITS, gpu_event
from tests.wsgi_calls import call

URL = "/api/v1/usage-events"


@pytest.fixture
def funding():
    return 100  # the balances asserted below start from it


def post(key, events):
    return call("POST", URL, body=json.dumps({"events": events}).encode(),
                headers={"Authorization": f"Bearer {key.raw_key}"})


def assert_unavailable(answer):
    assert answer.status == 503, answer.body
    assert answer.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "unavailable" and "Retry-After" in error["message"]


def nothing_recorded():
    return (not UsageEvent.objects.exists() and not LedgerEntry.objects.filter(kind="usage")
            and not DailyUsage.objects.exists())


@pytest.mark.postgres
def test_database_unreachable_answers_503_and_the_same_request_later_charges_once(
        key, org, db_proxy):
    db_proxy.cut(refuse_for=60)  # PostgreSQL away: every connection dropped and refused
    assert_unavailable(post(key, [gpu_event("job-1")]))
    assert_unavailable(post(key, [gpu_event("job-1")]))
    db_proxy.restore()
    answer = post(key, [gpu_event("job-1")])
    assert answer.status == 200, answer.body
    assert answer.json()["results"][0]["status"] == "charged"
    assert post(key, [gpu_event("job-1")]).json()["results"][0]["status"] == "duplicate"
    assert LedgerEntry.objects.filter(kind="usage").count() == 1
    assert CreditAccount.objects.get(organization=org).balance == 100 - GPU_CREDITS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lock_not_granted_within_lock_timeout_answers_503_and_writes_nothing(key, org):
    with database_timeouts(statement_ms=0, lock_ms=200), account_locked(org):
        assert_unavailable(post(key, [gpu_event("job-1")]))
    assert nothing_recorded()
    assert CreditAccount.objects.get(organization=org).balance == 100


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_statement_cancelled_by_statement_timeout_answers_503_and_writes_nothing(key, org):
    with database_timeouts(statement_ms=300, lock_ms=0), account_locked(org):
        assert_unavailable(post(key, [gpu_event("job-1")]))
    assert nothing_recorded()


def enqueue_then_charge(**kwargs):
    """record_usage preceded by work that enqueues a task on a Redis broker nobody serves."""
    with mock.patch.object(Conf, "REDIS", f"redis://127.0.0.1:{dead_port()}/14"):
        async_task("billing.tasks.expire_credits_task", broker=Redis(), sync=False)
    return record_usage(**kwargs)


@pytest.mark.django_db(transaction=True)
def test_redis_unreachable_for_the_broker_answers_503(key, org):
    with mock.patch.object(views, "record_usage", side_effect=enqueue_then_charge):
        assert_unavailable(post(key, [gpu_event("job-1")]))
    assert nothing_recorded()


@pytest.mark.django_db(transaction=True)
def test_a_transient_fault_is_logged_once_as_a_warning_without_traceback(key, caplog):
    with mock.patch.object(views, "record_usage", side_effect=enqueue_then_charge):
        with caplog.at_level(logging.INFO):
            assert_unavailable(post(key, [gpu_event("job-1")]))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and
                r.name != "django_q"]  # django-q2 logs its own broker error
    warnings = [r for r in caplog.records if r.name == "billing.api.views"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert not warnings[0].exc_info and "ConnectionError" in warnings[0].getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_bug_stays_500_internal_error_and_is_logged_with_its_traceback(key, caplog):
    with mock.patch.object(views, "record_usage", side_effect=ZeroDivisionError("planted")):
        with caplog.at_level(logging.ERROR, logger="billing.api.views"):
            answer = post(key, [gpu_event("job-1")])
    assert answer.status == 500 and "Retry-After" not in answer.headers
    assert answer.json()["error"]["code"] == "internal_error"
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError
    assert nothing_recorded()
