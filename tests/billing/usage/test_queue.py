"""The accept side's wake-up (billing.usage.queue): one waiting task per org on Redis, a
new one once the task has started, and an accepted request whatever the broker does."""

import os

import pytest

from billing.models import QueuedUsageEvent
from billing.usage import queue
from tests.billing.usage_fixtures import gpu_event, seed_prices

pytestmark = pytest.mark.django_db
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_broker(monkeypatch, settings):
    """django-q2's real Redis broker on the test db, not in sync mode: tasks are queued."""
    redis = pytest.importorskip("redis")
    from django_q.brokers.redis_broker import Redis
    from django_q.conf import Conf

    client = redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    client.flushdb()
    monkeypatch.setattr(Conf, "REDIS", REDIS_TEST_URL)
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.REDIS_URL = REDIS_TEST_URL
    broker = Redis()
    monkeypatch.setitem(queue._brokers, "broker", broker)
    yield broker
    client.flushdb()


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
