"""Disputes of purchases and auto-topups through Stripe's whole life of a dispute: funds
withdrawn take the disputed share back (into debt if spent), an inquiry takes nothing,
won (on appeal too) gives it back, lost keeps it taken; once each, whatever the order and
number of deliveries."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.disputes.chargebacks import apply_dispute
from billing.models import (
    CreditPackage,
    Dispute,
    DisputeStatus,
    EntryKind,
    GrantKind,
    Purchase,
    PurchaseStatus,
)
from billing.payments.charges import ChargeNotGrantedYet
from billing.purchases import fulfilment
from billing.webhooks import dispatcher as webhooks
from tests.billing.postings import consume, grant
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, entries, pending_purchase
from tests.billing.stripe_stub import charge_object, event, session_object
from tests.billing.topup_fixtures import credit_a_topup
from tests.conftest import make_member, make_org

pytestmark = pytest.mark.django_db
_ids = itertools.count(1)


def dispute_object(purchase, *, dispute_id="dp_1", amount=None, status="needs_response"):
    return {"id": dispute_id, "object": "dispute", "charge": f"ch_{purchase.pk}",
            "payment_intent": f"pi_{purchase.pk}", "amount": amount or purchase.price_minor,
            "currency": purchase.currency, "reason": "fraudulent", "status": status}


def deliver(kind, obj, *, event_id=None):
    result = webhooks.process_event(event(kind, obj, event_id=event_id))
    assert result.status == 200, result.message
    return result


def test_dispute_created_takes_back_the_credits_and_flags_the_org(org, paid):
    deliver("charge.dispute.created", dispute_object(paid))
    dispute = Dispute.objects.get()
    assert (dispute.status, dispute.organization, dispute.purchase) == (DisputeStatus.OPEN, org,
                                                                        paid)
    assert dispute.credits_taken == Decimal("5500") and balance(org) == 0
    assert entries(org, kind=EntryKind.DISPUTE).get().amount == Decimal("-5500")
    assert_ledger_ok(org)


def test_a_dispute_of_spent_credits_leaves_a_debt(org, paid):
    consume(org, 5000, key="usage:1")
    deliver("charge.dispute.created", dispute_object(paid))
    assert balance(org) == Decimal("-5000")
    assert_ledger_ok(org)


def test_won_restores_and_lost_keeps_them_taken(org, other_org, paid, package, other_admin):
    deliver("charge.dispute.created", dispute_object(paid, amount=2250))
    assert balance(org) == Decimal("2750")
    deliver("charge.dispute.closed", dispute_object(paid, amount=2250, status="won"))
    assert balance(org) == Decimal("5500")
    assert Dispute.objects.get().status == DisputeStatus.WON
    assert_ledger_ok(org)

    lost = pending_purchase(other_org, package, other_admin)
    fulfilment.fulfil_checkout_session(session=session_object(lost))
    lost.refresh_from_db()
    deliver("charge.dispute.created", dispute_object(lost, dispute_id="dp_2"))
    deliver("charge.dispute.closed", dispute_object(lost, dispute_id="dp_2", status="lost"))
    assert balance(other_org) == 0
    assert Dispute.objects.get(dispute_id="dp_2").status == DisputeStatus.LOST
    assert_ledger_ok(other_org)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(outcome=st.sampled_from(["won", "lost"]),
       deliveries=st.lists(st.sampled_from(["created", "closed"]), min_size=1, max_size=6),
       redelivered=st.booleans())
def test_any_order_and_number_of_deliveries_ends_the_same(org, admin_user, package, outcome,
                                                          deliveries, redelivered):
    purchase = pending_purchase(org, package, admin_user, session_id=f"cs_h_{next(_ids)}")
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    start = balance(org)
    dispute_id = f"dp_h_{purchase.pk}"
    for step, kind in enumerate(deliveries):
        status = outcome if kind == "closed" else "needs_response"
        # The same Stripe event id again is a redelivery; a new one is a second sending.
        event_id = f"evt_{dispute_id}_{kind}" if redelivered else f"evt_{dispute_id}_{step}"
        deliver(f"charge.dispute.{kind}", dispute_object(purchase, dispute_id=dispute_id,
                                                         status=status), event_id=event_id)
    dispute = Dispute.objects.get(dispute_id=dispute_id)
    taken = entries(org, kind=EntryKind.DISPUTE, metadata__dispute=dispute_id)
    if "closed" not in deliveries:
        assert dispute.status == DisputeStatus.OPEN and balance(org) == start - Decimal(5500)
    elif outcome == "lost":
        assert dispute.status == DisputeStatus.LOST and balance(org) == start - Decimal(5500)
        assert taken.count() == 1
    else:
        assert dispute.status == DisputeStatus.WON and balance(org) == start
        assert taken.count() in (0, 2)  # never taken (closed came first), or taken and given
    assert_ledger_ok(org)


def test_a_dispute_of_a_charge_that_is_not_ours_is_ignored(org, paid):
    foreign = {**dispute_object(paid), "charge": "ch_other", "payment_intent": "pi_other"}
    deliver("charge.dispute.created", foreign)
    assert not Dispute.objects.exists() and balance(org) == Decimal("5500")


def test_staff_see_the_dispute_on_the_purchase_and_the_organisation(client, admin_user, org,
                                                                    paid):
    deliver("charge.dispute.created", dispute_object(paid))
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    purchase_page = client.get(f"/admin/billing/purchase/{paid.pk}/change/").content.decode()
    org_page = client.get(f"/admin/accounts/organization/{org.pk}/change/").content.decode()
    accounts_list = client.get("/admin/billing/creditaccount/").content.decode()
    for page in (purchase_page, org_page):
        assert "dp_1" in page and "Open" in page
    assert "1 open" in accounts_list
    assert client.get("/admin/billing/dispute/?q=acme&status__exact=open").status_code == 200


def test_purchase_status_is_untouched_by_a_dispute(paid):
    deliver("charge.dispute.created", dispute_object(paid))
    paid.refresh_from_db()
    assert paid.status == PurchaseStatus.PAID and paid.credits_disputed == Decimal("5500")


# -- deterministic: what is recorded, taken and given back --------------------------------

def test_a_status_stripe_never_sends_is_refused_with_the_dispute_named(org, paid):
    with pytest.raises(ValueError) as refused:
        apply_dispute(dispute=dispute_object(paid, status="weird"))
    assert str(refused.value) == "dispute dp_1: unknown status 'weird'"


def test_a_dispute_is_dated_closed_only_once_stripe_decides_it(org, paid):
    assert apply_dispute(dispute=dispute_object(paid)).closed_at is None
    closed = apply_dispute(dispute=dispute_object(paid, status="lost"))
    assert closed.closed_at is not None
    assert apply_dispute(dispute=dispute_object(paid, status="lost")).closed_at == closed.closed_at


def test_a_charge_we_did_not_record_is_named_by_the_dispute(org, paid):
    # Found by its PaymentIntent: the row never learnt its charge id, the dispute names it.
    Purchase.objects.filter(pk=paid.pk).update(stripe_charge_id="")
    record = apply_dispute(dispute={**dispute_object(paid), "charge": "ch_from_the_dispute"})
    assert (record.purchase, record.charge_id) == (paid, "ch_from_the_dispute")


def test_the_dispute_is_recorded_as_stripe_sent_it(org, paid):
    Purchase.objects.filter(pk=paid.pk).update(stripe_charge_id="ch_9")
    dispute = {**dispute_object(paid), "charge": {"id": "ch_9", "object": "charge"},
               "payment_intent": None, "currency": "USD", "reason": "r" * 150}
    record = apply_dispute(dispute=dispute)  # found by its charge alone
    assert (record.purchase, record.charge_id, record.amount_minor, record.currency,
            record.reason) == (paid, "ch_9", 4500, "usd", "r" * 100)
    taken = record.taken_entry
    assert taken.reason == "Dispute of 45.00 USD on Growth"
    assert taken.metadata == {"purchase_id": paid.pk, "dispute": "dp_1"}
    assert taken.idempotency_key == "dispute:dp_1" and taken.actor_label == "system:stripe-dispute"


def test_a_dispute_without_currency_or_reason_takes_the_purchases_and_none(paid):
    dispute = {k: v for k, v in dispute_object(paid).items() if k not in ("currency", "reason")}
    record = apply_dispute(dispute=dispute)
    assert (record.currency, record.reason) == ("usd", "")


def test_a_dispute_without_an_amount_takes_nothing(org, paid):
    dispute = {k: v for k, v in dispute_object(paid).items() if k != "amount"}
    record = apply_dispute(dispute=dispute)
    assert (record.amount_minor, record.credits_taken, record.taken_entry) == (0, 0, None)
    assert balance(org) == Decimal("5500") and not entries(org, kind=EntryKind.DISPUTE)


def test_the_purchases_own_grants_are_taken_first(org, paid):
    promotional = grant(org, 100, kind=GrantKind.PROMOTIONAL).grant  # burns first otherwise
    apply_dispute(dispute=dispute_object(paid, amount=900))  # 1,100 credits
    promotional.refresh_from_db()
    paid.paid_grant.refresh_from_db()
    assert promotional.remaining == 100 and paid.paid_grant.remaining == Decimal("3900")


def test_won_gives_back_to_the_grants_it_took_from_and_links_the_entries(org, paid):
    bonus = paid.bonus_grant
    apply_dispute(dispute=dispute_object(paid))
    record = apply_dispute(dispute=dispute_object(paid, status="won"))
    record.refresh_from_db()
    paid.refresh_from_db()
    restored = record.restored_entry
    assert restored is not None and restored.reverses == record.taken_entry
    assert (restored.kind, restored.amount) == (EntryKind.DISPUTE, Decimal("5500"))
    assert restored.metadata == {"purchase_id": paid.pk, "dispute": "dp_1"}
    assert restored.reason == "Dispute dp_1 won"
    assert record.closed_at is not None and record.status == DisputeStatus.WON
    assert paid.credits_disputed == 0
    for g in (paid.paid_grant, bonus):
        g.refresh_from_db()
        assert g.remaining == g.amount  # back where they were, no new grant
    assert entries(org).count() == 4
    assert_ledger_ok(org)


def test_less_than_a_credit_is_taken_and_given_back_to_its_grant(org, admin_user):
    tiny = CreditPackage.objects.create(name="Tiny", base_credits=Decimal("1"),
                                        price_minor=1000, currency="usd")
    purchase = pending_purchase(org, tiny, admin_user)
    fulfilment.fulfil_checkout_session(session=session_object(purchase))
    purchase.refresh_from_db()
    record = apply_dispute(dispute=dispute_object(purchase, amount=500))
    assert record.credits_taken == Decimal("0.5") and balance(org) == Decimal("0.5")
    apply_dispute(dispute=dispute_object(purchase, amount=500, status="won"))
    purchase.paid_grant.refresh_from_db()
    assert purchase.paid_grant.remaining == 1 and balance(org) == 1
    assert_ledger_ok(org)


def test_a_second_dispute_takes_only_what_is_left(org, paid):
    first = apply_dispute(dispute=dispute_object(paid, amount=3000))
    second = apply_dispute(dispute=dispute_object(paid, dispute_id="dp_2",
                                                          amount=3000))
    paid.refresh_from_db()
    assert first.credits_taken == Decimal("3666.666667")
    assert second.credits_taken == Decimal("5500") - first.credits_taken
    assert paid.credits_disputed == Decimal("5500") and balance(org) == 0
    assert_ledger_ok(org)


def test_refunded_credits_are_not_disputed_again(org, paid):
    refunded = charge_object(paid, amount_refunded=2250)
    refund = webhooks.process_event(event("charge.refunded", refunded))
    assert refund.status == 200, refund.message
    record = apply_dispute(dispute=dispute_object(paid))
    assert record.credits_taken == Decimal("2750") and balance(org) == 0
    full = apply_dispute(dispute=dispute_object(paid, dispute_id="dp_2"))
    assert (full.credits_taken, full.taken_entry) == (0, None)  # nothing left to take
    assert_ledger_ok(org)


def test_a_dispute_before_its_payment_was_fulfilled_is_refused(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    Purchase.objects.filter(pk=purchase.pk).update(stripe_payment_intent_id=f"pi_{purchase.pk}")
    with pytest.raises(ChargeNotGrantedYet) as caught:
        apply_dispute(dispute=dispute_object(purchase))
    assert str(caught.value) == (f"dispute of Growth #{purchase.pk} arrived before its "
                                 "payment was granted")
    assert not Dispute.objects.exists()


# -- the whole life of a dispute: inquiries, appeals, amounts, topups ---------------------

def test_an_inquiry_takes_nothing_until_funds_are_withdrawn(org, paid):
    """Finding 10: during an inquiry (warning_*) Stripe withdraws no funds."""
    deliver("charge.dispute.created", dispute_object(paid, status="warning_needs_response"))
    assert balance(org) == Decimal("5500")
    assert Dispute.objects.get().status == DisputeStatus.INQUIRY
    deliver("charge.dispute.updated", dispute_object(paid, status="needs_response"))
    assert balance(org) == 0
    assert_ledger_ok(org)


def test_an_inquiry_closed_takes_nothing_and_is_settled(org, paid):
    deliver("charge.dispute.created", dispute_object(paid, status="warning_needs_response"))
    deliver("charge.dispute.closed", dispute_object(paid, status="warning_closed"))
    assert balance(org) == Decimal("5500") and not entries(org, kind=EntryKind.DISPUTE)
    assert Dispute.objects.get().status == DisputeStatus.CLOSED


def test_a_dispute_won_on_appeal_gives_the_credits_back(org, paid):
    """Finding 4: created, closed lost, appealed, won: the credits come back once."""
    deliver("charge.dispute.created", dispute_object(paid))
    deliver("charge.dispute.closed", dispute_object(paid, status="lost"))
    assert balance(org) == 0
    deliver("charge.dispute.updated", dispute_object(paid, status="appeal_under_review"))
    assert balance(org) == 0 and Dispute.objects.get().status == DisputeStatus.APPEAL
    deliver("charge.dispute.closed", dispute_object(paid, status="won"))
    deliver("charge.dispute.funds_reinstated", dispute_object(paid, status="won"))
    assert balance(org) == Decimal("5500")
    assert Dispute.objects.get().status == DisputeStatus.WON
    assert entries(org, kind=EntryKind.DISPUTE).count() == 2
    assert_ledger_ok(org)


@pytest.mark.parametrize("refunded_minor, kept", [(4500, Decimal("0")), (2250, Decimal("2750"))])
def test_a_refund_made_while_the_dispute_held_the_credits_stays_refunded_when_it_is_won(
        org, paid, refunded_minor, kept):
    """A refund while the dispute held every credit took nothing; the money still went back,
    so winning the dispute gives back only the unrefunded share, and the rest is booked as
    the refund's own entry (counters and ledger agree)."""
    deliver("charge.dispute.created", dispute_object(paid, status="appeal_needs_response"))
    deliver("charge.refunded", charge_object(paid, amount_refunded=refunded_minor))
    assert balance(org) == 0 and not entries(org, kind=EntryKind.REFUND)
    deliver("charge.dispute.closed", dispute_object(paid, status="won"))
    paid.refresh_from_db()
    assert balance(org) == kept
    assert (paid.credits_disputed, paid.credits_refunded) == (0, Decimal("5500") - kept)
    [refund_entry] = entries(org, kind=EntryKind.REFUND)
    assert refund_entry.amount == kept - Decimal("5500")
    assert refund_entry.idempotency_key == "dispute-won-refunded:dp_1"
    assert refund_entry.metadata["dispute"] == "dp_1"  # the dispute it accounts for
    assert refund_entry.reason.endswith(", made while dispute dp_1 held its credits")
    # The refund itself posted no entry: this one shows the charge's refunded total.
    assert (refund_entry.metadata["amount_refunded_total"], refund_entry.metadata["currency"]) \
        == (f"{refunded_minor / 100:.2f}", "usd")
    assert entries(org, kind=EntryKind.DISPUTE).count() == 2
    assert_ledger_ok(org)


