"""Demo step of auto-topup: the demo purchase's test card is saved, as Checkout saves a card."""

from billing.models import PaymentProvider, Purchase, SavedCard
from billing.payments import local_provider
from billing.topups import cards


def seed_saved_card(org, stdout) -> None:
    if SavedCard.objects.filter(organization=org).exists():
        return
    if not Purchase.objects.filter(organization=org, provider=PaymentProvider.TEST,
                                   entry__isnull=False).exists():
        return
    card = cards.save_test_card(organization=org,
                                payment_method_id=local_provider.DEFAULT_TEST_CARD)
    stdout.write(f"  auto-topup: saved the demo purchase's test card ({card}); "
                 "turn auto-topup on in the portal")
