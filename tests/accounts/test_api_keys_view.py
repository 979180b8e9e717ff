"""The API keys page: create (shown once), list, revoke."""

import re

import pytest
from django.urls import reverse

from accounts.models import ApiKey, SettingsChange, digest_api_key
from accounts.services import API_KEY_PREFIX, authenticate_api_key, create_api_key
from tests.accounts.key_storage import assert_stored_nowhere
from tests.pages import main_content

pytestmark = pytest.mark.django_db


def keys_url(org):
    return reverse("api_keys", args=[org.slug])


def shown_key(response) -> str:
    match = re.search(r'data-testid="new-api-key">([^<]+)<', response.content.decode())
    assert match, "no key in the response"
    return match.group(1)


def test_created_key_is_shown_once_and_stored_nowhere(admin_client, org, admin_user):
    response = admin_client.post(keys_url(org), {"name": "inference gateway"})
    assert response.status_code == 200  # rendered, not redirected
    assert "no-store" in response["Cache-Control"]
    raw = shown_key(response)
    assert raw.startswith(API_KEY_PREFIX) and len(raw) > 40

    key = ApiKey.objects.get()
    assert (key.organization, key.name, key.created_by) == (org, "inference gateway", admin_user)
    assert key.digest == digest_api_key(raw)
    assert raw.startswith(key.prefix)
    assert_stored_nowhere(raw, key.prefix)

    change = SettingsChange.objects.get()
    assert change.actor == admin_user and change.action == "created"
    assert key.prefix in change.summary and raw not in change.summary

    # The key works, and the page never shows it again.
    assert authenticate_api_key(raw) == key
    again = admin_client.get(keys_url(org)).content.decode()
    assert raw not in again and "new-api-key" not in again
    assert f"{key.prefix}…" in again and "inference gateway" in again


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_bad_name_creates_nothing(admin_client, org, name):
    response = admin_client.post(keys_url(org), {"name": name})
    assert response.status_code == 200
    assert "new-api-key" not in response.content.decode()
    assert 'class="errorlist"' in response.content.decode()
    assert not ApiKey.objects.exists() and not SettingsChange.objects.exists()


def test_revoke(admin_client, org, admin_user):
    new = create_api_key(organization=org, name="ci", created_by=admin_user)
    url = reverse("revoke_api_key", args=[org.slug, new.api_key.pk])
    response = admin_client.post(url, follow=True)
    assert response.redirect_chain == [(keys_url(org), 302)]
    assert "Revoked ci." in [str(m) for m in response.context["messages"]]
    body = response.content.decode()
    assert "Revoked " in body and url not in body  # no way to revoke it twice

    key = ApiKey.objects.get()
    assert key.revoked_at is not None and key.revoked_by == admin_user
    assert authenticate_api_key(new.raw_key) is None

    revoked_at = key.revoked_at
    admin_client.post(url)  # a second click, or a replayed form
    key.refresh_from_db()
    assert key.revoked_at == revoked_at
    assert list(SettingsChange.objects.values_list("action", flat=True).order_by("id")) == [
        "created", "revoked"
    ]


def test_revoke_asks_on_a_page_first_and_the_page_alone_changes_nothing(
        admin_client, org, admin_user):
    new = create_api_key(organization=org, name="ci", created_by=admin_user)
    url = reverse("revoke_api_key", args=[org.slug, new.api_key.pk])
    listing = admin_client.get(keys_url(org)).content.decode()
    # The list offers a link to the question, not a form that revokes at once.
    assert f'href="{url}"' in listing and f'action="{url}"' not in listing

    page = admin_client.get(url)

    assert page.status_code == 200
    body = page.content.decode()
    assert "Revoke the key ci?" in body and f"{new.api_key.prefix}…" in body
    assert f'<form method="post" action="{url}">' in body
    assert f'href="{keys_url(org)}">Cancel</a>' in body
    assert "<script" not in main_content(body)
    assert authenticate_api_key(new.raw_key) == new.api_key
    assert ApiKey.objects.get().revoked_at is None
    assert list(SettingsChange.objects.values_list("action", flat=True)) == ["created"]


def test_the_question_of_a_revoked_key_leads_back_to_the_list(admin_client, org, admin_user):
    new = create_api_key(organization=org, name="ci", created_by=admin_user)
    url = reverse("revoke_api_key", args=[org.slug, new.api_key.pk])
    admin_client.post(url)
    response = admin_client.get(url)
    assert response.status_code == 302 and response.url == keys_url(org)


def test_member_sees_keys_but_no_secret_and_no_buttons(member_client, org, admin_user):
    new = create_api_key(organization=org, name="ci", created_by=admin_user)
    body = member_client.get(keys_url(org)).content.decode()
    assert "ci" in body and new.api_key.prefix in body and new.raw_key not in body
    assert "Create key" not in body
    assert reverse("revoke_api_key", args=[org.slug, new.api_key.pk]) not in body
    assert member_client.get(
        reverse("revoke_api_key", args=[org.slug, new.api_key.pk])).status_code == 403


def test_last_used_is_shown(admin_client, org, admin_user):
    new = create_api_key(organization=org, name="ci", created_by=admin_user)
    assert "never" in admin_client.get(keys_url(org)).content.decode()
    authenticate_api_key(new.raw_key)
    assert "never" not in admin_client.get(keys_url(org)).content.decode()
