"""Issue 26, finding 1: the API limited per key (API_RATE_LIMIT_PER_MINUTE; 0 is off)."""

import pytest

from tests.billing.usage_fixtures import api_key_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/balance"


def get(client, key):
    return client.get(URL, headers={"Authorization": f"Bearer {key.raw_key}"})


def test_off_by_default(client, key, settings):
    assert settings.API_RATE_LIMIT_PER_MINUTE == 0
    assert {get(client, key).status_code for _ in range(30)} == {200}


def test_past_the_limit_429_with_retry_after_in_the_error_shape(client, key, org, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    assert [get(client, key).status_code for _ in range(3)] == [200] * 3
    response = get(client, key)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited" and "3 requests a minute" in error["message"]
    # Per key: another key of the same org has its own count.
    other = api_key_for(org)
    assert get(client, other).status_code == 200


def test_an_unknown_key_is_401_not_counted(client, key, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    for _ in range(3):
        response = client.get(URL, headers={"Authorization": "Bearer cb_live_nope"})
        assert response.status_code == 401
    assert get(client, key).status_code == 200
