"""Starting a purchase: a pending Purchase row and its checkout (Stripe or the test provider).

Credits never move here: they move when the payment is confirmed (see
fulfilment.py). Stripe is called outside any transaction.
"""

from django.conf import settings
from django.urls import reverse

from billing.models import CreditPackage, PaymentProvider, Purchase, PurchaseStatus, StripeCustomer
from billing.payments import local_provider
from billing.payments import stripe_provider as stripe_gateway
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


def ensure_stripe_customer(*, organization, email: str = "") -> str:
    """The org's Stripe Customer id, created at most once (the key is derived from the org)."""
    existing = StripeCustomer.objects.filter(organization=organization).first()
    if existing:
        return existing.customer_id
    customer = stripe_gateway.create_customer(organization=organization, email=email)
    row, _ = StripeCustomer.objects.get_or_create(
        organization=organization, defaults={"customer_id": customer["id"]}
    )
    return row.customer_id


def _portal_url(name: str, purchase: Purchase) -> str:
    path = reverse(name, kwargs={"slug": purchase.organization.slug, "purchase_id": purchase.pk})
    return f"{settings.SITE_URL}{path}"


def start_purchase(*, organization, package: CreditPackage, buyer,
                   provider: str | None = None) -> Purchase:
    """A pending purchase with its checkout opened; redirect the buyer to `checkout_url`.

    Raises PurchaseError (nothing created) or PaymentError (the purchase is kept,
    marked failed, with Stripe's message).
    """
    provider = provider or settings.PAYMENTS_PROVIDER
    purchase = _create_pending(organization=organization, package=package, buyer=buyer,
                               provider=provider)
    if provider == PaymentProvider.TEST:
        purchase.stripe_checkout_session_id = local_provider.new_session_id(purchase)
        purchase.checkout_url = reverse("test_checkout", kwargs={
            "slug": organization.slug, "purchase_id": purchase.pk})
        purchase.save_fields("stripe_checkout_session_id", "checkout_url")
        return purchase
    try:
        customer_id = ensure_stripe_customer(organization=organization,
                                             email=getattr(buyer, "email", ""))
        session = stripe_gateway.create_checkout_session(
            purchase=purchase, customer_id=customer_id,
            success_url=_portal_url("purchase_success", purchase)
            + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=_portal_url("purchase_cancel", purchase),
        )
    except Exception as error:  # never leave a pending purchase nobody can pay
        purchase.status = PurchaseStatus.FAILED
        purchase.failure_reason = (str(error) if isinstance(error, stripe_gateway.PaymentError)
                                   else "Checkout could not be opened.")[:500]
        purchase.save_fields("status", "failure_reason")
        raise
    purchase.stripe_checkout_session_id = session["id"]
    purchase.checkout_url = session.get("url") or ""
    purchase.stripe_customer_id = customer_id
    purchase.save_fields("stripe_checkout_session_id", "checkout_url", "stripe_customer_id")
    return purchase
