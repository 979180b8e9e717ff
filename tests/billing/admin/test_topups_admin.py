"""Staff admin: auto-topup settings and alert levels changed through the same services (so
the settings history records them); attempts, cards and notifications read only."""

from decimal import Decimal

import pytest

from billing.models import AlertSettings, AutoTopupSettings, TopupAttempt
from billing.topups import cards

pytestmark = pytest.mark.django_db


def topup_form(org, package, **extra):
    return {"organization": org.pk, "enabled": "on", "threshold": "1000",
            "package": package.pk, "mode": "fixed", "target_balance": "",
            "monthly_cap_minor": "", **extra}


def test_staff_turn_auto_topup_on_and_the_history_records_it(staff_client, org, package):
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")

    response = staff_client.post("/admin/billing/autotopupsettings/add/",
                                 topup_form(org, package))

    assert response.status_code == 302
    row = AutoTopupSettings.objects.get(organization=org)
    assert row.enabled and row.threshold == Decimal("1000")
    change = org.settings_changes.get(action="settings_changed")
    assert change.actor_label == "admin@acme.test"


def test_staff_are_refused_what_the_portal_refuses(staff_client, org, package):
    response = staff_client.post("/admin/billing/autotopupsettings/add/",
                                 topup_form(org, package))  # no card saved
    assert response.status_code == 200
    assert "Save a card first" in response.content.decode()
    assert not AutoTopupSettings.objects.exists()


def test_staff_set_alert_levels(staff_client, org):
    response = staff_client.post("/admin/billing/alertsettings/add/", {
        "organization": org.pk, "warning_level": "500", "critical_level": "100"})
    assert response.status_code == 302
    assert AlertSettings.objects.get(organization=org).warning_level == Decimal("500")
    assert org.settings_changes.filter(area="alerts").exists()


def test_attempts_are_read_only(staff_client):
    assert staff_client.get("/admin/billing/topupattempt/").status_code == 200
    assert staff_client.get("/admin/billing/topupattempt/add/").status_code == 403
    assert not TopupAttempt.objects.exists()
