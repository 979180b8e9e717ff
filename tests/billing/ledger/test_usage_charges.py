"""What a usage entry commits to, pinned: the events-v1 line that older entries' digests
were computed on, the reason of a charge of many events, and which entries are per charge
(billing/ledger/usage_charges.py; verify_ledger's use of them is in test_verify_usage.py)."""

import time
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from billing.ledger.usage_charges import (
    charge_metadata,
    charge_reason,
    event_line,
    is_per_charge,
    priced_event_line,
)


def test_the_events_v1_line_is_pinned():
    """Entries digested in events-v1 stay in the ledger: their line must never change."""
    line = event_line(key="k1", usage_type="ai", resource="gpt-4o", tokens=[1, 2, 3, 4, 5],
                      quantity=Decimal("1"), credits=Decimal("2.5"))
    assert line == "k1\x1fai\x1fgpt-4o\x1f1\x1f2\x1f3\x1f4\x1f5\x1f1.000000\x1f2.500000"


def test_the_events_v2_and_v3_lines_are_pinned():
    """v2 (no breakdown) and v3 (its digest after the unit separator) lines, as stored."""
    fields = dict(key="k1", usage_type="ai", resource="gpt-4o", model_id=7, meter_id=None,
                  tokens=[1, 2, 3, 4, 5], quantity=Decimal("1"), cost_usd=Decimal("0.0125"),
                  markup=Decimal("1.5"), credits_per_usd=Decimal("100"),
                  credits=Decimal("1.875"))
    v2 = ("2:k12:ai6:gpt-4o7\x1f\x1f1\x1f2\x1f3\x1f4\x1f5\x1f1.000000\x1f0.0125000000000000"
          "\x1f1.50000000\x1f100.00000000\x1f1.875000")
    assert priced_event_line(**fields) == v2
    assert priced_event_line(**fields, breakdown_sha256="ff") == f"{v2}\x1fff"


def test_a_charges_metadata_holds_its_digest_and_what_the_transactions_page_shows(
        monkeypatch):
    """Distinct values sorted, blanks left out, the usage's first and last time in UTC
    whatever the server's zone."""
    plus_two = timezone(timedelta(hours=2))
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        metadata = _metadata(plus_two)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert metadata == {
        "events": 3, "events_digest": "ab", "events_version": "events-v3", "cost_usd": "0.0125",
        "types": ["ai", "gpu"], "resources": ["a100", "gpt-4o"], "operations": ["chat"],
        "users": ["u@x"], "used_from": "2026-12-01T09:00:00+00:00",
        "used_until": "2026-12-01T10:00:00+00:00"}


def _metadata(plus_two):
    return charge_metadata(
        digest="ab", count=3, cost_usd=Decimal("0.0125"), types=["ai", "gpu", "ai"],
        resources=["gpt-4o", "a100", "gpt-4o"], operations=["", "chat"], users=["u@x", ""],
        occurred=[datetime(2026, 12, 1, 12, tzinfo=plus_two), datetime(2026, 12, 1, 9, tzinfo=UTC),
                  datetime(2026, 12, 1, 11, tzinfo=plus_two)])


def test_a_charges_reason_names_its_first_three_models_and_counts_the_rest():
    assert charge_reason(["b", "a", "c", "a"], 4) == "4 events: a, b, c"
    assert charge_reason(["d", "b", "a", "c"], 1234) == "1,234 events: a, b, c and 1 more"
    assert charge_reason(list("edcba"), 5) == "5 events: a, b, c and 2 more"


def test_an_entry_is_per_charge_when_its_metadata_holds_the_events_digest():
    assert is_per_charge({"events": 3, "events_digest": "ab"})
    assert not is_per_charge({"events": 3})  # an older entry of one event
    assert not is_per_charge({}) and not is_per_charge(None)
