"""Staff's monthly usage across organisations, linked from the admin."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import User
from tests.billing.usage_fixtures import AI_CREDITS, GPU_CREDITS
from tests.reporting.usage_data import march_usage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, db):
    """Staff holding the reports' own permission (docs/operate.md, "Staff permissions")."""
    staff = User.objects.create_user("staff@ops.test", "pw-123456", is_staff=True)
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="reporting", codename="view_all_orgs")
    )
    client.force_login(staff)
    return client


@pytest.fixture
def bare_staff_client(client, db):
    client.force_login(User.objects.create_user("bare@ops.test", "pw-123456", is_staff=True))
    return client


def test_all_orgs_then_one(staff_client, org, other_org):
    march_usage(org)
    march_usage(other_org, prices=False)
    url = reverse("staff_monthly_summary")
    everyone = staff_client.get(url, {"year": 2026, "month": 3}).context["summary"]
    assert everyone.totals["credits"] == 2 * (2 * AI_CREDITS + GPU_CREDITS)
    assert {r["organization__slug"] for r in everyone.by_org} == {"acme", "globex"}
    one = staff_client.get(url, {"year": 2026, "month": 3, "org": "globex"}).context["summary"]
    assert one.totals["credits"] == 2 * AI_CREDITS + GPU_CREDITS and one.by_org == []


def test_csv_across_orgs_lists_each_org(staff_client, org, other_org):
    march_usage(org)
    response = staff_client.get(reverse("staff_monthly_summary_csv"), {"year": 2026, "month": 3})
    found = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["name"] for r in found if r["section"] == "organization"} == {"acme"}


@pytest.mark.parametrize("name", ["staff_monthly_summary", "staff_monthly_summary_csv"])
def test_members_and_org_admins_are_not_staff(admin_client, name):
    response = admin_client.get(reverse(name))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_admin_index_links_to_it(staff_client):
    User.objects.filter(email="staff@ops.test").update(is_superuser=True)
    body = staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("staff_monthly_summary") in body


@pytest.mark.parametrize("name", ["staff_monthly_summary", "staff_monthly_summary_csv"])
def test_staff_without_the_permission_get_403(bare_staff_client, org, name):
    march_usage(org)
    response = bare_staff_client.get(reverse(name), {"year": 2026, "month": 3})
    assert response.status_code == 403
    assert b"acme" not in response.content


def test_the_admin_index_hides_the_link_without_the_permission(bare_staff_client):
    body = bare_staff_client.get(reverse("admin:index")).content.decode()
    assert reverse("staff_monthly_summary") not in body
