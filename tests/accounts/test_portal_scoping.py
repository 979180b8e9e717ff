"""Every portal URL (accounts, billing and reporting) is scoped to the user's memberships.

Both organisations have admins, members, API keys, ledger entries and purchases.
Another org's slug or object is a 404, admin-only pages are a 403 for members,
anonymous visitors go to the login page, and none of those writes anything.
test_every_portal_url_is_in_the_scoping_test keeps the list complete.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from accounts.invitations import invite_member
from accounts.models import ApiKey, Invitation, Membership, Organization, Role, SettingsChange
from accounts.services import create_api_key
from billing.models import CreditPackage, LedgerEntry, Purchase, UsageEvent
from billing.purchases import checkout
from tests.billing.postings import grant
from tests.conftest import make_member, make_org
from tests.kept_rows import rows_kept_for_these_tests

pytestmark = pytest.mark.django_db

User = get_user_model()


def build_world():
    """Two orgs, each with an admin, a member and an API key."""
    org, other_org = make_org("acme"), make_org("globex")
    admin_user = make_member(org, "admin@acme.test", Role.ADMIN)
    member_user = make_member(org, "member@acme.test", Role.MEMBER)
    other_admin = make_member(other_org, "admin@globex.test", Role.ADMIN)
    other_member = make_member(other_org, "member@globex.test", Role.MEMBER)
    package = CreditPackage.objects.create(name="Starter", base_credits=100, price_minor=1000)

    def purchase(org, buyer, provider):
        bought = checkout._create_pending(organization=org, package=package, buyer=buyer,
                                          provider=provider)
        bought.stripe_checkout_session_id = f"cs_{provider}_{bought.pk}"
        bought.save()
        return bought

    return {
        "package": package,
        "a_entry": grant(org, 10).entry,
        "b_entry": grant(other_org, 10).entry,
        "a_purchase": purchase(org, admin_user, "stripe"),
        "b_purchase": purchase(other_org, other_admin, "stripe"),
        "a_test_purchase": purchase(org, admin_user, "test"),
        "b_test_purchase": purchase(other_org, other_admin, "test"),
        "a": org,
        "b": other_org,
        "a_member": Membership.objects.get(user=member_user, organization=org),
        "a_admin": Membership.objects.get(user=admin_user, organization=org),
        "b_member": Membership.objects.get(user=other_member, organization=other_org),
        "b_admin": Membership.objects.get(user=other_admin, organization=other_org),
        "a_key": create_api_key(organization=org, name="a key", created_by=admin_user).api_key,
        "b_key": create_api_key(organization=other_org, name="b key", created_by=other_admin)
        .api_key,
        "a_invitation": invite_member(organization=org, email="new@acme.test", role="member",
                                      invited_by=admin_user),
        "b_invitation": invite_member(organization=other_org, email="new@globex.test",
                                      role="member", invited_by=other_admin),
    }


@pytest.fixture(scope="module")
def kept_world(django_db_setup, django_db_blocker):
    """The world built once for the module's ~190 tests: each changes nothing it keeps (the
    tests check that), and what a test writes is rolled back with its own savepoint."""
    built = {}
    with rows_kept_for_these_tests(django_db_blocker, lambda: built.update(build_world())):
        yield built


@pytest.fixture
def world(kept_world, db):
    return kept_world


# The shared fixtures the clients log in with, taken from the kept world.
@pytest.fixture
def org(world):
    return world["a"]


@pytest.fixture
def admin_user(world):
    return world["a_admin"].user


@pytest.fixture
def member_user(world):
    return world["a_member"].user


def snapshot():
    """Everything these views could change."""
    return {
        "users": sorted(User.objects.values_list("email", "password")),
        "orgs": Organization.objects.count(),
        "memberships": sorted(
            Membership.objects.values_list("user__email", "organization__slug", "role")
        ),
        "keys": sorted(ApiKey.objects.values_list("id", "name", "revoked_at")),
        "invitations": sorted(Invitation.objects.values_list("id", "email", "status")),
        "changes": SettingsChange.objects.count(),
        "mail": len(mail.outbox),
        "entries": sorted(LedgerEntry.objects.values_list("id", "account_id", "amount")),
        "purchases": sorted(Purchase.objects.values_list("id", "organization_id", "status")),
        "usage": UsageEvent.objects.count(),
    }


# (url name, HTTP method, data, object the URL points at): object keys refer to `world`,
# with "{org}" filled in per test. Every portal URL of accounts, billing and reporting.
PORTAL_URLS = [
    ("members", "get", None, None),
    ("members", "post", {"email": "new@example.test", "role": "admin"}, None),
    ("change_role", "post", {"role": "admin"}, "{org}_member"),
    ("change_role", "post", {"role": "member"}, "{org}_admin"),
    ("remove_member", "get", None, "{org}_member"),
    ("remove_member", "post", {}, "{org}_member"),
    ("remove_member", "post", {}, "{org}_admin"),
    ("withdraw_invitation", "get", None, "{org}_invitation"),
    ("withdraw_invitation", "post", {}, "{org}_invitation"),
    ("api_keys", "get", None, None),
    ("api_keys", "post", {"name": "stolen"}, None),
    ("revoke_api_key", "get", None, "{org}_key"),
    ("revoke_api_key", "post", {}, "{org}_key"),
    ("settings_history", "get", None, None),
    ("dashboard", "get", None, None),
    ("entry_detail", "get", None, "{org}_entry"),
    ("packages", "get", None, None),
    ("buy_package", "post", {}, "package"),
    ("purchases", "get", None, None),
    ("purchase_success", "get", None, "{org}_purchase"),
    ("purchase_cancel", "get", None, "{org}_purchase"),
    ("test_checkout", "get", None, "{org}_test_purchase"),
    ("test_checkout", "post", {"pay": "1"}, "{org}_test_purchase"),
    ("test_checkout", "post", {"cancel": "1"}, "{org}_test_purchase"),
    ("usage", "get", None, None),
    ("transactions", "get", None, None),
    ("transactions_csv", "get", None, None),
    ("monthly_summary", "get", None, None),
    ("monthly_summary_csv", "get", None, None),
    ("auto_topup", "get", None, None),
    ("auto_topup", "post", {"enabled": "on"}, None),
    ("card_setup", "post", {}, None),
    ("card_setup_done", "get", None, None),
    ("card_remove", "get", None, None),
    ("card_remove", "post", {}, None),
    ("test_card_setup", "get", None, None),
    ("test_card_setup", "post", {}, None),
    ("alerts", "get", None, None),
    ("alerts", "post", {}, None),
    ("budgets", "get", None, None),
    ("budgets", "post", {}, None),
    ("live", "get", None, None),
]
# The confirmation pages of destructive actions are admins' too.
ADMIN_ONLY_GETS = {"test_checkout", "card_setup_done", "test_card_setup", "remove_member",
                   "withdraw_invitation", "revoke_api_key", "card_remove"}


def admin_only(url):
    return url[1] == "post" or url[0] in ADMIN_ONLY_GETS


def test_every_portal_url_is_in_the_scoping_test():
    from django.urls import get_resolver

    org_urls = {name for name, patterns in get_resolver().reverse_dict.lists()
                if isinstance(name, str) and any("slug" in p[0][0][1] for p in patterns)}
    assert org_urls == {url[0] for url in PORTAL_URLS}


def params(keep=lambda url: True):
    return [
        pytest.param(*url, id="-".join(filter(None, [url[0], url[1], url[3]])))
        for url in PORTAL_URLS
        if keep(url)
    ]


ARGS = ("name", "method", "data", "obj")


def url_for(world, name, slug_org, obj_template, obj_org):
    args = [world[slug_org].slug]
    if obj_template:
        args.append(world[obj_template.format(org=obj_org)].pk)
    return reverse(name, args=args)


def send(client, method, url, data):
    return client.post(url, data) if method == "post" else client.get(url)


@pytest.mark.parametrize("who", ["admin_client", "member_client"])
@pytest.mark.parametrize(ARGS, params())
def test_other_orgs_slug_is_404(request, world, who, name, method, data, obj):
    client = request.getfixturevalue(who)
    before = snapshot()
    response = send(client, method, url_for(world, name, "b", obj, "b"), data)
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("who", ["admin_client", "member_client"])
@pytest.mark.parametrize(ARGS, params(lambda url: url[3] and "{org}" in url[3]))
def test_other_orgs_object_under_own_slug_is_refused(request, world, who, name, method, data,
                                                      obj):
    """Even an admin of A gets a 404 for B's members, keys, entries or purchases through A's
    URLs (a member of A is stopped earlier at admin-only pages, with a 403)."""
    client = request.getfixturevalue(who)
    status = 403 if who == "member_client" and admin_only((name, method)) else 404
    before = snapshot()
    response = send(client, method, url_for(world, name, "a", obj, "b"), data)
    assert response.status_code == status
    assert snapshot() == before


@pytest.mark.parametrize(ARGS, params(admin_only))
def test_member_gets_403_for_every_admin_only_page(member_client, world, name, method, data, obj):
    before = snapshot()
    response = send(member_client, method, url_for(world, name, "a", obj, "a"), data)
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize(ARGS, params())
def test_anonymous_is_sent_to_login(client, world, name, method, data, obj):
    url = url_for(world, name, "a", obj, "a")
    before = snapshot()
    response = send(client, method, url, data)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    assert snapshot() == before


@pytest.mark.parametrize("page", ["members", "api_keys", "settings_history", "dashboard",
                                  "packages", "purchases", "usage"])
def test_member_reads_own_org_pages(member_client, world, page):
    response = member_client.get(reverse(page, args=[world["a"].slug]))
    assert response.status_code == 200
    assert world["a"].name in response.content.decode()
    assert world["b"].name not in response.content.decode()


def test_member_pages_offer_no_admin_forms(member_client, world):
    members = member_client.get(reverse("members", args=["acme"])).content.decode()
    keys = member_client.get(reverse("api_keys", args=["acme"])).content.decode()
    assert "Send invitation" not in members and "Change role" not in members
    assert "Only admins can" in members
    assert "Create key" not in keys and "Revoke" not in keys


def test_lists_show_only_own_org(admin_client, world):
    members = admin_client.get(reverse("members", args=["acme"])).content.decode()
    keys = admin_client.get(reverse("api_keys", args=["acme"])).content.decode()
    history = admin_client.get(reverse("settings_history", args=["acme"])).content.decode()
    assert "member@acme.test" in members and "globex.test" not in members
    assert "a key" in keys and "b key" not in keys
    assert "a key" in history and "b key" not in history


def test_billing_pages_show_only_own_org(admin_client, world):
    purchases = admin_client.get(reverse("purchases", args=["acme"])).content.decode()
    assert f'"purchase-{world["a_purchase"].pk}"' in purchases
    assert f'"purchase-{world["b_purchase"].pk}"' not in purchases
    dashboard = admin_client.get(reverse("dashboard", args=["acme"])).content.decode()
    entry_url = reverse("entry_detail", args=["acme", world["a_entry"].pk])
    assert entry_url in dashboard
    assert f"/entries/{world['b_entry'].pk}/" not in dashboard


def test_switch_to_other_org_is_404(member_client, world):
    response = member_client.get(reverse("switch_org"), {"org": world["b"].slug})
    assert response.status_code == 404


def test_switch_org_anonymous_is_sent_to_login(client, world):
    url = reverse("switch_org")
    response = client.get(url, {"org": "acme"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_unknown_slug_is_404(admin_client, world):
    assert admin_client.get(reverse("members", args=["no-such-org"])).status_code == 404
