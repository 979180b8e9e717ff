"""attempts.claim, deterministically and on SQLite too: whether a try is sent now, for how
many units, and what happens to a pending attempt (retry, cancel, reconcile).

The races between workers are in test_runner.py (PostgreSQL).
"""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billing.models import (
    AutoTopupSettings,
    Notification,
    NotificationKind,
    TopupAttempt,
    TopupMode,
    TopupStatus,
    TryState,
)
from billing.topups import attempts
from billing.topups.attempts import claim, units_wanted
from tests.billing.postings import consume, grant
from tests.billing.topup_fixtures import save_stripe_card, set_balance_below, turn_on

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stripe_payments(settings):
    settings.PAYMENTS_PROVIDER = "stripe"


def test_a_first_try_is_claimed_for_one_unit(org, ready):
    made = claim(organization=org, now=NOW)
    attempt = made.attempt
    assert (made.try_number, made.resend) == (1, False)
    assert (attempt.units, attempt.credits, attempt.amount_minor, attempt.currency) == (
        1, Decimal("5500"), 4500, "usd")
    assert (attempt.status, attempt.try_state, attempt.tries) == (
        TopupStatus.PENDING, TryState.CHARGING, 1)
    assert attempt.created_at == attempt.next_try_at == attempt.charging_since == NOW
    assert (attempt.balance_at_start, attempt.payment_method_id, attempt.customer_id) == (
        Decimal("500"), "pm_card_visa", "cus_stub_topup")
    TopupAttempt.objects.get(pk=attempt.pk)  # stored


def test_nothing_is_claimed_without_a_card_or_above_the_threshold(org, admin_user, package):
    set_balance_below(org)
    turn_on(org, package)
    assert claim(organization=org, now=NOW) is None  # no card
    save_stripe_card(org)
    grant(org, 600, key="test:refill")  # 1,100: above the threshold of 1,000
    turn_on(org, package, mode=TopupMode.TARGET, target="5000")
    assert claim(organization=org, now=NOW) is None  # the target matters only below it
    assert not TopupAttempt.objects.exists()


@pytest.mark.parametrize("target, units", [("1500", 1), ("6000", 1), ("6001", 2),
                                           ("11501", 3)])
def test_recharge_to_target_buys_the_units_that_reach_it(org, admin_user, package, target,
                                                         units):
    set_balance_below(org)  # 500
    save_stripe_card(org)
    turn_on(org, package, mode=TopupMode.TARGET, target=target)
    assert claim(organization=org, now=NOW).attempt.units == units  # 5,500 credits a unit


def test_a_shortfall_of_less_than_a_credit_still_buys_a_unit(org, admin_user, package):
    row = turn_on(org, package, mode=TopupMode.TARGET, target="1000")
    assert units_wanted(row, balance=Decimal("999.5"), pending=Decimal(0)) == 1
    assert units_wanted(row, balance=Decimal("1000"), pending=Decimal(0)) == 0
    fixed = turn_on(org, package)
    assert units_wanted(fixed, balance=Decimal("500"), pending=Decimal("5500")) == 0
    assert units_wanted(fixed, balance=Decimal("500"), pending=Decimal(0)) == 1


def test_another_orgs_pending_attempt_changes_nothing_here(org, other_org, other_admin,
                                                           package, admin_user):
    set_balance_below(other_org, key="other")
    save_stripe_card(other_org)
    turn_on(other_org, package, mode=TopupMode.TARGET, target="11501")
    assert claim(organization=other_org, now=NOW).attempt.units == 3  # pending, 16,500
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package, mode=TopupMode.TARGET, target="11501")
    assert claim(organization=org, now=NOW).attempt.units == 3


def test_the_monthly_cap_cuts_the_units_and_counts_this_months_charges(org, ready, package):
    turn_on(org, package, mode=TopupMode.TARGET, target="22500", cap_minor=13500)  # 4 wanted
    earlier = TopupAttempt.objects.create(
        organization=org, provider="stripe", package=package, package_name="Growth", units=1,
        credits=Decimal("5500"), amount_minor=4500, currency="usd",
        balance_at_start=Decimal(0), payment_method_id="pm_card_visa",
        status=TopupStatus.SUCCEEDED, created_at=datetime(2026, 11, 1, 0, 30, tzinfo=UTC))
    TopupAttempt.objects.create(  # last month's charge no longer counts
        organization=org, provider="stripe", package=package, package_name="Growth", units=1,
        credits=Decimal("5500"), amount_minor=4500, currency="usd",
        balance_at_start=Decimal(0), payment_method_id="pm_card_visa",
        status=TopupStatus.SUCCEEDED, created_at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC))
    TopupAttempt.objects.create(  # a failed charge took no money
        organization=org, provider="stripe", package=package, package_name="Growth", units=1,
        credits=Decimal("5500"), amount_minor=4500, currency="usd",
        balance_at_start=Decimal(0), payment_method_id="pm_card_visa",
        status=TopupStatus.FAILED, created_at=datetime(2026, 11, 1, 0, 40, tzinfo=UTC))
    assert attempts.spent_this_month(org, NOW) == earlier.amount_minor
    assert claim(organization=org, now=NOW).attempt.units == 2  # 90.00 of room left


