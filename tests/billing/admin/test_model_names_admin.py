"""Staff edit match rules in the admin and test which model a name resolves to."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import User
from billing.models import AIModel, AIProvider

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("staff@example.com", "pw-123456"))
    return client


@pytest.fixture
def acme():
    AIProvider.objects.create(slug="acme", model_match={"starts_with": "acme-"})
    return AIModel.objects.create(provider="acme", name="acme-one",
                                  match_rule={"starts_with": "acme-one"})


def resolve(client, name, provider=""):
    return client.get(reverse("admin:billing_aimodel_resolve"),
                      {"name": name, "provider": provider})


def test_the_tester_names_the_model_and_the_step(staff_client, acme):
    response = resolve(staff_client, "ACME-one-2026-01-01")
    assert response.status_code == 200
    assert response.context["answer"].model == acme
    assert "match rule" in response.content.decode()
    assert reverse("admin:billing_aimodel_change", args=[acme.pk]) in response.content.decode()


def test_the_tester_says_why_a_name_is_refused(staff_client, acme):
    response = resolve(staff_client, "acme-one", provider="nobody")
    assert "unknown provider &#x27;nobody&#x27;" in response.content.decode()
    assert response.context["answer"] is None


def test_the_changelist_links_to_the_tester(staff_client, acme):
    response = staff_client.get(reverse("admin:billing_aimodel_changelist"))
    assert reverse("admin:billing_aimodel_resolve") in response.content.decode()


def test_a_rule_edited_in_the_admin_resolves_at_once(staff_client, acme):
    url = reverse("admin:billing_aimodel_change", args=[acme.pk])
    response = staff_client.post(url, {
        "display_name": "", "active": "on", "position": 0,
        "match_rule": '{"or": [{"equals": "acme-one"}, {"regex": "^one-acme-\\\\d+$"}]}',
        "prices-TOTAL_FORMS": 0, "prices-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert resolve(staff_client, "one-acme-7").context["answer"].model == acme


@pytest.mark.parametrize(("rule", "message"), [
    ('{"regex": "("}', "does not compile"),
    ('{"starts": "x"}', "unknown clause"),
    ('{"or": []}', "non-empty list"),
    ('["gpt-4o"]', "exactly one of"),
])
def test_a_malformed_rule_is_refused_beside_the_field(staff_client, acme, rule, message):
    response = staff_client.post(reverse("admin:billing_aimodel_change", args=[acme.pk]), {
        "display_name": "", "active": "on", "position": 0, "match_rule": rule,
        "prices-TOTAL_FORMS": 0, "prices-INITIAL_FORMS": 0,
    })
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["match_rule"])
    acme.refresh_from_db()
    assert acme.match_rule == {"starts_with": "acme-one"}


def test_a_provider_rule_is_checked_too(staff_client, acme):
    provider = AIProvider.objects.get(slug="acme")
    response = staff_client.post(reverse("admin:billing_aiprovider_change", args=[provider.pk]), {
        "slug": "acme", "name": "", "position": 0, "model_match": '{"regex": "[z-a]"}',
        "provider_match": "", "fallback_providers": "[]",
    })
    assert response.status_code == 200
    assert "does not compile" in str(response.context["adminform"].form.errors)


def test_staff_without_the_view_permission_cannot_use_the_tester(client, acme):
    user = User.objects.create_user("clerk@example.com", "pw-123456", is_staff=True)
    client.force_login(user)
    assert resolve(client, "acme-one").status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_aimodel"))
    assert resolve(client, "acme-one").status_code == 200
