"""Every accounts portal URL (and the dashboard) is scoped to the user's memberships.

Another org's slug or object is a 404, admin-only writes are a 403 for members,
anonymous visitors go to the login page, and none of those writes anything.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from accounts.models import ApiKey, Membership, Organization, Role, SettingsChange
from accounts.services import create_api_key
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def world(org, other_org, admin_user, member_user, other_admin):
    """Two orgs, each with an admin, a member and an API key."""
    other_member = make_member(other_org, "member@globex.test", Role.MEMBER)
    return {
        "a": org,
        "b": other_org,
        "a_member": Membership.objects.get(user=member_user, organization=org),
        "a_admin": Membership.objects.get(user=admin_user, organization=org),
        "b_member": Membership.objects.get(user=other_member, organization=other_org),
        "b_admin": Membership.objects.get(user=other_admin, organization=other_org),
        "a_key": create_api_key(organization=org, name="a key", created_by=admin_user).api_key,
        "b_key": create_api_key(organization=other_org, name="b key", created_by=other_admin)
        .api_key,
    }


def snapshot():
    """Everything these views could change."""
    return {
        "users": sorted(User.objects.values_list("email", "password")),
        "orgs": Organization.objects.count(),
        "memberships": sorted(
            Membership.objects.values_list("user__email", "organization__slug", "role")
        ),
        "keys": sorted(ApiKey.objects.values_list("id", "name", "revoked_at")),
        "changes": SettingsChange.objects.count(),
        "mail": len(mail.outbox),
    }


# (url name, HTTP method, data, object the URL points at): object keys refer to `world`,
# with "{org}" filled in per test. Every portal URL of accounts plus the dashboard.
PORTAL_URLS = [
    ("members", "get", None, None),
    ("members", "post", {"email": "new@example.test", "role": "admin"}, None),
    ("change_role", "post", {"role": "admin"}, "{org}_member"),
    ("change_role", "post", {"role": "member"}, "{org}_admin"),
    ("remove_member", "post", {}, "{org}_member"),
    ("remove_member", "post", {}, "{org}_admin"),
    ("api_keys", "get", None, None),
    ("api_keys", "post", {"name": "stolen"}, None),
    ("revoke_api_key", "post", {}, "{org}_key"),
    ("settings_history", "get", None, None),
    ("dashboard", "get", None, None),
]


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


@pytest.mark.parametrize(("who", "status"), [("admin_client", 404), ("member_client", 403)])
@pytest.mark.parametrize(ARGS, params(lambda url: url[3]))
def test_other_orgs_object_under_own_slug_is_refused(
    request, world, who, status, name, method, data, obj
):
    """Even an admin of A gets a 404 for B's members or keys through A's URLs (a member of A
    is stopped earlier: these are admin-only writes)."""
    client = request.getfixturevalue(who)
    before = snapshot()
    response = send(client, method, url_for(world, name, "a", obj, "b"), data)
    assert response.status_code == status
    assert snapshot() == before


@pytest.mark.parametrize(ARGS, params(lambda url: url[1] == "post"))
def test_member_gets_403_for_every_admin_only_post(member_client, world, name, method, data, obj):
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


@pytest.mark.parametrize("page", ["members", "api_keys", "settings_history", "dashboard"])
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


def test_switch_to_other_org_is_404(member_client, world):
    response = member_client.get(reverse("switch_org"), {"org": world["b"].slug})
    assert response.status_code == 404


def test_switch_org_anonymous_is_sent_to_login(client, world):
    url = reverse("switch_org")
    response = client.get(url, {"org": "acme"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_unknown_slug_is_404(admin_client, world):
    assert admin_client.get(reverse("members", args=["no-such-org"])).status_code == 404