def test_a_refund_before_the_dispute_leaves_the_won_dispute_giving_all_it_took(org, paid):
    deliver("charge.refunded", charge_object(paid, amount_refunded=2250))
    deliver("charge.dispute.created", dispute_object(paid))
    deliver("charge.dispute.closed", dispute_object(paid, status="won"))
    paid.refresh_from_db()
    assert balance(org) == Decimal("2750") and paid.credits_refunded == Decimal("2750")
    assert entries(org, kind=EntryKind.REFUND).count() == 1
    assert_ledger_ok(org)


def test_a_late_earlier_status_changes_nothing(org, paid):
    deliver("charge.dispute.closed", dispute_object(paid, status="won"))
    deliver("charge.dispute.funds_withdrawn", dispute_object(paid, status="needs_response"))
    assert balance(org) == Decimal("5500") and not entries(org, kind=EntryKind.DISPUTE)


def test_a_dispute_in_another_currency_never_takes_more_than_the_charge_granted(org, paid):
    """Finding 5: 4,200 EUR disputed on a 4,500 USD purchase is not 4,200/4,500 of it: the
    amounts are not comparable, so the charge's whole grant (5,500), and never more."""
    deliver("charge.dispute.created", {**dispute_object(paid, amount=4200), "currency": "eur"})
    record = Dispute.objects.get()
    assert record.credits_taken == Decimal("5500") and balance(org) == 0
    assert_ledger_ok(org)


