"""The Redis database of the tests that need a real one (REDIS_TEST_URL): the queue's
broker and the qclusters the tests start. Without a Redis server those tests skip.
Under pytest-xdist each worker takes its own database, counted up from REDIS_TEST_URL's
(gw0 that one, gw1 the next...), so no worker flushes another's queue."""

import os
from urllib.parse import urlsplit, urlunsplit

import pytest


def redis_test_url(base: str, worker: str | None) -> str:
    """`base` for a run in one process; the database `worker`'s number past it under xdist."""
    if not worker:
        return base
    parts = urlsplit(base)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if database > 15:
        raise RuntimeError(f"REDIS_TEST_URL {base}: worker {worker} needs Redis db {database}, "
                           "past the default 16: start from a lower db or use fewer workers")
    return urlunsplit(parts._replace(path=f"/{database}"))


REDIS_TEST_URL = redis_test_url(os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/8"),
                                os.environ.get("PYTEST_XDIST_WORKER"))


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
