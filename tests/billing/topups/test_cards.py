"""The saved card: from a paid Checkout purchase, from a setup-mode session, removed."""

import pytest

from billing.models import SavedCard
from billing.purchases import checkout
from billing.topups import cards
from tests.billing.purchase_fixtures import pending_purchase, post_event
from tests.billing.stripe_stub import event, session_object
from tests.pages import main_content

pytestmark = pytest.mark.django_db


def card_method(pm_id="pm_saved_1", last4="4242"):
    return {"id": pm_id, "object": "payment_method", "type": "card",
            "card": {"brand": "visa", "last4": last4, "exp_month": 8, "exp_year": 2031,
                     "number": "never stored"}}


def test_the_card_of_a_paid_checkout_is_saved(client, org, admin_user, package, stripe_stub):
    purchase = pending_purchase(org, package, admin_user)
    session = session_object(purchase)
    stripe_stub.set_session(purchase.stripe_checkout_session_id, **{
        **session, "payment_intent": {"id": f"pi_{purchase.pk}",
                                      "payment_method": card_method()}})

    assert post_event(client, event("checkout.session.completed", session)).status_code == 200

    card = SavedCard.objects.get(organization=org)
    assert (card.payment_method_id, card.brand, card.last4, card.expiry) == (
        "pm_saved_1", "visa", "4242", "08/2031")
    assert card.customer_id == "cus_stub_1"
    assert not hasattr(card, "number")
    assert org.settings_changes.filter(area="auto_topup", action="card_saved").count() == 1


def test_an_admin_adds_a_card_through_checkout_in_setup_mode(admin_client, org, stripe_stub):
    response = admin_client.post(f"/o/{org.slug}/auto-topup/card/")

    assert response.status_code == 302
    [create] = [r for r in stripe_stub.requests_to("POST", "/v1/checkout/sessions")]
    assert create.form["mode"] == "setup" and create.form["metadata[organization]"] == org.slug
    session_id = response["Location"].rsplit("/", 1)[1]
    stripe_stub.set_session(session_id, status="complete",
                            setup_intent={"id": "seti_1", "payment_method": card_method(
                                "pm_setup", "1881")})

    done = admin_client.get(f"/o/{org.slug}/auto-topup/card/done/?session_id={session_id}")

    assert done.status_code == 302
    assert SavedCard.objects.get(organization=org).last4 == "1881"


def test_the_setup_session_webhook_replaces_the_card(client, org, stripe_stub):
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    session = {"id": "cs_setup_9", "object": "checkout.session", "mode": "setup",
               "status": "complete", "customer": "cus_9",
               "metadata": {"organization": org.slug, "purpose": "auto_topup_card"},
               "setup_intent": "seti_9"}
    stripe_stub.set_session("cs_setup_9", **{**session, "setup_intent": {
        "id": "seti_9", "payment_method": card_method("pm_new", "5555")}})

    assert post_event(client, event("checkout.session.completed", session)).status_code == 200

    card = SavedCard.objects.get(organization=org)
    assert (card.payment_method_id, card.last4, card.provider) == ("pm_new", "5555", "stripe")


def test_an_admin_removes_the_card(admin_client, org, stripe_stub):
    cards.save_card(organization=org, provider="stripe", payment_method=card_method())

    assert admin_client.post(f"/o/{org.slug}/auto-topup/card/remove/").status_code == 302

    assert not SavedCard.objects.filter(organization=org).exists()
    assert stripe_stub.requests_to("POST", "/v1/payment_methods/pm_saved_1/detach")
    assert org.settings_changes.filter(action="card_removed").exists()


def test_removing_the_card_asks_on_a_page_first_and_the_page_alone_changes_nothing(
        admin_client, org):
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    url = f"/o/{org.slug}/auto-topup/card/remove/"
    listing = admin_client.get(f"/o/{org.slug}/auto-topup/").content.decode()
    assert f'href="{url}"' in listing and f'action="{url}"' not in listing

    page = admin_client.get(url)

    assert page.status_code == 200
    body = page.content.decode()
    assert "Remove visa ending 4242?" in body and "Auto-topup cannot charge" in body
    assert f'<form method="post" action="{url}">' in body
    assert f'href="/o/{org.slug}/auto-topup/">Cancel</a>' in body
    assert "<script" not in main_content(body)
    assert SavedCard.objects.filter(organization=org).exists()
    assert not org.settings_changes.filter(action="card_removed").exists()


