"""Demo step of purchases: three packages and one completed test purchase."""

from decimal import Decimal

from accounts.models import Role
from billing.models import CreditPackage, PaymentProvider, Purchase
from billing.purchases import checkout, fulfilment, local_provider

DEMO_PACKAGES = [
    # name, base, bonus, price in cents, order
    ("Starter", Decimal("1000"), Decimal("0"), 1000, 10),
    ("Growth", Decimal("5000"), Decimal("500"), 4500, 20),
    ("Scale", Decimal("20000"), Decimal("4000"), 16000, 30),
]


def seed_packages_and_purchase(org, stdout) -> None:
    for name, base, bonus, price, order in DEMO_PACKAGES:
        CreditPackage.objects.get_or_create(name=name, defaults={
            "base_credits": base, "bonus_credits": bonus, "price_minor": price,
            "currency": "usd", "sort_order": order,
            "description": f"{base:,} credits" + (f" + {bonus:,} bonus" if bonus else ""),
        })
    if Purchase.objects.filter(organization=org).exists():
        return
    admin = org.memberships.filter(role=Role.ADMIN).select_related("user").first()
    package = CreditPackage.objects.get(name="Growth")
    purchase = checkout.start_purchase(organization=org, package=package,
                                        buyer=admin.user if admin else None,
                                        provider=PaymentProvider.TEST)
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    stdout.write(f"  purchases: 3 packages, one paid test purchase ({package.name})")
