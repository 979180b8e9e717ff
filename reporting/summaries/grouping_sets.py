"""The month's total, every breakdown and the days in one scan, on PostgreSQL.

GROUP BY GROUPING SETS sums the month's rollup rows once per set (the total, by
type, by type and resource, by operation, by user, by day) in a single pass, so
the page reads the month once instead of six times. GROUPING() tells the sets
apart: one bit per column, set when the column is not grouped. SQLite has no
grouping sets; the selectors fall back to one query per breakdown there, and the
property test checks both give the figures of the raw events.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import connection

from billing.models import DailyUsage

COLUMNS = ("usage_type", "resource", "operation", "user_label", "day")
# GROUPING(usage_type, resource, operation, user_label, day) of each set.
SETS = {
    0b11111: "total",
    0b01111: "type",
    0b00111: "resource",
    0b11011: "operation",
    0b11101: "user",
    0b11110: "day",
}


def available() -> bool:
    return connection.vendor == "postgresql"


def grouped(*, organization, first, following) -> dict[str, list[dict]]:
    """{"total": [row], "type": [...], ...}; each row has its grouped columns and the sums."""
    table = connection.ops.quote_name(DailyUsage._meta.db_table)
    where = "day >= %s AND day < %s"
    params: list = [first, following]
    if organization is not None:
        where = "organization_id = %s AND " + where
        params.insert(0, organization.pk)
    sql = f"""
        SELECT GROUPING(usage_type, resource, operation, user_label, day),
               usage_type, resource, operation, user_label, day,
               SUM(event_count), SUM(quantity), SUM(input_tokens), SUM(output_tokens),
               SUM(cost_usd), SUM(credits)
        FROM {table} WHERE {where}
        GROUP BY GROUPING SETS ((), (usage_type), (usage_type, resource), (operation),
                               (user_label), (day))
    """
    found: dict[str, list[dict]] = {name: [] for name in SETS.values()}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for grouping, *dims, events, quantity, tokens_in, tokens_out, usd, credits in cursor:
            name = SETS[grouping]
            row = {column: value for column, value in zip(COLUMNS, dims, strict=True)
                   if value is not None}
            row.update(events=int(events or 0), quantity=quantity or Decimal(0),
                       input_tokens=int(tokens_in or 0), output_tokens=int(tokens_out or 0),
                       cost_usd=usd or Decimal(0), credits=credits or Decimal(0))
            found[name].append(row)
    return found
