"""manage.py seed_demo: the demo org and its two logins, idempotent."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import Membership, Organization, Plan, Role, User
from tests.accounts.row_counts import row_counts

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--force", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_refused_with_debug_off_unless_forced():
    """The suite runs with DEBUG off, as production does: staff logins with a known
    password must not appear there by accident."""
    counts = row_counts()
    with pytest.raises(CommandError, match="refused with DEBUG off"):
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert row_counts() == counts
    assert not User.objects.filter(email="demo@example.com").exists()
    # The demo (make run) has DEBUG on: no --force needed there.
    with override_settings(DEBUG=True):
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert Organization.objects.filter(slug="acme").exists()


def logs_in(email: str, password: str) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": email, "password": password},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=["acme"]), email
    assert "Acme Robotics" in response.content.decode()
    return client


def test_seeds_the_demo_org_and_is_idempotent():
    out = seed()
    assert "organisation and logins: created" in out
    assert "credit history: added the welcome and goodwill grants" in out
    assert "added 3 starter packages; added one paid test purchase (Growth)" in out
    assert "usage history: added " in out and "already there" not in out
    assert "Demo organisation ready: Acme Robotics" in out and "Nothing was added" not in out
    assert "demo@example.com / demo" in out and "member@example.com / demo" in out
    org = Organization.objects.get(slug="acme")
    assert (org.name, org.plan) == ("Acme Robotics", Plan.PROFESSIONAL)
    roles = dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))
    assert roles == {"demo@example.com": Role.ADMIN, "member@example.com": Role.MEMBER}
    assert User.objects.get(email="demo@example.com").is_staff
    assert not User.objects.get(email="member@example.com").is_staff

    counts = row_counts()
    again = seed()
    assert row_counts() == counts
    # A re-run says, part by part, that it found everything and added nothing.
    for part in ("organisation and logins", "credit history", "usage history"):
        assert f"{part}: already there" in again, part
    assert "the starter packages already there; the paid test purchase already there" in again
    assert "auto-topup: the saved card already there" in again
    assert "Nothing was added: Acme Robotics was already seeded." in again
    assert "Demo organisation ready" not in again and "added 3" not in again

    admin = logs_in("demo@example.com", "demo")
    assert "Send invitation" in admin.get(reverse("members", args=["acme"])).content.decode()
    member = logs_in("member@example.com", "demo")
    assert "Send invitation" not in member.get(reverse("members", args=["acme"])).content.decode()

