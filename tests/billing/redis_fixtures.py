"""The Redis database of the tests that need a real one (REDIS_TEST_URL): the queue's
broker and the qclusters the tests start. Without a Redis server those tests skip."""

import os

import pytest

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_db():
    """A client on the test database, emptied before the test and after it."""
    redis = pytest.importorskip("redis")
    client = redis.from_url(REDIS_TEST_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    client.flushdb()
    yield client
    client.flushdb()
