"""Which payment provider: the configured one (PAYMENTS_PROVIDER) for anything new, the
one recorded on the row (purchase, topup attempt, saved card) for anything already begun."""

from django.conf import settings

from billing.models import PaymentProvider
from billing.payments.interface import Provider
from billing.payments.local_provider import LocalProvider
from billing.payments.stripe_provider import StripeProvider

_PROVIDERS: dict[str, Provider] = {
    PaymentProvider.STRIPE: StripeProvider(),
    PaymentProvider.TEST: LocalProvider(),
}


def provider_named(name: str) -> Provider:
    """The adapter of a provider as recorded on a row."""
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown payment provider {name!r}") from None


def configured_provider() -> Provider:
    return provider_named(settings.PAYMENTS_PROVIDER)
