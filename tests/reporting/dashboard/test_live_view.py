"""GET /o/<slug>/live/: the header's balance, the banners and (asked by the dashboard) its
cards, as the page renders them; scoped to the user's orgs, never cached, a few queries."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.ledger.corrections import adjust_credits
from billing.models import AlertSettings
from tests.billing.postings import SYSTEM, D, consume, grant

pytestmark = pytest.mark.django_db


def live(client, org, **params):
    return client.get(reverse("live", args=[org.slug]), params)


def test_the_header_balance_is_the_pages_own_markup(member_client, org):
    grant(org, "1234.567891")
    body = live(member_client, org).content.decode()
    page = member_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    start = page.index('<span class="balance')
    assert page[start:page.index("</span>", start) + 7] in body
    assert "<strong>1,234.57</strong>" in body and 'data-live="header-balance"' in body


def test_it_follows_the_ledger_between_two_requests(member_client, org):
    grant(org, "100")
    assert "<strong>100.00</strong>" in live(member_client, org).content.decode()
    consume(org, "40.5", key="usage:1")
    assert "<strong>59.50</strong>" in live(member_client, org).content.decode()


def test_the_low_balance_banner_comes_and_goes(member_client, org):
    AlertSettings.objects.create(organization=org, warning_level=Decimal("50"))
    grant(org, "100")
    before = live(member_client, org).content.decode()
    assert 'data-live="banners"' in before and "banner-low-balance-warning" not in before
    consume(org, "60", key="usage:1")
    body = live(member_client, org).content.decode()
    assert 'data-live="banners"' in body and 'data-testid="banner-low-balance-warning"' in body


def test_a_debt_shows_in_the_header_and_its_banner(member_client, org):
    adjust_credits(organization=org, credits=D(-25), reason="chargeback", actor=SYSTEM)
    body = live(member_client, org).content.decode()
    assert "Debt <strong>25.00</strong>" in body and "owes 25.00 credits" in body


def test_the_dashboard_cards_only_when_asked(member_client, org):
    grant(org, "1234.567891")
    assert 'data-live="dashboard"' not in live(member_client, org).content.decode()
    body = live(member_client, org, part="dashboard").content.decode()
    assert 'data-live="dashboard"' in body
    assert 'data-testid="dashboard-balance">1,234.57<' in body
    assert 'data-testid="month-spend"' in body and "<polyline" in body


def test_an_unknown_part_is_refused_naming_the_field(member_client, org):
    response = live(member_client, org, part="everything")
    assert response.status_code == 400
    assert "part must be" in response.content.decode()


def test_never_cached(member_client, org):
    response = live(member_client, org)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/html")


def test_another_orgs_fragment_is_a_404(member_client, other_org):
    assert live(member_client, other_org).status_code == 404


def test_anonymous_is_sent_to_log_in(client, org):
    response = live(client, org)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_writes_are_refused(admin_client, org):
    assert admin_client.post(reverse("live", args=[org.slug])).status_code == 405


def queries_of(client, org, params) -> int:
    live(client, org, **params)  # the session and the last organisation settle first
    with CaptureQueriesContext(connection) as queries:
        assert live(client, org, **params).status_code == 200
    return len(queries)


# Four of them are the session, the user and the user's two kinds of second-factor device.
@pytest.mark.parametrize(("params", "most"), [({}, 9), ({"part": "dashboard"}, 15)])
def test_a_few_queries_the_same_at_any_volume(member_client, org, params, most):
    grant(org, "100")
    consume(org, "1", key="usage:0")
    few = queries_of(member_client, org, params)
    for n in range(1, 40):
        consume(org, "1", key=f"usage:{n}")
    assert queries_of(member_client, org, params) == few <= most
