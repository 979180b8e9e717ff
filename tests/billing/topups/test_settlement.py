"""settlement.settle_intent, deterministically and on SQLite too: a try claimed, then its
PaymentIntent applied as the webhook, the synchronous answer or the sweep would hand it.

The races themselves (threads, the real Stripe library) are in test_runner.py (PostgreSQL).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import (
    AutoTopupSettings,
    CreditPackage,
    EntryKind,
    Notification,
    NotificationKind,
    TopupAttempt,
    TopupMode,
    TopupStatus,
    TryState,
)
from billing.topups import attempts, settlement
from billing.topups.settlement import settle_intent
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, entries
from tests.billing.topup_fixtures import save_stripe_card, set_balance_below, turn_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed(org, admin_user, package, settings):
    """Balance 500 under a threshold of 1000, a Stripe card, Growth (5,000 + 500 bonus for
    45.00 USD) once: the first try claimed at `now`, sent, not answered yet."""
    settings.PAYMENTS_PROVIDER = "stripe"
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package)
    return attempts.claim(organization=org, now=timezone.now()).attempt


def intent(attempt, status, *, try_number=None, amount=None, error=None, intent_id="pi_1"):
    found = {"id": intent_id, "object": "payment_intent", "status": status,
             "amount": attempt.amount_minor if amount is None else amount,
             "metadata": {"topup_attempt_id": str(attempt.pk),
                          "try": str(try_number or attempt.tries)}}
    if error is not None:
        found["last_payment_error"] = error
    return found


def declined(attempt, **extra):
    return intent(attempt, "requires_payment_method",
                  error={"code": "card_declined", "message": "Your card was declined."}, **extra)


def test_a_success_is_credited_once_with_its_bonus(org, claimed):
    now = timezone.now() + timedelta(seconds=5)
    succeeded = {**intent(claimed, "succeeded"), "latest_charge": "ch_1"}
    assert settle_intent(intent=succeeded, now=now) == "credited"
    assert settle_intent(intent=intent(claimed, "succeeded"), now=now) == "already credited"

    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.try_state, attempt.settled_at) == (
        TopupStatus.SUCCEEDED, TryState.DONE, now)
    assert attempt.payment_intent_id == "pi_1" and attempt.last_error == ""
    assert attempt.stripe_charge_id == "ch_1"  # what refunds and disputes name; kept
    paid, bonus = entries(org, kind__in=[EntryKind.TOPUP, EntryKind.BONUS])
    metadata = {"topup_attempt_id": attempt.pk, "payment_intent": "pi_1", "package": "Growth",
                "units": 1, "amount_paid": "4500", "currency": "usd"}
    assert (paid.kind, paid.amount, paid.reason, paid.actor_label, paid.created_at) == (
        EntryKind.TOPUP, Decimal("5000"), "Auto-topup: Growth x1", "system:auto_topup", now)
    assert paid.idempotency_key == f"topup:{attempt.pk}" and attempt.entry == paid
    assert {k: paid.metadata[k] for k in metadata} == metadata
    assert (bonus.amount, bonus.reason, bonus.idempotency_key) == (
        Decimal("500"), "Bonus with Auto-topup: Growth x1", f"topup:{attempt.pk}:bonus")
    assert {k: bonus.metadata[k] for k in metadata} == metadata
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


def test_several_units_are_credited_as_many_times(org, admin_user, settings):
    settings.PAYMENTS_PROVIDER = "stripe"
    package = CreditPackage.objects.create(name="Small", base_credits=Decimal("300"),
                                           bonus_credits=Decimal("30"), price_minor=300,
                                           currency="usd")
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package, mode=TopupMode.TARGET, target="1500")
    attempt = attempts.claim(organization=org).attempt
    assert attempt.units == 4  # ceil((1500 - 500) / 330)

    assert settle_intent(intent=intent(attempt, "succeeded")) == "credited"

    paid, bonus = entries(org, kind__in=[EntryKind.TOPUP, EntryKind.BONUS])
    assert (paid.amount, bonus.amount, paid.reason) == (
        Decimal("1200"), Decimal("120"), "Auto-topup: Small x4")
    assert balance(org) == Decimal("1820")


def test_an_intent_of_another_amount_is_refused(org, claimed):
    with pytest.raises(ValueError) as caught:
        settle_intent(intent=intent(claimed, "succeeded", amount=4400))
    assert str(caught.value) == f"topup {claimed.pk}: intent amount 4400 is not 4500"
    assert balance(org) == Decimal("500")
    without_amount = {k: v for k, v in intent(claimed, "succeeded").items() if k != "amount"}
    assert settle_intent(intent=without_amount) == "credited"  # the attempt's own amount


@pytest.mark.parametrize("metadata", [{}, {"topup_attempt_id": "x"},
                                      {"topup_attempt_id": "999999"}])
def test_an_intent_that_names_no_attempt_of_ours_is_not_ours(org, claimed, metadata):
    found = {**intent(claimed, "succeeded"), "metadata": metadata}
    assert settle_intent(intent=found) == "not ours"
    assert balance(org) == Decimal("500")


def test_a_failure_waits_for_its_retry_and_tells_the_admins(org, claimed):
    now = timezone.now()
    assert settle_intent(intent=declined(claimed), now=now) == "failed"

    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.try_state) == (TopupStatus.PENDING, TryState.WAITING)
    assert attempt.next_try_at == now + timedelta(minutes=5)
    assert (attempt.last_error, attempt.payment_intent_id) == ("Your card was declined.", "pi_1")
    assert AutoTopupSettings.objects.get().consecutive_failures == 1
    notice = Notification.objects.get()
    assert (notice.organization, notice.kind, notice.link_name, notice.balance) == (
        org, NotificationKind.TOPUP_FAILED, "auto_topup", Decimal("500"))
    assert notice.subject == "Acme: auto-topup payment failed"
    assert notice.text == (
        "Charging 45.00 USD for Growth failed (Your card was declined.). We try again at "
        f"{attempt.next_try_at:%Y-%m-%d %H:%M} UTC; after 3 failures in a row auto-topup "
        "turns itself off. The balance is 500.00 credits.")


@pytest.mark.parametrize("status, error, reason", [
    ("requires_payment_method", {"code": "expired_card"}, "expired_card"),
    ("requires_action", None, "The card needs authentication."),
    ("requires_payment_method", None, "The payment failed."),
    ("canceled", {}, "The payment failed."),
])
def test_the_reason_of_a_failure(claimed, status, error, reason):
    assert settle_intent(intent=intent(claimed, status, error=error)) == "failed"
    assert TopupAttempt.objects.get().last_error == reason


def test_three_failures_in_a_row_turn_auto_topup_off(org, claimed):
    now = timezone.now()
    for number, wait in ((1, 5), (2, 30)):
        assert settle_intent(intent=declined(claimed, try_number=number), now=now) == "failed"
        attempt = TopupAttempt.objects.get()
        assert attempt.next_try_at == now + timedelta(minutes=wait)
        attempt = attempts.claim(organization=org, now=attempt.next_try_at).attempt
        assert attempt.tries == number + 1
    assert settle_intent(intent=declined(claimed, try_number=3), now=now) == "failed"

    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.try_state, attempt.settled_at) == (
        TopupStatus.FAILED, TryState.DONE, now)
    row = AutoTopupSettings.objects.get()
    assert row.enabled is False and row.consecutive_failures == 3
    assert row.disabled_reason == ("Turned off after 3 failed payments in a row (Your card "
                                   "was declined.)")
    notice = Notification.objects.filter(kind=NotificationKind.TOPUP_DISABLED).get()
    assert (notice.organization, notice.link_name, notice.subject) == (
        org, "auto_topup", "Acme: auto-topup turned off")
    assert notice.text == ("Auto-topup failed 3 times in a row and is now off (Your card was "
                           "declined.). Check the saved card, then turn auto-topup on again.")
    assert Notification.objects.count() == 3


def test_a_late_success_outranks_a_failure_and_clears_the_count(org, claimed):
    now = timezone.now()
    settle_intent(intent=declined(claimed), now=now)
    attempts.claim(organization=org, now=now + timedelta(minutes=6))  # try 2
    assert settle_intent(intent=intent(claimed, "succeeded", try_number=2,
                                       intent_id="pi_2")) == "credited"
    assert AutoTopupSettings.objects.get().consecutive_failures == 0
    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.last_error, attempt.payment_intent_id) == (
        TopupStatus.SUCCEEDED, "", "pi_2")


def test_an_answer_to_an_old_try_or_a_settled_attempt_is_stale(org, claimed):
    now = timezone.now()
    settle_intent(intent=declined(claimed), now=now)
    assert settle_intent(intent=declined(claimed), now=now) == "stale"  # waiting: not current
    attempts.claim(organization=org, now=now + timedelta(minutes=6))  # try 2 in flight
    assert settle_intent(intent=declined(claimed, try_number=1), now=now) == "stale"
    assert AutoTopupSettings.objects.get().consecutive_failures == 1


def test_a_processing_intent_is_remembered_and_settled_later(org, claimed):
    assert settle_intent(intent=intent(claimed, "processing", intent_id="pi_slow")) == "waiting"
    attempt = TopupAttempt.objects.get()
    assert (attempt.payment_intent_id, attempt.status, attempt.try_state) == (
        "pi_slow", TopupStatus.PENDING, TryState.CHARGING)
    assert settle_intent(intent=intent(claimed, "succeeded", intent_id="pi_slow")) == "credited"
    assert balance(org) == Decimal("6000")


def test_a_try_failed_for_good_keeps_its_error_to_the_columns_500_characters(org, claimed):
    now = timezone.now() + timedelta(seconds=5)
    assert settlement.fail_permanently(attempt_id=claimed.pk, try_number=claimed.tries + 1,
                                       message="another try's", remedy="-") == "stale"
    assert settlement.fail_permanently(attempt_id=claimed.pk, try_number=claimed.tries,
                                       message="x" * 600, remedy="save another card",
                                       now=now) == "failed permanently"
    attempt = TopupAttempt.objects.get(pk=claimed.pk)
    assert (attempt.status, attempt.settled_at, attempt.last_error) == (
        TopupStatus.FAILED, now, "x" * 500)
    assert AutoTopupSettings.objects.get(organization=org).disabled_reason == (
        "Turned off: save another card")
    notice = Notification.objects.get(kind=NotificationKind.TOPUP_DISABLED)
    assert notice.link_name == "auto_topup"  # the admins land on the page to fix it
