"""Starting a purchase: a pending Purchase row and its checkout, opened by the provider.

Credits never move here: they move when the payment is confirmed (see
fulfilment.py). The provider is called outside any transaction.
"""

from django.conf import settings
from django.urls import reverse

from billing.models import CreditPackage, Purchase, PurchaseStatus
from billing.payments.interface import PaymentError
from billing.payments.providers import configured_provider, provider_named
from billing.purchases.errors import PurchaseError


def _create_pending(*, organization, package: CreditPackage, buyer, provider: str) -> Purchase:
    if not organization.billing_enabled:
        raise PurchaseError(
            "Credits billing is included in the Professional and Enterprise plans only.")
    if not package.active:
        raise PurchaseError(f"The package {package.name!r} is no longer on sale.")
    return Purchase.objects.create(
        organization=organization, package=package, package_name=package.name,
        base_credits=package.base_credits, bonus_credits=package.bonus_credits,
        price_minor=package.price_minor, currency=package.currency, buyer=buyer,
        provider=provider,
    )


def _portal_url(name: str, purchase: Purchase) -> str:
    path = reverse(name, kwargs={"slug": purchase.organization.slug, "purchase_id": purchase.pk})
    return f"{settings.SITE_URL}{path}"


def start_purchase(*, organization, package: CreditPackage, buyer,
                   provider: str | None = None) -> Purchase:
    """A pending purchase with its checkout opened; redirect the buyer to `checkout_url`.

    `provider` names one (the demo's test purchase); by default the configured one.
    Raises PurchaseError (nothing created) or PaymentError (the purchase is kept,
    marked failed, with the provider's message).
    """
    chosen = provider_named(provider) if provider else configured_provider()
    purchase = _create_pending(organization=organization, package=package, buyer=buyer,
                               provider=chosen.name)
    try:
        checkout = chosen.open_checkout(
            purchase=purchase, customer_email=getattr(buyer, "email", ""),
            success_url=_portal_url("purchase_success", purchase)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=_portal_url("purchase_cancel", purchase),
        )
    except Exception as error:  # never leave a pending purchase nobody can pay
        purchase.status = PurchaseStatus.FAILED
        purchase.failure_reason = (str(error) if isinstance(error, PaymentError)
                                   else "Checkout could not be opened.")[:500]
        purchase.save_fields("status", "failure_reason")
        raise
    purchase.stripe_checkout_session_id = checkout.session_id
    purchase.checkout_url = checkout.url
    purchase.stripe_customer_id = checkout.customer_id
    purchase.save_fields("stripe_checkout_session_id", "checkout_url", "stripe_customer_id")
    return purchase
