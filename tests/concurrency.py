"""Run callables in threads released together, each on its own database connection."""

import threading

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
