"""accounts.services: create_api_key, authenticate_api_key, revoke_api_key."""

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import ApiKey, SettingsChange
from accounts.services import (
    API_KEY_PREFIX,
    authenticate_api_key,
    create_api_key,
    revoke_api_key,
)
from tests.accounts.key_storage import assert_stored_nowhere

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_key(org, admin_user):
    return create_api_key(organization=org, name="gateway", created_by=admin_user)


def test_create_returns_the_raw_key_and_stores_its_digest(new_key, org):
    raw = new_key.raw_key
    key = ApiKey.objects.get()
    assert raw.startswith(API_KEY_PREFIX)
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert key.prefix == raw[: len(API_KEY_PREFIX) + 6]
    assert key.last_used is None and key.revoked_at is None
    assert_stored_nowhere(raw, key.prefix)


def test_keys_are_random(org):
    raws = {create_api_key(organization=org, name=f"k{i}", created_by=None).raw_key
            for i in range(20)}
    assert len(raws) == 20
    assert SettingsChange.objects.filter(actor=None, actor_label="system").count() == 20


@pytest.mark.parametrize("name", ["", "  ", "x" * 101])
def test_bad_name_writes_nothing(org, name):
    with pytest.raises(ValidationError):
        create_api_key(organization=org, name=name, created_by=None)
    assert not ApiKey.objects.exists() and not SettingsChange.objects.exists()


def test_authenticates_by_digest(new_key, org):
    key = authenticate_api_key(new_key.raw_key)
    assert key == new_key.api_key and key.organization == org


@pytest.mark.parametrize("transform", [
    lambda raw: raw[:-1],
    lambda raw: raw + "x",
    lambda raw: raw.upper(),
    lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),
    lambda raw: hashlib.sha256(raw.encode()).hexdigest(),  # the digest is not a key
    lambda raw: ApiKey.objects.get().prefix,
    lambda raw: "",
    lambda raw: raw * 10,
])
def test_anything_else_fails(new_key, transform):
    assert authenticate_api_key(transform(new_key.raw_key)) is None


def test_revoked_key_fails(new_key, admin_user):
    revoke_api_key(api_key=new_key.api_key, revoked_by=admin_user)
    assert authenticate_api_key(new_key.raw_key) is None


def test_revoke_twice_records_one_change(new_key, admin_user, member_user):
    first = revoke_api_key(api_key=new_key.api_key, revoked_by=admin_user)
    second = revoke_api_key(api_key=ApiKey.objects.get(), revoked_by=member_user)
    assert second.revoked_at == first.revoked_at and second.revoked_by == admin_user
    revoked = SettingsChange.objects.filter(action="revoked")
    assert revoked.count() == 1 and revoked.get().actor == admin_user
    assert new_key.raw_key not in revoked.get().summary


def set_last_used(value):
    ApiKey.objects.update(last_used=value)


def stored_last_used():
    return ApiKey.objects.get().last_used


def test_first_use_sets_last_used(new_key):
    before = timezone.now()
    authenticate_api_key(new_key.raw_key)
    assert before <= stored_last_used() <= timezone.now()


def test_last_used_is_written_at_most_once_a_minute(
    new_key, django_assert_num_queries, django_assert_max_num_queries
):
    recent = timezone.now() - timedelta(seconds=50)
    set_last_used(recent)
    with django_assert_num_queries(1):  # the lookup only, no UPDATE
        assert authenticate_api_key(new_key.raw_key) is not None
    assert stored_last_used() == recent

    stale = timezone.now() - timedelta(seconds=61)
    set_last_used(stale)
    with django_assert_max_num_queries(2):
        key = authenticate_api_key(new_key.raw_key)
    assert stored_last_used() > stale and key.last_used == stored_last_used()

    # And within the next minute it stays put, however often the key is used.
    written = stored_last_used()
    for _ in range(5):
        authenticate_api_key(new_key.raw_key)
    assert stored_last_used() == written


def test_a_concurrent_touch_is_not_overwritten(new_key, monkeypatch):
    """The UPDATE is conditional: if another request touched the key between our read and
    our write, its time stays."""
    set_last_used(timezone.now() - timedelta(minutes=5))
    fresh = timezone.now() - timedelta(seconds=10)
    original_filter = ApiKey.objects.filter

    def filter_after_another_request(*args, **kwargs):
        if "pk" in kwargs:  # the write, after the lookup
            ApiKey.objects.update(last_used=fresh)
        return original_filter(*args, **kwargs)

    monkeypatch.setattr(ApiKey.objects, "filter", filter_after_another_request)
    assert authenticate_api_key(new_key.raw_key) is not None
    monkeypatch.undo()
    assert stored_last_used() == fresh
