"""What counts as a passing infrastructure fault (503) and what is a bug (500)."""

import sqlite3

import psycopg
import pytest
import redis
from django.db import IntegrityError, OperationalError, ProgrammingError
from redis.backoff import NoBackoff
from redis.retry import Retry

from billing.faults.transient import TRANSIENT_SQLSTATES, describe, is_transient
from tests.billing.faults.outage import dead_port


def wrapped(django_class, cause):
    """The error as Django raises it: its own class, the driver's error as the cause."""
    error = django_class(str(cause))
    error.__cause__ = cause
    return error


def test_postgresql_refusing_connections_is_transient():
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"host=127.0.0.1 port={dead_port()} connect_timeout=2")
    assert is_transient(refused.value)
    assert is_transient(wrapped(OperationalError, refused.value))


@pytest.mark.parametrize("sqlstate", sorted(TRANSIENT_SQLSTATES) + ["08006", "08003"])
def test_timeouts_shutdowns_and_lost_connections_are_transient(sqlstate):
    assert is_transient(wrapped(OperationalError, psycopg.errors.lookup(sqlstate)("x")))


@pytest.mark.parametrize("django_class, sqlstate", [
    (IntegrityError, "23505"),  # unique_violation: a bug or a race to handle, not an outage
    (ProgrammingError, "42P01"),  # undefined_table
    (OperationalError, "53100"),  # disk_full: needs an operator, not a retry
])
def test_other_database_errors_are_not(django_class, sqlstate):
    assert not is_transient(wrapped(django_class, psycopg.errors.lookup(sqlstate)("x")))


def test_sqlite_busy_is_transient_but_a_missing_table_is_not():
    assert is_transient(wrapped(OperationalError, sqlite3.OperationalError("database is locked")))
    assert not is_transient(wrapped(OperationalError, sqlite3.OperationalError("no such table")))


def test_redis_unreachable_is_transient():
    with pytest.raises(redis.exceptions.ConnectionError) as refused:
        redis.Redis(port=dead_port(), socket_connect_timeout=2,
                    retry=Retry(NoBackoff(), 0)).ping()
    assert is_transient(refused.value)
    assert is_transient(redis.exceptions.TimeoutError("read timed out"))


def test_an_error_raised_from_a_transient_one_is_transient_but_not_one_raised_while_handling():
    fault = wrapped(OperationalError, psycopg.errors.lookup("57P01")("terminating connection"))
    try:
        raise RuntimeError("wrapped") from fault
    except RuntimeError as error:
        assert is_transient(error)
    try:
        try:
            raise fault
        except OperationalError:
            raise KeyError("a bug in the error handling")  # noqa: B904
    except KeyError as error:
        assert not is_transient(error)
    assert not is_transient(ValueError("a bug"))


def test_describe_names_the_driver_error_and_its_sqlstate():
    error = wrapped(OperationalError, psycopg.errors.lookup("55P03")("could not obtain lock"))
    assert describe(error) == "LockNotAvailable 55P03: could not obtain lock"


def test_describe_names_the_broker_error_not_what_the_client_library_chained_under_it():
    fault = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
    fault.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert describe(fault) == "ConnectionError: Error 111 connecting to 127.0.0.1:6379."
    try:
        raise RuntimeError("enqueueing failed") from fault
    except RuntimeError as error:
        assert describe(error) == "ConnectionError: Error 111 connecting to 127.0.0.1:6379."


def test_describe_names_a_refused_redis_connection_as_redis_connection_error():
    with pytest.raises(redis.exceptions.ConnectionError) as refused:
        redis.Redis(port=dead_port(), socket_connect_timeout=2,
                    retry=Retry(NoBackoff(), 0)).ping()
    assert describe(refused.value).startswith("ConnectionError: ")
