"""The saved card: kept from a paid Checkout purchase or a setup-mode session; removed.

Only a reference to the payment method is kept (brand, last 4 and expiry for
people to recognise it), never a card number. The provider is called outside any
transaction.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from accounts.services import record_change
from billing.models import (
    AutoTopupSettings,
    PaymentProvider,
    SavedCard,
    TopupAttempt,
    TopupStatus,
    TryState,
)
from billing.payments import local_provider
from billing.payments.interface import SETUP_PURPOSE, PaymentError, object_id
from billing.payments.providers import configured_provider, provider_named


def _payment_method_of(session: dict) -> dict | None:
    holder = session.get("setup_intent") if session.get("mode") == "setup" else \
        session.get("payment_intent")
    method = holder.get("payment_method") if isinstance(holder, dict) else None
    return method if isinstance(method, dict) and method.get("id") else None


def _setup_organization(session: dict):
    """The org of one of our setup sessions; None for another product's."""
    metadata = session.get("metadata") or {}
    if metadata.get("purpose") != SETUP_PURPOSE or not metadata.get("organization"):
        return None
    return Organization.objects.filter(slug=metadata["organization"]).first()


def save_card(*, organization, provider: str, payment_method: dict, customer_id: str = "",
              actor=None) -> SavedCard:
    """Keep (or replace) the org's card from a payment method as Stripe shows it."""
    card = payment_method.get("card") or {}
    values = {
        "provider": provider, "customer_id": customer_id or "",
        "payment_method_id": payment_method["id"], "brand": card.get("brand", "")[:30],
        "last4": str(card.get("last4", ""))[:4], "exp_month": card.get("exp_month"),
        "exp_year": card.get("exp_year"),
    }
    with transaction.atomic():
        existing = SavedCard.objects.select_for_update().filter(organization=organization).first()
        if existing and existing.payment_method_id == values["payment_method_id"]:
            return existing
        saved, _ = SavedCard.objects.update_or_create(organization=organization, defaults=values)
        # An attempt waiting to retry a failed card is tried now, with this one.
        TopupAttempt.objects.filter(organization=organization, status=TopupStatus.PENDING,
                                    try_state=TryState.WAITING).update(
            next_try_at=timezone.now())
        record_change(organization=organization, actor=actor, area="auto_topup",
                      action="card_saved", summary=f"Saved card: {saved} ({saved.expiry})")
    return saved


def save_card_from_session(session: dict, *, organization=None, actor=None) -> SavedCard | None:
    """The card of a completed Stripe Checkout Session, when its payment method came
    expanded: a paid purchase's (the caller names the purchase's org) or one of our setup
    sessions."""
    method = _payment_method_of(session)
    if session.get("mode") == "setup":
        organization = _setup_organization(session)
    if method is None or organization is None:
        return None
    customer = object_id(session.get("customer"))
    return save_card(organization=organization, provider=PaymentProvider.STRIPE,
                     payment_method=method, customer_id=customer, actor=actor)


def save_test_card(*, organization, payment_method_id: str, actor=None) -> SavedCard:
    """The local provider's card chosen on its test pages (ValueError for an unknown one)."""
    return save_card(organization=organization, provider=local_provider.LocalProvider.name,
                     payment_method=local_provider.test_card_details(payment_method_id),
                     actor=actor)


def start_card_setup(*, organization, actor) -> str:
    """The URL where an admin enters a new card, from the configured provider: Stripe
    Checkout in setup mode, or the local provider's card page in test mode."""
    base = f"{settings.SITE_URL}{reverse('card_setup_done', kwargs={'slug': organization.slug})}"
    package = AutoTopupSettings.objects.filter(organization=organization).values_list(
        "package__currency", flat=True).first()
    return configured_provider().open_card_setup(
        organization=organization, customer_email=getattr(actor, "email", ""),
        currency=package or "usd",
        success_url=base + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=f"{settings.SITE_URL}"
                   f"{reverse('auto_topup', kwargs={'slug': organization.slug})}",
    )


def finish_card_setup(*, organization, session_id: str, actor) -> SavedCard | None:
    """Stripe Checkout's success redirect: read the setup session and keep its card (the
    webhook may too)."""
    session = provider_named(PaymentProvider.STRIPE).retrieve_checkout_session(
        session_id=session_id)
    if (session.get("metadata") or {}).get("organization") != organization.slug:
        return None
    return save_card_from_session(session, actor=actor)


def remove_card(*, organization, actor) -> bool:
    with transaction.atomic():
        card = SavedCard.objects.select_for_update().filter(organization=organization).first()
        if card is None:
            return False
        label, provider, method_id = str(card), card.provider, card.payment_method_id
        card.delete()
        record_change(organization=organization, actor=actor, area="auto_topup",
                      action="card_removed", summary=f"Removed card: {label}")
    try:
        provider_named(provider).detach_payment_method(payment_method_id=method_id)
    except PaymentError:
        pass  # our side no longer charges it; the provider keeps an unused method
    return True
