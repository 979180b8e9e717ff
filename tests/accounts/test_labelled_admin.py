"""The admin's rows of inputs are named after their column and row: a list's editable
columns (credit packages) and a tabular inline (an organisation's members)."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from billing.models import CreditPackage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(User.objects.create_superuser("root@example.test", "pw-123456"))
    return client


def test_a_lists_editable_columns_are_labelled_per_row(staff_client):
    CreditPackage.objects.create(name="Starter", base_credits=Decimal("1000"),
                                 price_minor=1000, currency="usd", sort_order=10)
    html = staff_client.get(reverse("admin:billing_creditpackage_changelist")).content.decode()
    assert 'aria-label="Active: Starter"' in html
    assert 'aria-label="Sort order: Starter"' in html


def test_an_inlines_inputs_and_delete_box_are_labelled_per_row(staff_client, org, member_user):
    html = staff_client.get(
        reverse("admin:accounts_organization_change", args=[org.pk])).content.decode()
    row = str(member_user.memberships.get())
    assert f'aria-label="Role: {row}"' in html
    assert f'aria-label="Delete: {row}"' in html


def test_a_split_date_and_time_puts_each_input_in_its_label(staff_client, org):
    html = staff_client.get(
        reverse("admin:accounts_organization_change", args=[org.pk])).content.decode()
    assert '<label class="split-part">Date: <input' in html
    assert '<label class="split-part">Time: <input' in html
