"""The entry detail: what drove an entry, in words finance reads; scoped to the org."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.ledger.corrections import reverse_entry
from billing.models import LedgerEntry
from billing.payments.local_provider import local_checkout_session
from billing.purchases.fulfilment import fulfil_checkout_session
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import SYSTEM, consume, grant
from tests.billing.purchase_fixtures import pending_purchase
from tests.billing.usage_fixtures import ai_event, api_key_for, funded, gpu_event, seed_prices

pytestmark = pytest.mark.django_db


def detail(client, org, entry_id):
    return client.get(reverse("entry_detail", args=[org.slug, entry_id]))


def test_member_sees_the_entry_with_grants_actor_and_reason(member_client, org):
    g = grant(org, 10).grant
    entry = consume(org, 4, key="usage:1").entry
    response = detail(member_client, org, entry.pk)
    assert response.status_code == 200
    body = response.content.decode()
    assert f"#{g.pk}" in body and "system:tests" in body and "test usage" in body
    assert "\u22124.000000 credits" in body  # the detail keeps all six places


def test_a_usage_charge_explains_its_price(member_client, org):
    seed_prices()
    funded(org)
    key = api_key_for(org).api_key
    record_usage(organization=org, api_key=key, events=[
        ai_event("a", operation="chat", user="ana@acme.test", input_tokens=1200,
                 cached_input_tokens=200, output_tokens=300)])
    entry = LedgerEntry.objects.get(account__organization=org, kind="usage")
    body = detail(member_client, org, entry.pk).content.decode()
    for words in ("1,000 input tokens", "200 cached input tokens", "300 output tokens",
                  "per million tokens", ">2.50 USD<", ">1.25 USD<", ">0.0025 USD<",
                  "data-testid=\"markup\">1.2<",
                  "data-testid=\"credit-rate\">100<", "operation \u201cchat\u201d",
                  "for ana@acme.test", "API key \u201ctests\u201d"):
        assert words in body, words
    # 1,000 x 2.5 + 200 x 1.25 + 300 x 10 per million = $0.00575 -> x1.2 x100 = 0.69
    # Money as every other page writes it, with its code, unrounded here.
    assert 'data-testid="cost-usd">0.00575 USD<' in body and "$" not in body
    assert 'data-testid="usage-credits">0.690000<' in body


def test_a_charge_of_many_meter_events_shows_each_quantity_in_its_unit(member_client, org):
    seed_prices()
    funded(org, 10**6)
    record_usage(organization=org, events=[gpu_event("a", quantity="1000"),
                                           gpu_event("b", quantity="1500.25")])
    entry = LedgerEntry.objects.get(account__organization=org, kind="usage")
    body = detail(member_client, org, entry.pk).content.decode()
    # Grouped and as written: Decimal.normalize() showed 1000 as "1E+3".
    assert ">1,000 GPU second<" in body and ">1,500.25 GPU second<" in body
    assert "E+" not in body


def test_a_purchase_shows_its_stripe_ids_and_its_reversal(member_client, org, package,
                                                         admin_user):
    purchase = pending_purchase(org, package, admin_user, provider="test")
    fulfil_checkout_session(session=local_checkout_session(purchase))
    purchase.refresh_from_db()
    body = detail(member_client, org, purchase.entry_id).content.decode()
    assert purchase.stripe_checkout_session_id in body and f"pi_local_{purchase.pk}" in body
    assert "Growth" in body and "45.00 USD" in body
    adjustment = grant(org, 3).entry
    reversal = reverse_entry(entry=adjustment, reason="typo", actor=SYSTEM).entry
    body = detail(member_client, org, adjustment.pk).content.decode()
    assert f"entry #{reversal.pk}" in body and "Reversed by" in body
    body = detail(member_client, org, reversal.pk).content.decode()
    assert f"entry #{adjustment.pk}" in body and "Reverses" in body


def test_queries_are_a_fixed_few(member_client, org):
    grant(org, 10)
    entry = consume(org, 4, key="usage:1").entry
    with CaptureQueriesContext(connection) as queries:
        detail(member_client, org, entry.pk)
    assert len(queries) <= 16, [q["sql"][:80] for q in queries.captured_queries]


def test_other_orgs_entry_is_404(member_client, org, other_org):
    grant(other_org, 10)
    foreign = consume(other_org, 1, key="usage:x").entry
    assert detail(member_client, org, foreign.pk).status_code == 404
    assert detail(member_client, other_org, foreign.pk).status_code == 404


def test_a_meter_charge_reads_in_its_unit(member_client, org):
    seed_prices()
    funded(org)
    record_usage(organization=org, events=[gpu_event("g", quantity="1590.50")])
    entry = LedgerEntry.objects.get(account__organization=org, kind="usage")
    body = detail(member_client, org, entry.pk).content.decode()
    assert "1,590.5 \u00d7 GPU second on meter" in body and "per GPU second" in body


def test_a_charge_of_many_events_lists_them(member_client, org, monkeypatch):
    seed_prices()
    funded(org)
    record_usage(organization=org, events=[
        ai_event("first-key", operation="chat"), gpu_event("second-key", quantity="2"),
        ai_event("third-key", user="bo@acme.test")])
    entry = LedgerEntry.objects.get(account__organization=org, kind="usage")
    body = detail(member_client, org, entry.pk).content.decode()
    assert "What was used: 3 events" in body and 'data-testid="charge-events"' in body
    for words in ("first-key", "second-key", "third-key", "2 GPU second", "bo@acme.test"):
        assert words in body, words
    assert 'data-testid="usage-facts"' not in body  # one event's pricing: not for a charge
    monkeypatch.setattr("reporting.transactions.detail.EVENT_ROWS", 2)
    with CaptureQueriesContext(connection) as queries:
        body = detail(member_client, org, entry.pk).content.decode()
    assert "third-key" not in body and "The first 2 are listed" in body
    assert len(queries) <= 16, [q["sql"][:80] for q in queries.captured_queries]
