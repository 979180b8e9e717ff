"""Usage recorded through the real ingestion service at chosen moments, for the report tests."""

from datetime import UTC, datetime

from billing.usage.ingestion.record import record_usage
from reporting.summaries.months import Month
from tests.billing.usage_fixtures import ai_event, funded, gpu_event, seed_prices

MARCH = Month(2026, 3)
FEBRUARY = Month(2026, 2)


def at(day: int, hour: int = 12, *, month: Month = MARCH) -> datetime:
    return datetime(month.year, month.month, day, hour, tzinfo=UTC)


def record(org, events, *, when: datetime):
    """Events that occurred at `when` (they leave occurred_at out, so it is `when`)."""
    return record_usage(organization=org, events=events, now=when)


def march_usage(org, *, prices=True):
    """Three events in March 2026 and one in February, two users, two resources."""
    if prices:
        seed_prices()
    funded(org)
    record(org, [ai_event("m1", operation="chat", user="ana@acme.test"),
                 ai_event("m2", operation="summarise")], when=at(3))
    record(org, [gpu_event("m3", operation="fine-tune", user="bo@acme.test")], when=at(31, 23))
    record(org, [ai_event("f1", operation="chat")], when=at(28, month=FEBRUARY))
