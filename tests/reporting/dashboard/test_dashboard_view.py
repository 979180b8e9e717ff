import pytest
from django.urls import reverse

from billing.ledger.corrections import adjust_credits
from tests.billing.postings import SYSTEM, D, consume, grant

pytestmark = pytest.mark.django_db


def test_balance_in_header_and_latest_entries(member_client, org):
    grant(org, "1234.5")
    consume(org, "0.5", key="usage:1")
    response = member_client.get(reverse("dashboard", args=[org.slug]))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="header-balance"' in body and "1,234.00" in body
    assert "Usage" in body and "−0.50" in body


def test_debt_is_shown_in_the_header(member_client, org):
    adjust_credits(organization=org, credits=D(-25), reason="chargeback", actor=SYSTEM)
    body = member_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    assert "Debt <strong>25.00</strong>" in body
    assert "owes 25.00 credits" in body
