"""/o/<slug>/auto-topup/: the settings form (admins change, members read), its history."""

from decimal import Decimal

import pytest

from billing.models import AutoTopupSettings, TopupMode
from billing.topups import cards

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(org):
    return cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")


def url(org):
    return f"/o/{org.slug}/auto-topup/"


def form(package, **extra):
    return {"enabled": "on", "threshold": "1000", "package": package.pk, "mode": "target",
            "target_balance": "20000", "monthly_cap": "200.00", **extra}


def test_the_form_has_the_contract_field_names(admin_client, org, card):
    page = admin_client.get(url(org)).content.decode()
    for name in ("enabled", "threshold", "package", "mode", "target_balance", "monthly_cap"):
        assert f'name="{name}"' in page
    assert "Visa ending 4242" in page


def test_an_admin_saves_the_settings_and_the_history_records_it(admin_client, org, card,
                                                                package):
    response = admin_client.post(url(org), form(package))

    assert response.status_code == 302
    row = AutoTopupSettings.objects.get(organization=org)
    assert row.enabled and row.mode == TopupMode.TARGET
    assert (row.threshold, row.target_balance, row.monthly_cap_minor) == (
        Decimal("1000"), Decimal("20000"), 20000)
    change = org.settings_changes.get(action="settings_changed")
    assert "on, threshold 1,000.00" in change.summary and "200.00 USD" in change.summary
    assert change.actor_label == "admin@acme.test"
    page = admin_client.get(url(org)).content.decode()
    assert 'value="200.00"' in page
    # Credits read as typed, not as stored: no six-place tails in the inputs.
    assert 'value="1000"' in page and 'value="20000"' in page and ".000000" not in page


def test_a_threshold_with_decimals_keeps_them(admin_client, org, card, package):
    admin_client.post(url(org), form(package, threshold="1499.25"))
    assert 'value="1499.25"' in admin_client.get(url(org)).content.decode()


@pytest.mark.parametrize("bad, message", [
    ({"mode": "target", "target_balance": ""}, "needs a target balance"),
    ({"target_balance": "500"}, "must be above the threshold"),
    ({"monthly_cap": "10"}, "below the price of one package"),
    ({"threshold": "-1"}, "greater than or equal to 0"),
    ({"monthly_cap": "1.001"}, "more decimals than the currency"),
])
def test_bad_settings_are_refused_and_change_nothing(admin_client, org, card, package, bad,
                                                     message):
    response = admin_client.post(url(org), form(package, **bad))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AutoTopupSettings.objects.filter(organization=org).exists()


def test_a_missing_target_is_reported_at_its_field(admin_client, org, card, package):
    response = admin_client.post(url(org), form(package, target_balance=""))
    assert response.context["form"].errors == {
        "target_balance": ["Target mode needs a target balance."]}


def test_the_cap_names_its_currency(admin_client, org, card, package):
    page = admin_client.get(url(org)).content.decode()
    assert f"Monthly spend cap ({package.currency.upper()})" in page


def test_it_cannot_be_turned_on_without_a_card(admin_client, org, package):
    response = admin_client.post(url(org), form(package))
    assert "Save a card first" in response.content.decode()
    assert not AutoTopupSettings.objects.filter(organization=org).exists()


def test_members_see_it_read_only_and_cannot_change_it(member_client, org, card, package):
    page = member_client.get(url(org)).content.decode()
    assert 'name="threshold"' in page and "disabled" in page
    assert "Only admins" in page
    assert member_client.post(url(org), form(package)).status_code == 403
    assert not AutoTopupSettings.objects.filter(organization=org).exists()


def test_another_orgs_page_is_a_404(admin_client, other_org):
    assert admin_client.get(url(other_org)).status_code == 404