def test_a_dispute_larger_than_the_charge_takes_only_what_it_granted(org, paid):
    deliver("charge.dispute.created", dispute_object(paid, amount=9000))
    assert Dispute.objects.get().credits_taken == Decimal("5500") and balance(org) == 0


def test_an_unknown_dispute_status_is_an_error_for_a_retry(org, paid):
    result = webhooks.process_event(event("charge.dispute.created",
                                          dispute_object(paid, status="something_new")))
    assert result.status == 500 and balance(org) == Decimal("5500")


def topup_dispute(attempt, *, dispute_id="dp_t1", status="needs_response", amount=None):
    return {"id": dispute_id, "object": "dispute", "charge": attempt.stripe_charge_id,
            "payment_intent": attempt.payment_intent_id, "amount": amount or attempt.amount_minor,
            "currency": attempt.currency, "reason": "fraudulent", "status": status}


def test_a_disputed_topup_takes_its_credits_back_and_won_gives_them_back(org, credited_topup):
    """Finding 1: a topup's charge is disputed like a purchase's."""
    attempt = credited_topup
    deliver("charge.dispute.created", topup_dispute(attempt))
    assert balance(org) == Decimal("500")
    record = Dispute.objects.get()
    assert (record.topup_attempt, record.purchase) == (attempt, None)
    assert record.taken_entry.metadata == {"topup_attempt_id": attempt.pk, "dispute": "dp_t1"}
    deliver("charge.dispute.closed", topup_dispute(attempt, status="won"))
    assert balance(org) == Decimal("6000")
    assert_ledger_ok(org)


