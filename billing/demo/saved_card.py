"""Demo step of auto-topup: the demo purchase's test card is saved, as Checkout saves a card."""

from billing.models import PaymentProvider, Purchase, SavedCard
from billing.payments import local_provider
from billing.topups import cards


def seed_saved_card(org, stdout) -> bool:
    """True if it saved the card."""
    if SavedCard.objects.filter(organization=org).exists():
        stdout.write("  auto-topup: the saved card already there")
        return False
    if not Purchase.objects.filter(organization=org, provider=PaymentProvider.TEST,
                                   entry__isnull=False).exists():
        stdout.write("  auto-topup: no card saved (no paid test purchase to take it from)")
        return False
    card = cards.save_test_card(organization=org,
                                payment_method_id=local_provider.DEFAULT_TEST_CARD)
    stdout.write(f"  auto-topup: saved the demo purchase's test card ({card}); "
                 "turn auto-topup on in the portal")
    return True
