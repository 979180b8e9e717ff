"""row_counts, which the refused-run tests lean on, sees a row written to any table."""

import pytest
from django.apps import apps

from accounts.models import Organization
from tests.accounts.row_counts import row_counts

pytestmark = pytest.mark.django_db


def test_a_new_row_shows_in_its_models_count(org):
    before = row_counts()
    Organization.objects.create(slug="initech", name="Initech")
    after = row_counts()
    assert after["accounts.Organization"] == before["accounts.Organization"] + 1
    assert after != before and set(after) == set(before)


def test_every_managed_model_is_counted():
    counted = set(row_counts())
    assert counted == {m._meta.label for m in apps.get_models() if m._meta.managed}
    assert {"billing.LedgerEntry", "billing.UsageEvent", "accounts.Membership"} <= counted
