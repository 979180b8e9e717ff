"""Which provider: the configured one for anything new, the recorded one for a row."""

import pytest

from billing.payments.interface import Provider
from billing.payments.local_provider import LocalProvider
from billing.payments.providers import configured_provider, provider_named
from billing.payments.stripe_provider import StripeProvider


def test_the_configured_provider_follows_the_setting(settings):
    settings.PAYMENTS_PROVIDER = "stripe"
    assert isinstance(configured_provider(), StripeProvider)
    settings.PAYMENTS_PROVIDER = "test"
    assert isinstance(configured_provider(), LocalProvider)


@pytest.mark.parametrize("name, adapter, is_test", [("stripe", StripeProvider, False),
                                                     ("test", LocalProvider, True)])
def test_a_recorded_provider_is_its_adapter_whatever_the_setting(settings, name, adapter,
                                                                 is_test):
    settings.PAYMENTS_PROVIDER = "stripe" if name == "test" else "test"
    provider = provider_named(name)
    assert isinstance(provider, adapter) and isinstance(provider, Provider)
    assert (provider.name, provider.is_test) == (name, is_test)


def test_an_unknown_provider_is_refused():
    with pytest.raises(ValueError, match="unknown payment provider 'paypal'"):
        provider_named("paypal")


def test_only_the_test_provider_refunds_at_once():
    assert provider_named("test").refunds_at_once is True
    assert provider_named("stripe").refunds_at_once is False