@pytest.mark.long
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.permutations(["refund_half", "refund_all", "dispute", "won", "refund_failed"]),
       redeliver=st.booleans())
def test_a_topup_refunded_disputed_and_won_in_any_order_takes_and_gives_once(
        package, stripe_stub, steps, redeliver):
    """Each step once (or twice: a redelivery) in any order: what stays taken is what is
    refunded at the end, the dispute's take and give-back happen at most once each, and
    the ledger verifies after every step."""
    from tests.billing.stripe_stub import topup_charge_object

    suffix = next(_ids)
    org = make_org(f"topup-{suffix}")
    make_member(org, f"admin-{suffix}@example.test", "admin")
    attempt = credit_a_topup(org, package)
    dispute_id, refund_id = f"dp_s{suffix}", f"re_s{suffix}"
    objects = {
        "refund_half": ("charge.refunded", topup_charge_object(attempt, amount_refunded=2250)),
        "refund_all": ("charge.refunded", topup_charge_object(attempt, amount_refunded=4500)),
        "dispute": ("charge.dispute.created", topup_dispute(attempt, dispute_id=dispute_id)),
        "won": ("charge.dispute.closed", topup_dispute(attempt, dispute_id=dispute_id,
                                                       status="won")),
        "refund_failed": ("refund.failed", {
            "id": refund_id, "object": "refund", "amount": 2250, "status": "failed",
            "charge": attempt.stripe_charge_id, "payment_intent": attempt.payment_intent_id}),
    }
    start = balance(org)
    for step in steps:
        for _ in range(2 if redeliver else 1):
            kind, obj = objects[step]
            deliver(kind, obj, event_id=f"evt_{suffix}_{step}")
            assert_ledger_ok(org)
    attempt.refresh_from_db()
    disputes = entries(org, kind=EntryKind.DISPUTE, metadata__dispute=dispute_id)
    assert disputes.count() in (0, 2)  # never taken (won first), or taken and given back
    assert attempt.credits_disputed == 0
    assert balance(org) == start - attempt.credits_refunded
    if attempt.amount_refunded_minor >= 4500:  # refunded in full: nothing of it is kept
        assert attempt.credits_refunded == attempt.credits
    assert 0 <= attempt.credits_refunded <= attempt.credits
