"""GET /api/v1/balance."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Plan
from billing.ledger.corrections import adjust_credits
from billing.usage.ingestion.record import record_usage
from tests.billing.postings import SYSTEM
from tests.billing.usage_fixtures import api_key_for, funded, gpu_event, seed_prices
from tests.conftest import make_org

pytestmark = pytest.mark.django_db
URL = "/api/v1/balance"


def get(client, key):
    return client.get(URL, headers={"Authorization": f"Bearer {key.raw_key}"})


def test_a_fresh_org(client, org):
    response = get(client, api_key_for(org))
    assert response.status_code == 200
    assert response.json() == {
        "organization": "acme", "balance": "0.000000", "in_debt": False, "low_balance": False,
        "alert_levels": {"warning": None, "critical": None},
        "auto_topup": {"enabled": False}, "runway_days": None, "budgets": [],
    }


def test_runway_from_the_last_seven_days_of_usage(client, org):
    seed_prices()
    funded(org, 100)
    now = timezone.now()
    # 7.23 credits a day over the 7 days, today included; an older day does not count.
    events = [gpu_event(f"d{i}", occurred_at=(now - timedelta(days=i)).isoformat())
              for i in range(8)]
    record_usage(organization=org, events=events, now=now)
    body = get(client, api_key_for(org)).json()
    balance = Decimal(100) - 8 * Decimal("7.23")
    assert body["balance"] == f"{balance:.6f}"
    # 42.16 / (7 x 7.23 / 7) = 5.83... -> rounded down to one decimal
    assert body["runway_days"] == "5.8"


def test_debt(client, org):
    seed_prices()
    funded(org, 10)
    record_usage(organization=org, events=[gpu_event("a")])
    adjust_credits(organization=org, credits=Decimal(-20), reason="chargeback", actor=SYSTEM)
    body = get(client, api_key_for(org)).json()
    assert body["in_debt"] is True and body["balance"].startswith("-")
    assert body["runway_days"] == "0.0"


def test_refusals(client, org):
    assert client.get(URL).status_code == 401
    assert client.get(URL).json()["error"]["code"] == "unauthenticated"
    free_key = api_key_for(make_org("freebie", plan=Plan.FREE))
    response = get(client, free_key)
    assert response.status_code == 403 and response.json()["error"]["code"] == "plan_not_eligible"
    key = api_key_for(org)
    response = client.post(URL, headers={"Authorization": f"Bearer {key.raw_key}"})
    assert response.status_code == 405


def test_levels_low_balance_and_auto_topup_settings(client, org, admin_user, package):
    from billing.alerts.services import update_levels
    from billing.topups import cards, configuration

    funded(org, 300)
    update_levels(organization=org, warning_level=Decimal("500"),
                  critical_level=Decimal("100"), actor=admin_user)
    cards.save_test_card(organization=org, payment_method_id="pm_local_visa_ok")
    configuration.update_settings(organization=org, actor=admin_user,
                                  choice=configuration.TopupChoice(
                                      enabled=True, threshold=Decimal("250"), package=package,
                                      mode="target", target_balance=Decimal("10000"),
                                      monthly_cap_minor=20000))

    key = api_key_for(org)
    get(client, key)  # the first use of a key records it (last_used)
    with CaptureQueriesContext(connection) as queries:
        body = get(client, key).json()

    # The key, then one query for the balance, burn, alert levels and auto-topup settings.
    assert len(queries) == 2, [q["sql"] for q in queries.captured_queries]
    assert body["low_balance"] is True
    assert body["alert_levels"] == {"warning": "500.000000", "critical": "100.000000"}
    assert body["auto_topup"] == {
        "enabled": True, "threshold": "250.000000", "package": "Growth", "mode": "target",
        "target_balance": "10000.000000", "monthly_cap": "200.00", "currency": "usd",
        "disabled_reason": None,
    }


def test_settings_read_in_one_statement_match_the_orm_reads(client, org):
    """The raw snapshot builds the same settings the ORM selectors read: a row turned
    off by failures, without a package, and levels with only a warning."""
    from billing.alerts import selectors as alert_selectors
    from billing.models import AlertSettings, AutoTopupSettings
    from billing.topups import configuration
    from billing.topups import selectors as topup_selectors

    funded(org, 40)
    AlertSettings.objects.create(organization=org, warning_level=Decimal("50.5"))
    AutoTopupSettings.objects.create(organization=org, enabled=False, threshold=Decimal("7.25"),
                                     disabled_reason="card declined three times")
    body = get(client, api_key_for(org)).json()

    levels = alert_selectors.levels_of(org)
    assert body["alert_levels"] == {"warning": "50.500000", "critical": None}
    assert body["low_balance"] is bool(alert_selectors.is_low(levels, Decimal(40)))
    assert body["auto_topup"] == topup_selectors.for_api(configuration.settings_of(org))
    assert body["auto_topup"]["disabled_reason"] == "card declined three times"
    assert body["auto_topup"]["package"] is None
