"""A connection kept between requests (CONN_MAX_AGE) that the database dropped meanwhile is
health-checked and replaced before the next request uses it (CONN_HEALTH_CHECKS, on in
settings): the first request after a database restart succeeds instead of failing."""

import pytest
from django.db import connections

from tests.billing.usage_fixtures import api_key_for
from tests.wsgi_calls import call

pytestmark = pytest.mark.postgres


@pytest.fixture
def kept_connections(db_proxy):
    settings_dict = connections["default"].settings_dict
    saved = settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"]
    settings_dict["CONN_MAX_AGE"] = 60
    yield settings_dict
    connections["default"].close()
    settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"] = saved


def balance(key):
    return call("GET", "/api/v1/balance", headers={"Authorization": f"Bearer {key.raw_key}"})


@pytest.mark.parametrize("checks, status_after_restart", [(True, 200), (False, 503)])
def test_a_dropped_kept_connection_is_replaced_before_the_next_request(
        org, db_proxy, kept_connections, checks, status_after_restart):
    kept_connections["CONN_HEALTH_CHECKS"] = checks
    key = api_key_for(org)
    connections["default"].close()
    assert balance(key).status == 200
    assert db_proxy.open_connections() == 1  # kept after the request
    db_proxy.cut()  # the database restarts between two requests; it is back at once
    assert balance(key).status == status_after_restart
    assert balance(key).status == 200  # without checks, the failed request closed it

