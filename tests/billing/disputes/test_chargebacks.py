"""Disputes: created takes the disputed share back (into debt if spent), won gives it back,
lost keeps it taken; once each, whatever the order and number of deliveries."""

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.disputes.chargebacks import apply_dispute_closed, apply_dispute_created
from billing.models import (
    CreditPackage,
    Dispute,
    DisputeStatus,
    EntryKind,
    GrantKind,
    Purchase,
    PurchaseStatus,
)
from billing.purchases import fulfilment
from billing.purchases.errors import PurchaseError
from billing.webhooks import dispatcher as webhooks
from tests.billing.postings import consume, grant
from tests.billing.purchase_fixtures import assert_ledger_ok, balance, entries, pending_purchase
from tests.billing.stripe_stub import charge_object, event, session_object

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

def test_the_dispute_is_recorded_as_stripe_sent_it(org, paid):
    Purchase.objects.filter(pk=paid.pk).update(stripe_charge_id="ch_9")
    dispute = {**dispute_object(paid), "charge": {"id": "ch_9", "object": "charge"},
               "payment_intent": None, "currency": "USD", "reason": "r" * 150}
    record = apply_dispute_created(dispute=dispute)  # found by its charge alone
    assert (record.purchase, record.charge_id, record.amount_minor, record.currency,
            record.reason) == (paid, "ch_9", 4500, "usd", "r" * 100)
    taken = record.taken_entry
    assert taken.reason == "Dispute of 45.00 USD on Growth"
    assert taken.metadata == {"purchase_id": paid.pk, "dispute": "dp_1"}
    assert taken.idempotency_key == "dispute:dp_1" and taken.actor_label == "system:stripe-dispute"


def test_a_dispute_without_currency_or_reason_takes_the_purchases_and_none(paid):
    dispute = {k: v for k, v in dispute_object(paid).items() if k not in ("currency", "reason")}
    record = apply_dispute_created(dispute=dispute)
    assert (record.currency, record.reason) == ("usd", "")


def test_a_dispute_without_an_amount_takes_nothing(org, paid):
    dispute = {k: v for k, v in dispute_object(paid).items() if k != "amount"}
    record = apply_dispute_created(dispute=dispute)
    assert (record.amount_minor, record.credits_taken, record.taken_entry) == (0, 0, None)
    assert balance(org) == Decimal("5500") and not entries(org, kind=EntryKind.DISPUTE)


def test_the_purchases_own_grants_are_taken_first(org, paid):
    promotional = grant(org, 100, kind=GrantKind.PROMOTIONAL).grant  # burns first otherwise
    apply_dispute_created(dispute=dispute_object(paid, amount=900))  # 1,100 credits
    promotional.refresh_from_db()
    paid.paid_grant.refresh_from_db()
    assert promotional.remaining == 100 and paid.paid_grant.remaining == Decimal("3900")


def test_won_gives_back_to_the_grants_it_took_from_and_links_the_entries(org, paid):
    bonus = paid.bonus_grant
    apply_dispute_created(dispute=dispute_object(paid))
    record = apply_dispute_closed(dispute=dispute_object(paid, status="won"))
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
    record = apply_dispute_created(dispute=dispute_object(purchase, amount=500))
    assert record.credits_taken == Decimal("0.5") and balance(org) == Decimal("0.5")
    apply_dispute_closed(dispute=dispute_object(purchase, amount=500, status="won"))
    purchase.paid_grant.refresh_from_db()
    assert purchase.paid_grant.remaining == 1 and balance(org) == 1
    assert_ledger_ok(org)


def test_a_second_dispute_takes_only_what_is_left(org, paid):
    first = apply_dispute_created(dispute=dispute_object(paid, amount=3000))
    second = apply_dispute_created(dispute=dispute_object(paid, dispute_id="dp_2",
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
    record = apply_dispute_created(dispute=dispute_object(paid))
    assert record.credits_taken == Decimal("2750") and balance(org) == 0
    full = apply_dispute_created(dispute=dispute_object(paid, dispute_id="dp_2"))
    assert (full.credits_taken, full.taken_entry) == (0, None)  # nothing left to take
    assert_ledger_ok(org)


def test_a_dispute_before_its_payment_was_fulfilled_is_refused(org, admin_user, package):
    purchase = pending_purchase(org, package, admin_user)
    Purchase.objects.filter(pk=purchase.pk).update(stripe_payment_intent_id=f"pi_{purchase.pk}")
    with pytest.raises(PurchaseError) as caught:
        apply_dispute_created(dispute=dispute_object(purchase))
    assert str(caught.value) == (f"dispute of purchase {purchase.pk} arrived before its "
                                 "payment was fulfilled")
    assert not Dispute.objects.exists()
