"""The org switcher in the header, for people in several orgs."""

import pytest
from django.urls import reverse

from accounts.models import Role, User
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_org_client(client, org, other_org, member_user):
    make_member(other_org, "member@acme.test", Role.ADMIN)  # the same person, admin there
    client.force_login(member_user)
    return client


def test_switcher_lists_both_orgs(two_org_client, org, other_org):
    body = two_org_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    assert 'id="org-switch"' in body
    assert '<option value="acme" selected>Acme</option>' in body
    assert '<option value="globex">Globex</option>' in body


def test_switch_and_remember(two_org_client, org, other_org):
    response = two_org_client.get(reverse("switch_org"), {"org": "globex"}, follow=True)
    assert response.redirect_chain == [(reverse("dashboard", args=["globex"]), 302)]
    body = response.content.decode()
    assert '<span class="org-name">Globex</span>' in body
    assert '<option value="globex" selected>Globex</option>' in body
    # Home goes to the org chosen last.
    response = two_org_client.get(reverse("home"))
    assert response.url == reverse("dashboard", args=["globex"])
    two_org_client.get(reverse("members", args=["acme"]))
    assert two_org_client.get(reverse("home")).url == reverse("dashboard", args=["acme"])


def test_roles_are_per_org(two_org_client, org, other_org):
    acme = two_org_client.get(reverse("members", args=["acme"])).content.decode()
    globex = two_org_client.get(reverse("members", args=["globex"])).content.decode()
    assert "Send invitation" not in acme and "Send invitation" in globex


@pytest.mark.parametrize("slug", ["globex", "no-such-org", ""])
def test_switching_to_an_org_you_are_not_in_is_404(member_client, other_org, slug):
    response = member_client.get(reverse("switch_org"), {"org": slug})
    assert response.status_code == 404


def test_no_switcher_with_one_org(member_client, org, other_org):
    body = member_client.get(reverse("dashboard", args=[org.slug])).content.decode()
    assert 'id="org-switch"' not in body and "Globex" not in body


def test_switch_is_get_only(two_org_client):
    assert two_org_client.post(reverse("switch_org"), {"org": "globex"}).status_code == 405


def test_someone_in_no_org_sees_a_notice(client, db):
    client.force_login(User.objects.create_user("alone@example.test", "pw-123456"))
    body = client.get(reverse("home")).content.decode()
    assert "You are not in any organisation yet" in body
    assert 'data-testid="admin-link"' not in body


def test_staff_in_no_org_get_a_link_to_the_admin(client, db):
    client.force_login(User.objects.create_user("ops@example.test", "pw-123456", is_staff=True))
    body = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("admin:index")}" data-testid="admin-link"' in body
    assert "Ask an administrator" not in body


def test_login_lands_on_the_org_used_last_never_the_first_by_name(client, org, member_user):
    """Issue 26: an org named "<Globex" sorted first and caught its members' next login."""
    from accounts.models import Organization

    bait = Organization.objects.create(name="<Globex", slug="bait")
    make_member(bait, "member@acme.test", Role.MEMBER)  # joined after acme

    def login_lands_on():
        browser = client_class()
        response = browser.post(
            reverse("login"), {"username": "member@acme.test", "password": "pw-123456"}
        )
        return browser, browser.get(response.url).url

    client_class = type(client)
    browser, landing = login_lands_on()
    assert landing == reverse("dashboard", args=["acme"])  # first joined, not first by name
    browser.get(reverse("dashboard", args=["bait"]))  # used last: a new login lands there
    assert login_lands_on()[1] == reverse("dashboard", args=["bait"])
    browser.get(reverse("members", args=["acme"]))
    assert login_lands_on()[1] == reverse("dashboard", args=["acme"])
