"""Rows written once for a class or module of tests that only read them (the whole
genai-prices catalogue takes seconds to sync): kept in an open transaction that each test's
own transaction nests in as a savepoint, and rolled back when the last of those tests ends."""

from contextlib import contextmanager

from django.db import transaction


@contextmanager
def rows_kept_for_these_tests(django_db_blocker, write):
    """Run `write()` in a transaction left open for the tests of the fixture's scope; pytest
    ends a class or module fixture before the next class's or module's tests start, so no
    other test sees these rows."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        with django_db_blocker.unblock():
            write()
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
