"""The events of each usage charge summed by PostgreSQL for verify_ledger: their count,
their credits and their events-v3 lines (events-v2 for older charges), built exactly as
usage_charges.priced_event_line builds them and joined in the database, then sorted and
hashed here; read on a second connection in the account's snapshot beside the chain.

Why the work is split so, what a line altered to hold a newline does, and which charges
fall back to verify_usage.rows_of_entry: docs/ledger.md, "Verifying at scale".
tests/billing/ledger/test_verify_usage_sql.py holds this path equal to the Python one.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterator
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from billing.ledger.usage_charges import DIGEST_VERSION, EVENTS_VERSION, PRICED_DIGEST_VERSION
from billing.ledger.verify_usage import rows_of_entry
from billing.models import DailyUsage, EntryKind, LedgerEntry, UsageEvent

# The digest version whose lines the query builds (events-v2 before an older entry).
SQL_VERSION = DIGEST_VERSION

_LINE = """
    char_length(idempotency_key) || ':' || idempotency_key
    || char_length(type) || ':' || type || char_length(resource) || ':' || resource
    || concat_ws(E'\\x1f', coalesce(ai_model_id::text, ''), coalesce(meter_id::text, ''),
                 input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
                 reasoning_tokens, quantity, cost_usd, markup, credits_per_usd, credits)
    || CASE WHEN entry_id > %s
            THEN E'\\x1f' || encode(sha256(convert_to(breakdown::text, 'UTF8')), 'hex')
            ELSE '' END
"""
_SUMMED = f"""
SELECT entry_id, count(*), sum(credits), string_agg(line, E'\\n')
FROM (SELECT entry_id, credits, {_LINE} AS line FROM {UsageEvent._meta.db_table}
      WHERE organization_id = %s AND entry_id IS NOT NULL) AS events
GROUP BY entry_id ORDER BY entry_id
"""
_BEFORE_EVERY_ENTRY = -(2**63)
_CHUNK, _AHEAD = 100, 4  # entries per fetch (a charge of 1,000 events: ~200 kB), held ahead
_DONE = object()
# Whether the org's events (as its rollup counts them) are over a quarter of the table's
# (as the planner's statistics estimate it): only a guide to the plan, never to a result.
_LARGE_SHARE = f"""
SELECT coalesce(sum(event_count), 0) * 4 > (SELECT greatest(reltuples, 0) FROM pg_class
                                           WHERE oid = '{UsageEvent._meta.db_table}'::regclass)
FROM {DailyUsage._meta.db_table} WHERE organization_id = %s
"""


class SummedCharge:
    """A charge's events as the database summed them."""

    __slots__ = ("entry_id", "count", "credits", "lines", "lines_version")

    def __init__(self, entry_id: int, count: int, credits: Decimal, lines: str,
                 lines_version: str = SQL_VERSION):
        self.entry_id, self.count, self.credits, self.lines = entry_id, count, credits, lines
        self.lines_version = lines_version

    def digest(self, version: str) -> str:
        if version == self.lines_version:  # as usage_charges.events_digest joins them
            lines = self.lines.split("\n")
            lines.sort()  # by code point, as events_digest's sorted()
            return hashlib.sha256("\n".join([version, *lines]).encode()).hexdigest()
        return rows_of_entry(self.entry_id).digest(version)


def summed_events_by_entry(account, *, beside: bool = False
                           ) -> Iterator[tuple[int, SummedCharge]]:
    """(entry id, SummedCharge) in entry id order for the account's org. The caller is in
    a transaction; with `beside` (it is a REPEATABLE READ one of its own, holding only
    committed rows) the query runs on a second connection in the same snapshot, so the
    database builds the lines while this thread walks the chain (`_prefetched`)."""
    older = (LedgerEntry.objects.filter(account=account, kind=EntryKind.USAGE)
             .filter(Q(**{f"metadata__{EVENTS_VERSION}__isnull": True})
                     | ~Q(**{f"metadata__{EVENTS_VERSION}": DIGEST_VERSION}))
             .order_by("-id").values_list("id", flat=True).first())
    older = _BEFORE_EVERY_ENTRY if older is None else older
    params = [older, account.organization_id]
    chunks = _prefetched(params) if beside else _fetched(params)
    for rows in chunks:
        for entry_id, count, credits, lines in rows:
            yield entry_id, SummedCharge(
                entry_id, count, credits, lines,
                SQL_VERSION if entry_id > older else PRICED_DIGEST_VERSION)


def _fetched(params) -> Iterator[list[tuple]]:
    with connection.chunked_cursor() as cursor:
        cursor.execute(_SUMMED, params)
        while rows := cursor.fetchmany(_CHUNK):
            yield rows


def _prefetched(params) -> Iterator[list[tuple]]:
    """The rows fetched by a thread on its own connection, which imports this
    transaction's snapshot (pg_export_snapshot), so it reads exactly what this one does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        [snapshot] = cursor.fetchone()
    chunks: queue.Queue = queue.Queue(maxsize=_AHEAD)
    stop = threading.Event()
    thread = threading.Thread(target=_fetch_in_snapshot, args=(snapshot, params, chunks, stop),
                              name="verify-prefetch", daemon=True)
    thread.start()
    try:
        while (item := chunks.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a consumer that stops early releases the thread
        thread.join()


def _fetch_in_snapshot(snapshot: str, params, chunks: queue.Queue,
                       stop: threading.Event) -> None:
    def put(item) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
                # An org holding a large share of all events is read in entry id order
                # from that index (its rows clustered by charge) rather than sorted: the
                # sort spills to disk (31 s against 61 s for 8M of 10M events). For any
                # other org that walk of the whole index costs more than its sort.
                cursor.execute(_LARGE_SHARE, [params[1]])
                if cursor.fetchone()[0]:
                    cursor.execute("SET LOCAL enable_sort = off")
            for rows in _fetched(params):
                if not put(rows):
                    return
    except Exception as error:  # handed to the consumer, which raises it
        put(error)
        return
    finally:
        connection.close()  # this thread's own connection
    put(_DONE)