def test_a_cap_with_room_for_more_than_wanted_buys_what_is_wanted(org, ready, package):
    turn_on(org, package, cap_minor=100000)
    assert claim(organization=org, now=NOW).attempt.units == 1


def test_a_full_cap_charges_nothing_and_tells_the_admins_once_a_month(org, ready, package):
    turn_on(org, package, cap_minor=4000)  # not even one unit fits
    assert claim(organization=org, now=NOW) is None
    assert claim(organization=org, now=NOW + timedelta(days=1)) is None
    notice = Notification.objects.get()
    assert (notice.kind, notice.link_name, notice.balance, notice.subject) == (
        NotificationKind.TOPUP_CAP, "auto_topup", Decimal("500"),
        "Acme: auto-topup reached its monthly cap")
    assert notice.text == ("Auto-topup did not charge the card: another Growth would pass "
                           "this month's cap of 40.00 USD. Raise the cap or buy credits by "
                           "hand; the balance is 500.00 credits.")
    assert AutoTopupSettings.objects.get().cap_notified_month == "2026-11"
    assert claim(organization=org, now=datetime(2026, 12, 1, tzinfo=UTC)) is None
    assert Notification.objects.count() == 2  # a new month: told again
    assert not TopupAttempt.objects.exists()


def waiting(org, now=NOW):
    """The first try claimed, then failed: the attempt waits for its retry."""
    attempt = claim(organization=org, now=now).attempt
    TopupAttempt.objects.filter(pk=attempt.pk).update(
        try_state=TryState.WAITING, next_try_at=now + timedelta(minutes=5),
        last_error="Your card was declined.")
    return attempt


def test_a_waiting_attempt_is_retried_once_its_backoff_is_over(org, ready):
    attempt = waiting(org)
    assert claim(organization=org, now=NOW + timedelta(minutes=4)) is None
    save_stripe_card(org, "pm_card_new")  # an admin replaced the card meanwhile
    retry = claim(organization=org, now=NOW + timedelta(minutes=5))  # exactly when due
    assert (retry.attempt.pk, retry.try_number, retry.resend) == (attempt.pk, 2, False)
    stored = TopupAttempt.objects.get()
    assert (stored.tries, stored.try_state, stored.charging_since, stored.payment_method_id) == (
        2, TryState.CHARGING, NOW + timedelta(minutes=5), "pm_card_new")
    assert TopupAttempt.objects.count() == 1


@pytest.mark.parametrize("change, why", [
    ("off", "auto-topup turned off"),
    ("refilled", "balance back above the threshold"),
])
def test_a_waiting_attempt_is_given_up_when_no_longer_wanted(org, ready, change, why):
    waiting(org)
    if change == "off":
        AutoTopupSettings.objects.filter(organization=org).update(enabled=False)
    else:
        grant(org, 5000, key="test:bought-by-hand")
    later = NOW + timedelta(hours=1)
    assert claim(organization=org, now=later) is None
    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.try_state, attempt.settled_at) == (
        TopupStatus.CANCELLED, TryState.DONE, later)
    assert attempt.last_error == f"Your card was declined. (cancelled: {why})"


def test_a_try_left_charging_by_a_dead_worker_is_sent_again_by_one_sweep(org, ready):
    attempt = claim(organization=org, now=NOW).attempt
    just_before = NOW + attempts.STALE_AFTER - timedelta(microseconds=1)
    assert claim(organization=org, now=just_before) is None  # maybe still in flight
    stale_at = NOW + attempts.STALE_AFTER
    again = claim(organization=org, now=stale_at)
    assert (again.attempt.pk, again.try_number, again.resend) == (attempt.pk, 1, True)
    assert TopupAttempt.objects.get().charging_since == stale_at  # the next sweep waits
    assert claim(organization=org, now=stale_at + timedelta(seconds=1)) is None


def test_the_cap_notice_shows_the_balance_to_two_places_as_the_portal(org, ready, package):
    consume(org, "0.004", key="usage:fraction")  # 499.996 credits
    turn_on(org, package, cap_minor=4000)
    assert claim(organization=org, now=NOW) is None
    text = Notification.objects.get().text
    assert text.endswith("the balance is 500.00 credits.") and "499.996" not in text


def test_the_monthly_cap_counts_from_midnight_utc_on_the_first():
    plus_five = timezone(timedelta(hours=5))
    assert attempts.month_start(datetime(2026, 12, 1, 3, 45, 30, 7, tzinfo=plus_five)) == (
        datetime(2026, 11, 1, tzinfo=UTC))
    assert attempts.month_start(datetime(2026, 12, 7, 13, 45, 30, 7, tzinfo=UTC)) == (
        datetime(2026, 12, 1, tzinfo=UTC))
