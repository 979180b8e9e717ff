"""A read-only check run on a second database connection while verify_ledger walks the
chains on the first (docs/ledger.md, "Verifying").

At ten million events the rollup's comparison is work for PostgreSQL alone, and the
chains' is mostly Python's: on two cores they overlap. Inside an open transaction (a
test's, or a caller's) a second connection would not see its rows, so the check then
runs on the caller's connection when its result is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connection


class Alongside:
    """`with Alongside(check) as beside: ...; beside.result()`."""

    def __init__(self, check: Callable):
        self.check = check
        self.pool: ThreadPoolExecutor | None = None
        self.future: Future | None = None

    def __enter__(self) -> Alongside:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="verify-alongside")
            self.future = self.pool.submit(self._in_own_connection)
        return self

    def _in_own_connection(self):
        try:
            return self.check()
        finally:
            connection.close()  # this thread's own connection (connections are per thread)

    def result(self):
        if self.future is None:
            return self.check()
        return self.future.result()

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
