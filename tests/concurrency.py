"""Run callables in threads released together, each on its own database connection."""

import threading
import time

from django.db import connection


def run_together(tasks, *, timeout: float = 120) -> list:
    """Each task's result, or the exception it raised, in task order."""
    barrier = threading.Barrier(len(tasks))
    results = [None] * len(tasks)

    def target(i):
        try:
            barrier.wait()
            results[i] = tasks[i]()
        except Exception as error:  # noqa: BLE001 - the caller inspects every outcome
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def run_many(count: int, work, **kwargs) -> list:
    """`count` threads running work(i)."""
    return run_together([lambda i=i: work(i) for i in range(count)], **kwargs)


def wait_until_another_session_waits_for_a_lock(*, timeout: float = 10) -> None:
    """Poll, on this thread's connection, until another session of this test database waits
    for a lock (the request the caller holds back is then queued behind it). PostgreSQL."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else one snapshot per transaction
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE NOT l.granted AND a.datname = current_database()"
                " AND l.pid <> pg_backend_pid())"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError(f"no other session waited for a lock within {timeout} s")
