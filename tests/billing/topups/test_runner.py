"""run_auto_topup and the sweep against the real stripe library and the local stub
(PostgreSQL: the claims race on real row locks and the partial unique index)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from billing.models import AutoTopupSettings, TopupAttempt, TopupMode, TopupStatus, TryState
from billing.payments import stripe_provider as stripe_gateway
from billing.topups import attempts, runner, settlement
from tests.billing.postings import consume
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, post_event
from tests.billing.stripe_stub import event
from tests.billing.topup_fixtures import (
    DECLINED,
    GOOD_CARD,
    NEEDS_AUTH,
    intent_requests,
    save_stripe_card,
    set_balance_below,
    topup_entries,
    turn_on,
)
from tests.concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def ready(stripe_stub, ready):
    """The shared `ready` (tests/billing/topup_fixtures.py), with the Stripe stub serving."""
    return ready


def keys(stub):
    return [r.headers.get("Idempotency-Key") for r in intent_requests(stub)]


def test_ten_threads_and_two_sweeps_make_one_attempt_one_intent_one_credit(org, ready,
                                                                           stripe_stub):
    tasks = [lambda: runner.run_auto_topup(organization=org)] * 10 + [runner.sweep] * 2

    run_together(tasks)

    assert TopupAttempt.objects.filter(organization=org).count() == 1
    assert len(intent_requests(stripe_stub)) == 1
    assert topup_entries(org).count() == 1
    assert balance(org) == Decimal("6000")
    attempt = TopupAttempt.objects.get(organization=org)
    assert attempt.status == TopupStatus.SUCCEEDED and attempt.entry_id is not None
    [request] = intent_requests(stripe_stub)
    assert request.form["off_session"] == "true" and request.form["confirm"] == "true"
    assert request.form["payment_method"] == GOOD_CARD
    assert request.form["metadata[topup_attempt_id]"] == str(attempt.pk)
    assert request.headers["Idempotency-Key"] == f"topup-{attempt.pk}-try-1"
    assert_ledger_ok(org)


def test_usage_below_the_threshold_enqueues_a_topup_on_commit(org, admin_user, package,
                                                              stripe_stub):
    from tests.billing.postings import grant

    grant(org, "1500", key="test:start")
    save_stripe_card(org)
    turn_on(org, package)

    consume(org, "600", key="usage:one")  # 900 < 1000: the on-commit trigger runs the task

    assert topup_entries(org).count() == 1
    assert balance(org) == Decimal("6400")
    consume(org, "10", key="usage:two")  # above the threshold again: nothing more
    assert TopupAttempt.objects.count() == 1


def test_a_decline_notifies_admins_and_retries_later_with_a_new_key(org, ready, admin_user,
                                                                    stripe_stub):
    save_stripe_card(org, DECLINED)
    now = timezone.now()

    assert runner.run_auto_topup(organization=org, now=now).outcome == "failed"

    assert topup_entries(org).count() == 0
    assert balance(org) == Decimal("500")
    [email] = mail.outbox
    assert email.to == [admin_user.email] and "failed" in email.subject
    attempt = TopupAttempt.objects.get()
    assert attempt.status == TopupStatus.PENDING and attempt.try_state == TryState.WAITING
    assert "declined" in attempt.last_error
    # Before the backoff: nothing is sent.
    assert runner.run_auto_topup(organization=org, now=now + timedelta(minutes=1)).outcome == \
        "nothing to do"
    save_stripe_card(org, GOOD_CARD)  # the admin replaced the card

    assert runner.run_auto_topup(organization=org, now=now + timedelta(minutes=6)).outcome == \
        "credited"

    assert keys(stripe_stub) == [f"topup-{attempt.pk}-try-1", f"topup-{attempt.pk}-try-2"]
    assert balance(org) == Decimal("6000")
    assert AutoTopupSettings.objects.get(organization=org).consecutive_failures == 0
    assert_ledger_ok(org)


def test_a_card_that_needs_authentication_counts_as_a_failure(org, ready, stripe_stub):
    save_stripe_card(org, NEEDS_AUTH)

    assert runner.run_auto_topup(organization=org).outcome == "failed"

    assert "authentication" in TopupAttempt.objects.get().last_error
    assert len(mail.outbox) == 1


def test_three_failures_turn_auto_topup_off_until_an_admin_turns_it_on(
        org, ready, admin_user, package, stripe_stub):
    save_stripe_card(org, DECLINED)
    now = timezone.now()
    for minutes in (0, 6, 40):
        assert runner.run_auto_topup(organization=org,
                                     now=now + timedelta(minutes=minutes)).outcome == "failed"

    row = AutoTopupSettings.objects.get(organization=org)
    assert not row.enabled and "3 failed payments" in row.disabled_reason
    assert TopupAttempt.objects.get().status == TopupStatus.FAILED
    assert [m.subject.split(": ")[1] for m in mail.outbox] == [
        "auto-topup payment failed", "auto-topup payment failed", "auto-topup turned off"]
    # It stays off: later sweeps and triggers charge nothing.
    runner.sweep(now=now + timedelta(hours=3))
    consume(org, "100", key="usage:more")
    assert len(intent_requests(stripe_stub)) == 3
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(f"/o/{org.slug}/").content.decode()
    assert 'data-testid="banner-auto-topup-off"' in page

    save_stripe_card(org, GOOD_CARD)
    response = browser.post(f"/o/{org.slug}/auto-topup/", {
        "enabled": "on", "threshold": "1000", "package": package.pk, "mode": "fixed"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.enabled and row.consecutive_failures == 0 and row.disabled_reason == ""

    assert runner.run_auto_topup(organization=org).outcome == "credited"
    assert balance(org) == Decimal("5900")
    assert 'banner-auto-topup-off' not in browser.get(f"/o/{org.slug}/").content.decode()
    assert_ledger_ok(org)


def test_recharge_to_target_with_an_attempt_pending_stacks_nothing(org, admin_user, package,
                                                                   stripe_stub):
    set_balance_below(org)
    save_stripe_card(org)
    row = turn_on(org, package, mode=TopupMode.TARGET, target="20000")
    claim = attempts.claim(organization=org)  # a try in flight, not answered yet
    assert claim.attempt.units == 4  # ceil((20000 - 500) / 5500)
    assert claim.attempt.amount_minor == 4 * 4500

    consume(org, "300", key="usage:while-pending")  # the trigger fires again
    runs = run_together([lambda: runner.run_auto_topup(organization=org)] * 4
                        + [runner.sweep] * 2)

    assert [r.outcome for r in runs[:4]] == ["nothing to do"] * 4
    assert [run.outcome for sweep in runs[4:] for run in sweep] == ["nothing to do"] * 2
    assert TopupAttempt.objects.count() == 1
    assert intent_requests(stripe_stub) == []
    # What is pending counts toward the target: nothing more is wanted.
    assert attempts.units_wanted(row, balance=Decimal("200"),
                                 pending=claim.attempt.credits) == 0


def test_the_monthly_cap_is_never_passed(org, admin_user, package, stripe_stub):
    set_balance_below(org)
    save_stripe_card(org)
    turn_on(org, package, mode=TopupMode.TARGET, target="20000", cap_minor=10000)

    assert runner.run_auto_topup(organization=org).outcome == "credited"
    attempt = TopupAttempt.objects.get()
    assert attempt.units == 2 and attempt.amount_minor == 9000  # 4 wanted, 2 fit in 100.00

    consume(org, "11000", key="usage:drain-again")  # below the threshold again; 10.00 of room left
    runner.sweep()
    runner.sweep()

    assert TopupAttempt.objects.count() == 1
    charged = sum(int(r.form["amount"]) for r in intent_requests(stripe_stub))
    assert charged == 9000 <= 10000
    cap_mails = [m for m in mail.outbox if "monthly cap" in m.subject]
    assert len(cap_mails) == 1  # told once, not every minute
    assert_ledger_ok(org)


def test_a_worker_killed_between_the_intent_and_the_credit_is_settled_once_by_the_sweep(
        org, ready, stripe_stub):
    now = timezone.now()
    claim = attempts.claim(organization=org, now=now)
    intent = stripe_gateway.charge_off_session(attempt=claim.attempt,
                                               try_number=claim.try_number)
    # ... the worker dies here: the card was charged, no credit was posted.
    assert runner.sweep(now=now + timedelta(seconds=30))[0].outcome == "nothing to do"
    assert topup_entries(org).count() == 0

    later = now + attempts.STALE_AFTER + timedelta(seconds=1)
    run_together([lambda: runner.sweep(now=later)] * 2)

    attempt = TopupAttempt.objects.get()
    assert attempt.status == TopupStatus.SUCCEEDED
    assert attempt.payment_intent_id == intent["id"]  # the same intent, replayed by its key
    assert len(stripe_stub.payment_intents) == 1
    assert topup_entries(org).count() == 1
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


def test_the_webhook_and_the_sync_answer_credit_once_in_either_order(org, ready, stripe_stub):
    claim = attempts.claim(organization=org)
    intent = stripe_gateway.charge_off_session(attempt=claim.attempt,
                                               try_number=claim.try_number)
    succeeded = event("payment_intent.succeeded", intent)

    assert post_event(Client(), succeeded).status_code == 200
    assert post_event(Client(), succeeded).status_code == 200  # a redelivery
    assert post_event(Client(), event("payment_intent.succeeded", intent)).status_code == 200
    assert settlement.settle_intent(intent=intent) == "already credited"

    assert topup_entries(org).count() == 1
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


def test_a_failure_delivered_twice_counts_once(org, ready, stripe_stub):
    save_stripe_card(org, DECLINED)
    claim = attempts.claim(organization=org)
    intent = stripe_gateway.charge_off_session(attempt=claim.attempt,
                                               try_number=claim.try_number)
    assert intent["status"] == "requires_payment_method"

    assert post_event(Client(), event("payment_intent.payment_failed", intent)).status_code \
        == 200
    assert settlement.settle_intent(intent=intent) == "stale"

    assert AutoTopupSettings.objects.get(organization=org).consecutive_failures == 1
    assert len(mail.outbox) == 1


def test_a_payment_intent_that_is_not_a_topup_is_ignored(org, ready, stripe_stub):
    foreign = {"id": "pi_other", "object": "payment_intent", "status": "succeeded",
               "amount": 100, "metadata": {}}
    assert post_event(Client(), event("payment_intent.succeeded", foreign)).status_code == 200
    assert topup_entries(org).count() == 0


def test_turning_it_off_gives_up_a_waiting_attempt(org, ready, stripe_stub):
    save_stripe_card(org, DECLINED)
    now = timezone.now()
    runner.run_auto_topup(organization=org, now=now)
    AutoTopupSettings.objects.filter(organization=org).update(enabled=False)

    runner.run_auto_topup(organization=org, now=now + timedelta(hours=1))

    assert TopupAttempt.objects.get().status == TopupStatus.CANCELLED
    assert len(intent_requests(stripe_stub)) == 1


def test_a_retry_is_cancelled_when_the_balance_was_refilled_meanwhile(org, ready,
                                                                      stripe_stub):
    from tests.billing.postings import grant

    save_stripe_card(org, DECLINED)
    now = timezone.now()
    runner.run_auto_topup(organization=org, now=now)
    grant(org, "5000", key="test:bought-by-hand")

    runner.sweep(now=now + timedelta(hours=1))

    assert TopupAttempt.objects.get().status == TopupStatus.CANCELLED
    assert len(intent_requests(stripe_stub)) == 1
    assert balance(org) == Decimal("5500")


def test_a_dead_workers_try_with_a_known_intent_is_retrieved_not_resent(org, ready, stripe_stub):
    now = timezone.now()
    claim = attempts.claim(organization=org, now=now)
    intent = stripe_gateway.charge_off_session(attempt=claim.attempt,
                                               try_number=claim.try_number)
    # The worker recorded the intent (as for one still processing), then died.
    TopupAttempt.objects.filter(pk=claim.attempt.pk).update(payment_intent_id=intent["id"])

    runner.sweep(now=now + attempts.STALE_AFTER + timedelta(seconds=1))

    assert stripe_stub.requests_to("GET", f"/v1/payment_intents/{intent['id']}")
    assert len(intent_requests(stripe_stub)) == 1
    assert TopupAttempt.objects.get().status == TopupStatus.SUCCEEDED
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


def test_a_test_card_is_never_charged_when_payments_are_live(org, admin_user, package,
                                                             stripe_stub):
    from billing.topups import cards

    set_balance_below(org)
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    turn_on(org, package)

    assert runner.run_auto_topup(organization=org).outcome == "nothing to do"

    assert not TopupAttempt.objects.exists() and topup_entries(org).count() == 0


def test_a_pending_test_attempt_fails_when_payments_went_live(org, admin_user, package,
                                                              stripe_stub, settings):
    from billing.topups import cards

    set_balance_below(org)
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_declined")
    turn_on(org, package)
    settings.PAYMENTS_PROVIDER = "test"
    now = timezone.now()
    runner.run_auto_topup(organization=org, now=now)  # declined, waits for its retry
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    settings.PAYMENTS_PROVIDER = "stripe"

    assert runner.run_auto_topup(organization=org, now=now + timedelta(minutes=6)).outcome == \
        "failed"

    assert topup_entries(org).count() == 0
    assert "test card cannot be charged" in TopupAttempt.objects.get().last_error
    assert intent_requests(stripe_stub) == []