def test_without_a_card_the_removal_question_leads_back(admin_client, org):
    response = admin_client.get(f"/o/{org.slug}/auto-topup/card/remove/")
    assert response.status_code == 302 and response.url == f"/o/{org.slug}/auto-topup/"


def test_a_member_cannot_add_or_remove_a_card(member_client, org):
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    assert member_client.get(f"/o/{org.slug}/auto-topup/card/remove/").status_code == 403
    assert member_client.post(f"/o/{org.slug}/auto-topup/card/").status_code == 403
    assert member_client.post(f"/o/{org.slug}/auto-topup/card/remove/").status_code == 403
    assert SavedCard.objects.filter(organization=org).exists()


def test_the_test_checkout_saves_the_chosen_test_card(admin_client, org, admin_user, package):
    purchase = checkout.start_purchase(organization=org, package=package, buyer=admin_user,
                                        provider="test")
    page = admin_client.get(f"/o/{org.slug}/purchases/{purchase.pk}/test-checkout/")
    assert b'data-testid="card-declined"' in page.content

    admin_client.post(f"/o/{org.slug}/purchases/{purchase.pk}/test-checkout/",
                      {"pay": "1", "card": "pm_local_visa_declined"})

    card = SavedCard.objects.get(organization=org)
    assert (card.provider, card.last4) == ("test", "0002")


def test_the_test_card_page_replaces_the_card(admin_client, org):
    admin_client.post(f"/o/{org.slug}/auto-topup/card/")  # test mode: the local page
    response = admin_client.post(f"/o/{org.slug}/auto-topup/card/test/",
                                 {"card": "pm_local_visa_ok"})
    assert response.status_code == 302
    assert SavedCard.objects.get(organization=org).last4 == "4242"
    assert admin_client.post(f"/o/{org.slug}/auto-topup/card/test/",
                             {"card": "4111111111111111"}).status_code == 200
    assert SavedCard.objects.get(organization=org).payment_method_id == "pm_local_visa_ok"


def test_another_products_setup_session_is_ignored(client, org, stripe_stub):
    session = {"id": "cs_setup_x", "object": "checkout.session", "mode": "setup",
               "status": "complete", "metadata": {"organization": org.slug},
               "setup_intent": "seti_x"}
    stripe_stub.set_session("cs_setup_x", **{**session, "setup_intent": {
        "id": "seti_x", "payment_method": card_method("pm_foreign", "6666")}})

    assert post_event(client, event("checkout.session.completed", session)).status_code == 200

    assert not SavedCard.objects.filter(organization=org).exists()


@pytest.mark.parametrize("status", [500, 429])
def test_a_session_whose_card_cannot_be_fetched_is_finished_by_the_redelivery(
        client, org, admin_user, package, stripe_stub, status):
    """Finding 8: the expansion call fails (Stripe does not answer): the event is not
    marked processed and answers 500; Stripe's redelivery saves the card (and, for a paid
    session, grants once)."""
    from billing.models import StripeEvent
    from tests.billing.purchase_fixtures import balance

    setup = {"id": "cs_setup_f", "object": "checkout.session", "mode": "setup",
             "status": "complete", "customer": "cus_f",
             "metadata": {"organization": org.slug, "purpose": "auto_topup_card"},
             "setup_intent": "seti_f"}
    stripe_stub.set_session("cs_setup_f", **{**setup, "setup_intent": {
        "id": "seti_f", "payment_method": card_method("pm_f", "7777")}})
    purchase = pending_purchase(org, package, admin_user)
    paid = session_object(purchase)
    stripe_stub.set_session(purchase.stripe_checkout_session_id, **{
        **paid, "payment_intent": {"id": f"pi_{purchase.pk}",
                                   "payment_method": card_method("pm_p", "8888")}})
    for session, card_id in ((setup, "pm_f"), (paid, "pm_p")):
        delivered = event("checkout.session.completed", session)
        stripe_stub.fail(status, "api_error")
        assert post_event(client, delivered).status_code == 500
        stored = StripeEvent.objects.get(event_id=delivered["id"])
        assert stored.processed_at is None and stored.last_error
        assert not SavedCard.objects.filter(organization=org).exists()
        assert balance(org) == 0
        assert post_event(client, delivered).status_code == 200  # Stripe's redelivery
        assert SavedCard.objects.get(organization=org).payment_method_id == card_id
        SavedCard.objects.filter(organization=org).delete()
    assert balance(org) == 5500
