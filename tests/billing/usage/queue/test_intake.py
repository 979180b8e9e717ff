"""The accept side's wake-up (billing.usage.queue.intake): one waiting task per org on Redis, a
new one once the task has started, and an accepted request whatever the broker does."""

import pytest

from billing.models import QueuedUsageEvent
from billing.usage.queue import intake as queue
from tests.billing.redis_fixtures import REDIS_TEST_URL
from tests.billing.usage_fixtures import gpu_event, seed_prices

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_broker(monkeypatch, settings, redis_db):
    """django-q2's real Redis broker on the test db, not in sync mode: tasks are queued."""
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "REDIS", REDIS_TEST_URL)
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.REDIS_URL = REDIS_TEST_URL
    broker = Redis()
    monkeypatch.setitem(queue._brokers, "broker", broker)
    return broker


def test_one_waiting_task_per_org_and_a_new_one_once_it_has_started(redis_broker):
    queue.wake_worker(1)
    queue.wake_worker(1)  # the first task has not started: it will see this event
    queue.wake_worker(2)
    assert redis_broker.queue_size() == 2
    queue.clear_wake_flag(1)  # what the task does before it reads the queue
    queue.wake_worker(1)
    assert redis_broker.queue_size() == 3


def test_the_flag_expires_so_a_lost_task_delays_the_next_wake_only_briefly(redis_broker):
    queue.wake_worker(7)
    ttl = redis_broker.connection.ttl("billing:usage-queue:wake:7")
    assert 0 < ttl <= queue.WAKE_FLAG_SECONDS


def test_a_broker_failure_does_not_fail_the_accepted_request(org, monkeypatch, caplog,
                                                             django_capture_on_commit_callbacks):
    seed_prices()

    def broken():
        raise ConnectionError("the broker is down")

    monkeypatch.setattr(queue, "_broker", broken)
    with django_capture_on_commit_callbacks(execute=True):
        keys = queue.accept_usage(organization=org, events=[gpu_event("a")])
    assert keys == ["a"] and QueuedUsageEvent.objects.get().status == "queued"
    assert "could not wake the usage worker" in caplog.text


def test_an_org_drained_within_a_pace_waits_out_the_rest_of_it(redis_broker, monkeypatch):
    slept = []
    monkeypatch.setattr(queue.time, "sleep", slept.append)
    assert queue.pace(3) == 0 and slept == []  # no drain began lately: at once
    waited = queue.pace(3)  # the next task, straight after
    assert slept == [waited] and 0 < waited <= queue.PACE_SECONDS
    assert queue.pace(4) == 0  # paced per org
    key_ttl_ms = redis_broker.connection.pttl("billing:usage-queue:pace:3")
    assert 0 < key_ttl_ms <= queue.PACE_SECONDS * 1000


def test_requests_during_the_wait_enqueue_nothing_and_are_charged_by_the_waiting_task(
        redis_broker, monkeypatch):
    from billing import tasks

    drained = []

    def sleep(seconds):  # a request arrives while the task waits
        queue.wake_worker(5)

    monkeypatch.setattr(queue.time, "sleep", sleep)
    monkeypatch.setattr(tasks.queue_charging, "drain", lambda **kw: drained.append(kw) or
                        tasks.queue_charging.Drained())
    monkeypatch.setattr(tasks.queue_charging, "charge_stale", lambda: 0)
    queue.wake_worker(5)  # the first request: one task enqueued, its flag set
    queue.pace(5)  # a drain of org 5 began just now
    tasks.charge_queued_usage_task(5)
    assert redis_broker.queue_size() == 1  # only the first request's task
    assert drained == [{"organization_id": 5, "until_empty": False}]


def test_the_orm_broker_never_waits(settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(queue, "_broker", lambda: None)
    monkeypatch.setattr(queue.time, "sleep", lambda s: pytest.fail("slept"))
    assert queue.pace(1) == 0 and queue.pace(1) == 0


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_rows_are_stored_by_one_insert_as_bulk_create_stores_them(
        monkeypatch):
    from decimal import Decimal

    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from accounts.services import create_api_key
    from tests.conftest import make_org

    monkeypatch.setattr(queue, "wake_worker", lambda organization_id: None)
    org = make_org("acme")
    api_key = create_api_key(organization=org, name="meter", created_by=None).api_key
    events = [gpu_event("one", quantity=Decimal("1.5"), operation="render"),
              gpu_event("two", quantity=3, user="Ann@Example.com")]
    with CaptureQueriesContext(connection) as alone:
        queue.accept_usage(organization=org, events=events, api_key=api_key)
    with transaction.atomic():  # the other path: bulk_create inside the caller's transaction
        queue.accept_usage(organization=org, events=[{**e, "idempotency_key": e[
            "idempotency_key"] + "-in"} for e in events], api_key=api_key)
    assert [q["sql"].split()[0] for q in alone.captured_queries] == ["INSERT"]
    fields = ("idempotency_key", "payload", "api_key_id", "status", "processed_at")
    rows = list(QueuedUsageEvent.objects.order_by("id").values_list(*fields))
    assert rows[0] == ("one", {**events[0], "quantity": "1.5"}, api_key.pk, "queued", None)
    assert rows[1] == ("two", events[1], api_key.pk, "queued", None)

    def without_key(row):
        payload = {k: v for k, v in row[1].items() if k != "idempotency_key"}
        return (payload, *row[2:])

    assert [without_key(r) for r in rows[2:]] == [without_key(r) for r in rows[:2]]
    received = QueuedUsageEvent.objects.values_list("received_at", flat=True)
    assert all(moment.tzinfo is not None for moment in received)
