"""manage.py create_starter_packages: the starter set in one command, never overwriting staff's
edits, and sold on the portal's packages page."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from billing.models import CreditPackage
from tests.accounts.row_counts import row_counts

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("create_starter_packages", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_creates_the_starter_set_once_and_keeps_staff_edits(admin_user):
    out = run()
    assert out.splitlines() == [
        "Created Starter: 1,000.00 credits for 10.00 USD",
        "Created Growth: 5,500.00 credits for 45.00 USD",
        "Created Scale: 24,000.00 credits for 160.00 USD",
    ]
    growth = CreditPackage.objects.get(name="Growth")
    assert (growth.base_credits, growth.bonus_credits, growth.active) == (
        Decimal("5000"), Decimal("500"), True)

    CreditPackage.objects.filter(name="Growth").update(price_minor=3900)
    counts = row_counts()
    out = run()
    assert row_counts() == counts
    assert "Kept (exists; edit it in the admin) Growth: 5,500.00 credits for 39.00 USD" in out
    assert CreditPackage.objects.get(name="Growth").price_minor == 3900

    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("packages", args=[admin_user.memberships.get().organization.slug]))
    assert page.status_code == 200
    assert all(name in page.content.decode() for name in ("Starter", "Growth", "Scale"))


def test_currency_is_chosen_once_and_checked():
    run("--currency", "EUR")
    assert set(CreditPackage.objects.values_list("currency", flat=True)) == {"eur"}


def test_bad_currency_changes_nothing():
    counts = row_counts()
    with pytest.raises(CommandError, match="three-letter ISO code"):
        run("--currency", "euro")
    assert row_counts() == counts
