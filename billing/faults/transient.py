"""Which failures are the infrastructure's, passing, and safe to retry.

A transient failure is the database unreachable or restarting, a statement
cancelled by `statement_timeout`, a lock not granted within `lock_timeout`, a
serialization failure or deadlock, or Redis unreachable for the task broker.
Every entry point answers it with 503 and `Retry-After` (the API in its JSON
shape, the portal with a plain page, Stripe's webhook so that Stripe delivers
again), never 500. Nothing is half-written: each write is one transaction,
which PostgreSQL rolls back when its connection drops or a statement fails,
and every write is keyed, so the client's retry with the same idempotency key
does the work once. Anything else unexpected is a bug: 500, logged with its
traceback.
"""

from __future__ import annotations

import sqlite3

import psycopg
import redis.exceptions
from django.db import InterfaceError, OperationalError

RETRY_AFTER_SECONDS = 2

# PostgreSQL SQLSTATEs that say "try again", not "your statement is wrong"
# (https://www.postgresql.org/docs/current/errcodes-appendix.html). Class 08 is
# every connection exception.
TRANSIENT_SQLSTATES = {
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "53300": "too_many_connections",
    "55P03": "lock_not_available",  # lock_timeout
    "57014": "query_canceled",  # statement_timeout
    "57P01": "admin_shutdown",  # the server is stopping or restarting
    "57P02": "crash_shutdown",
    "57P03": "cannot_connect_now",  # the server is starting
}
_DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError,
                    psycopg.InterfaceError)
_BROKER_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def is_transient(error: BaseException) -> bool:
    """True when `error`, or an error it was raised from, is a passing infrastructure fault."""
    return transient_fault(error) is not None


def transient_fault(error: BaseException) -> BaseException | None:
    """The passing infrastructure fault in `error`'s chain of causes, or None.

    For the broker it is redis' own error, whatever the client library chained under it
    (an OSError: that is how, not what, failed); for a database error, the driver's error
    (Django's wrapper carries it as its cause), which holds the SQLSTATE."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _BROKER_ERRORS):
            return error
        if isinstance(error, _DATABASE_ERRORS):
            if not _database_error_is_transient(error):
                return None
            return error.__cause__ if error.__cause__ is not None else error
        error = error.__cause__
    return None


def describe(error: BaseException) -> str:
    """One line for the log: the transient fault's type, its SQLSTATE when it has one, and
    its message (for an error that is not transient, the error's own)."""
    fault = transient_fault(error) or error
    sqlstate = getattr(fault, "sqlstate", None)
    text = str(fault).strip().splitlines()[0] if str(fault).strip() else ""
    return f"{type(fault).__name__}{f' {sqlstate}' if sqlstate else ''}: {text}"


def mark_logged(response):
    """Mark a 503 whose fault was already logged as a warning, so Django does not log it
    again as an error (django.utils.log.log_response skips a response marked logged):
    an outage is not a bug, and must not page anyone once per request."""
    response._has_been_logged = True
    return response


def _database_error_is_transient(error: BaseException) -> bool:
    cause = error.__cause__ if error.__cause__ is not None else error
    if isinstance(cause, sqlite3.Error):  # the demo: a writer waited past its timeout
        return "locked" in str(cause) or "busy" in str(cause)
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:
        # No answer from the server at all: refused, dropped, or already closed.
        return isinstance(cause, (psycopg.OperationalError, psycopg.InterfaceError))
    return sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES
