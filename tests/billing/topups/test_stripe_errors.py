"""Stripe's error classes on an off-session charge (finding 2): a permanent refusal fails
the try at once, tells the admins what to do and is not sent again; no answer (5xx, rate
limit, lock timeout) is sent again with the same key after a growing backoff; a new card
replaces what a waiting attempt waits on."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import (
    AutoTopupSettings,
    Notification,
    NotificationKind,
    TopupAttempt,
    TopupStatus,
    TryState,
)
from billing.topups import runner
from tests.billing.purchase_fixtures import assert_ledger_ok, balance
from tests.billing.topup_fixtures import (
    DECLINED,
    GOOD_CARD,
    intent_requests,
    save_stripe_card,
    topup_entries,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(stripe_stub, ready):
    """The shared `ready` (tests/billing/topup_fixtures.py), with the Stripe stub serving."""
    return ready


def sweeps(minutes, now):
    return [runner.sweep(now=now + timedelta(minutes=m)) for m in minutes]


@pytest.mark.parametrize(("status", "error", "fields", "remedy"), [
    (400, "invalid_request_error", {"code": "resource_missing", "param": "payment_method"},
     "save a new card"),
    (403, "invalid_request_error", {}, "restricted key"),
    (401, "invalid_request_error", {}, "restricted key"),
])
def test_a_permanent_refusal_fails_the_try_at_once_and_is_not_sent_again(
        org, ready, stripe_stub, status, error, fields, remedy):
    now = timezone.now()
    stripe_stub.fail(status, error, **fields)
    run = runner.run_auto_topup(organization=org, now=now)
    assert run.outcome == "failed permanently"
    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.try_state, attempt.tries) == (
        TopupStatus.FAILED, TryState.DONE, 1)
    settings = AutoTopupSettings.objects.get(organization=org)
    assert not settings.enabled and remedy in settings.disabled_reason
    [told] = Notification.objects.filter(organization=org)
    assert told.kind == NotificationKind.TOPUP_DISABLED and remedy in told.text
    sweeps([4, 8, 60, 1445], now)
    assert len(intent_requests(stripe_stub)) == 1  # never sent again
    assert balance(org) == Decimal("500")


@pytest.mark.parametrize(("status", "error", "fields"), [
    (500, "api_error", {}),
    (429, "invalid_request_error", {"code": "rate_limit"}),
    (429, "invalid_request_error", {"code": "lock_timeout"}),
])
def test_no_answer_is_sent_again_with_the_same_key_after_a_growing_backoff(
        org, ready, stripe_stub, status, error, fields):
    now = timezone.now()
    stripe_stub.fail(status, error, **fields)
    assert runner.run_auto_topup(organization=org, now=now).outcome == "unreachable"
    attempt = TopupAttempt.objects.get()
    assert (attempt.status, attempt.try_state, attempt.unanswered_sends) == (
        TopupStatus.PENDING, TryState.CHARGING, 1)
    sent = len(intent_requests(stripe_stub))
    assert sent == 1
    stripe_stub.fail(status, error, **fields)
    sweeps([1], now)
    assert len(intent_requests(stripe_stub)) == sent  # waits 2 minutes after the first
    sweeps([2.5], now)
    assert len(intent_requests(stripe_stub)) == 2 * sent
    assert TopupAttempt.objects.get().unanswered_sends == 2
    sweeps([5], now)
    assert len(intent_requests(stripe_stub)) == 2 * sent  # then 4 minutes
    sweeps([7], now)
    keys = {r.headers["Idempotency-Key"] for r in intent_requests(stripe_stub)}
    assert keys == {f"topup-{attempt.pk}-try-1"}
    assert TopupAttempt.objects.get().status == TopupStatus.SUCCEEDED
    assert topup_entries(org).count() == 1 and balance(org) == Decimal("6000")
    assert_ledger_ok(org)


def test_a_new_card_is_tried_at_once_by_an_attempt_waiting_to_retry(org, ready, stripe_stub):
    now = timezone.now()
    save_stripe_card(org, DECLINED)
    assert runner.run_auto_topup(organization=org, now=now).outcome == "failed"
    from billing.topups import cards

    cards.save_card(organization=org, provider="stripe", customer_id="cus_stub_topup",
                    payment_method={"id": GOOD_CARD, "card": {"brand": "visa"}})
    [[run]] = sweeps([1], now)  # the decline's backoff was 5 minutes
    assert run.outcome == "credited"
    assert intent_requests(stripe_stub)[-1].form["payment_method"] == GOOD_CARD
