"""manage.py stripe_webhook_setup: the endpoint created or updated through Stripe's API with
exactly the handled event types and the pinned API version."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.payments.stripe_provider import API_VERSION
from billing.webhooks import handled_types

pytestmark = pytest.mark.django_db
URL = "https://billing.example.com/billing/stripe/webhook/"


def run(**options):
    out = StringIO()
    call_command("stripe_webhook_setup", stdout=out, **options)
    return out.getvalue()


def events_of(request):
    return sorted(v for k, v in request.form.items() if k.startswith("enabled_events["))


def test_creates_the_endpoint_and_prints_where_its_secret_goes(stripe_stub):
    output = run(url=URL)
    [create] = stripe_stub.requests_to("POST", "/v1/webhook_endpoints")
    assert create.form["url"] == URL and create.form["api_version"] == API_VERSION
    assert events_of(create) == sorted(handled_types())
    [endpoint] = stripe_stub.webhook_endpoints.values()
    assert f"STRIPE_WEBHOOK_SECRET=whsec_stub_{endpoint['id']}" in output.splitlines()


def test_run_again_updates_the_same_endpoint_and_keeps_the_secret(stripe_stub):
    run(url=URL)
    [endpoint] = stripe_stub.webhook_endpoints.values()
    endpoint["enabled_events"] = ["charge.refunded"]  # edited by hand in the dashboard
    output = run(url=URL)
    [update] = stripe_stub.requests_to("POST", f"/v1/webhook_endpoints/{endpoint['id']}")
    assert events_of(update) == sorted(handled_types())
    assert len(stripe_stub.webhook_endpoints) == 1
    assert "STRIPE_WEBHOOK_SECRET=" not in output and "unchanged" in output


def test_an_endpoint_of_another_api_version_is_replaced_by_a_new_one(stripe_stub):
    stripe_stub.webhook_endpoints["we_old"] = {"id": "we_old", "url": URL,
                                               "api_version": "2024-06-20"}
    output = run(url=URL)
    assert len(stripe_stub.webhook_endpoints) == 2
    assert "STRIPE_WEBHOOK_SECRET=whsec_stub_" in output and "we_old" in output


@pytest.mark.parametrize("url", ["http://billing.example.com/billing/stripe/webhook/",
                                 "https://billing.example.com/", "not a url"])
def test_a_url_that_is_not_our_https_webhook_is_refused_and_nothing_sent(stripe_stub, url):
    with pytest.raises(CommandError, match="https URL"):
        run(url=url)
    assert not stripe_stub.requests
