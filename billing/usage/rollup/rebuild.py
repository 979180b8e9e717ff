"""Recomputing the daily rollup from the raw usage events, or checking it against them.

The rollup is written with each charge, in its transaction; this is the repair
and the audit. For each organisation (and UTC month, when given) it sums the
recorded events by the rollup's dimensions and compares with the stored rows. A
check reports the differences and writes nothing. A rebuild replaces the rows
of that range, under the org's account lock (the lock every charge takes), so no
charge can add to the rollup between the sums and the write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from accounts.models import Organization
from billing.models import CreditAccount, DailyUsage, UsageEvent
from billing.usage.rollup.totals import MEASURES, RollupBatch, Totals

DIMENSION_FIELDS = ("day", "usage_type", "resource", "operation", "user_label")


@dataclass(frozen=True)
class Difference:
    organization: str
    key: tuple  # (day, usage_type, resource, operation, user_label)
    stored: Totals | None
    expected: Totals | None

    def __str__(self) -> str:
        day, usage_type, resource, operation, user = self.key
        where = f"{self.organization} {day} {usage_type} {resource} op={operation!r} user={user!r}"
        if self.stored is None:
            return f"{where}: missing (expected {self.expected.event_count} events)"
        if self.expected is None:
            return f"{where}: {self.stored.event_count} events stored, none recorded"
        parts = [f"{m} {getattr(self.stored, m)} != {getattr(self.expected, m)}"
                 for m in MEASURES if getattr(self.stored, m) != getattr(self.expected, m)]
        return f"{where}: " + ", ".join(parts)


@dataclass
class RebuildReport:
    organizations: int = 0
    rows_written: int = 0
    differences: list[Difference] = field(default_factory=list)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def expected_rows(organization, *, first: date | None, following: date | None) -> dict:
    events = UsageEvent.objects.filter(organization=organization)
    if first is not None:
        events = events.filter(occurred_at__gte=_midnight(first),
                               occurred_at__lt=_midnight(following))
    grouped = (
        events.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day", "type", "resource", "operation", "user_label")
        .annotate(n=Count("id"), q=Sum("quantity"), i=Sum("input_tokens"),
                  o=Sum("output_tokens"), usd=Sum("cost_usd"), c=Sum("credits"))
        .order_by()
    )
    return {
        (r["day"], r["type"], r["resource"], r["operation"], r["user_label"]):
            Totals(r["n"], r["q"], r["i"], r["o"], r["usd"], r["c"])
        for r in grouped
    }


def stored_rows(organization, *, first: date | None, following: date | None) -> dict:
    rows = DailyUsage.objects.filter(organization=organization)
    if first is not None:
        rows = rows.filter(day__gte=first, day__lt=following)
    return {
        tuple(getattr(r, f) for f in DIMENSION_FIELDS):
            Totals(r.event_count, r.quantity, r.input_tokens, r.output_tokens, r.cost_usd,
                   r.credits)
        for r in rows
    }


def _same(a: Totals, b: Totals) -> bool:
    return all(Decimal(getattr(a, m)) == Decimal(getattr(b, m)) for m in MEASURES)


def differences(organization, *, first=None, following=None) -> list[Difference]:
    """The rows where the stored rollup and the events' sums differ, in key order."""
    if connection.vendor == "postgresql":
        return differences_in_sql(organization, first=first, following=following)
    return differences_in_python(organization, first=first, following=following)


# Both sides summed and compared in the database, so only the rows that differ travel: at
# ten million events the rollup holds millions of rows (docs/ledger.md, "Verifying").
_DIFFERENCES_SQL = """
WITH expected AS (
    SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, type AS usage_type, resource,
           operation, user_label, count(*) AS event_count, sum(quantity) AS quantity,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(cost_usd) AS cost_usd, sum(credits) AS credits
    FROM {events} WHERE organization_id = %(org)s {events_range}
    GROUP BY 1, 2, 3, 4, 5),
stored AS (
    SELECT day, usage_type, resource, operation, user_label, event_count, quantity,
           input_tokens, output_tokens, cost_usd, credits
    FROM {rollup} WHERE organization_id = %(org)s {rollup_range})
SELECT day, usage_type, resource, operation, user_label,
       {stored_measures}, s.event_count IS NOT NULL,
       {expected_measures}, e.event_count IS NOT NULL
FROM expected e FULL JOIN stored s USING (day, usage_type, resource, operation, user_label)
WHERE {any_differs}
ORDER BY day, usage_type, resource, operation, user_label
"""


def differences_in_sql(organization, *, first=None, following=None) -> list[Difference]:
    ranged = first is not None
    sql = _DIFFERENCES_SQL.format(
        events=UsageEvent._meta.db_table, rollup=DailyUsage._meta.db_table,
        events_range=("AND occurred_at >= %(start)s AND occurred_at < %(end)s"
                      if ranged else ""),
        rollup_range="AND day >= %(first)s AND day < %(following)s" if ranged else "",
        stored_measures=", ".join(f"s.{m}" for m in MEASURES),
        expected_measures=", ".join(f"e.{m}" for m in MEASURES),
        any_differs=" OR ".join(f"e.{m} IS DISTINCT FROM s.{m}" for m in MEASURES))
    params = {"org": organization.pk}
    if ranged:
        params.update(start=_midnight(first), end=_midnight(following), first=first,
                      following=following)
    found = []
    width = len(MEASURES)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            key, stored, expected = row[:5], row[5:6 + width], row[6 + width:]
            found.append(Difference(organization.slug, tuple(key),
                                    Totals(*stored[:width]) if stored[width] else None,
                                    Totals(*expected[:width]) if expected[width] else None))
    return found


def differences_in_python(organization, *, first=None, following=None) -> list[Difference]:
    expected = expected_rows(organization, first=first, following=following)
    stored = stored_rows(organization, first=first, following=following)
    found = []
    for key in sorted(set(expected) | set(stored)):
        e, s = expected.get(key), stored.get(key)
        if e is None or s is None or not _same(e, s):
            found.append(Difference(organization.slug, key, s, e))
    return found


def _rewrite(organization, *, first, following, expected: dict) -> int:
    rows = DailyUsage.objects.filter(organization=organization)
    if first is not None:
        rows = rows.filter(day__gte=first, day__lt=following)
    rows.delete()
    batch = RollupBatch(organization.pk)
    batch.rows = expected
    return batch.save()


def rebuild_rollups(*, organization=None, first: date | None = None,
                    following: date | None = None, check: bool = False) -> RebuildReport:
    """Check (check=True) or rebuild the rollup of one org or all, for [first, following)
    or for all time. The report lists the differences found before any write."""
    orgs = [organization] if organization is not None else Organization.objects.order_by("pk")
    report = RebuildReport()
    for org in orgs:
        report.organizations += 1
        if check:
            report.differences += differences(org, first=first, following=following)
            continue
        with transaction.atomic():
            # The lock every charge takes, so no charge adds to the rollup meanwhile.
            list(CreditAccount.objects.select_for_update().filter(organization=org))
            found = differences(org, first=first, following=following)
            report.differences += found
            if found:
                expected = expected_rows(org, first=first, following=following)
                report.rows_written += _rewrite(org, first=first, following=following,
                                                expected=expected)
    return report


def differences_in_snapshot(organization=None) -> list[Difference]:
    """The rollup checked against the events as of one moment (a read-only REPEATABLE READ
    transaction on PostgreSQL), so a charge committing meanwhile, which writes its events
    and its rollup rows together, never looks like a difference (verify_ledger)."""
    with transaction.atomic():
        if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return rebuild_rollups(organization=organization, check=True).differences
