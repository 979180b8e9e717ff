"""Demo step of purchases: the starter packages and one completed test purchase."""

from accounts.models import Role
from billing.models import CreditPackage, PaymentProvider, Purchase
from billing.payments import local_provider
from billing.purchases import checkout, fulfilment
from billing.purchases.starter_packages import create_starter_packages


def seed_packages_and_purchase(org, stdout) -> None:
    create_starter_packages()
    if Purchase.objects.filter(organization=org).exists():
        return
    admin = org.memberships.filter(role=Role.ADMIN).select_related("user").first()
    package = CreditPackage.objects.get(name="Growth")
    purchase = checkout.start_purchase(organization=org, package=package,
                                        buyer=admin.user if admin else None,
                                        provider=PaymentProvider.TEST)
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    stdout.write(f"  purchases: 3 packages, one paid test purchase ({package.name})")
