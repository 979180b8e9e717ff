"""Demo step of purchases: the starter packages and one completed test purchase."""

from django.template.defaultfilters import pluralize

from accounts.models import Role
from billing.models import CreditPackage, PaymentProvider, Purchase
from billing.payments import local_provider
from billing.purchases import checkout, fulfilment
from billing.purchases.starter_packages import create_starter_packages


def seed_packages_and_purchase(org, stdout) -> bool:
    """True if it added packages or the purchase."""
    packages = [r.package for r in create_starter_packages() if r.created]
    if Purchase.objects.filter(organization=org).exists():
        stdout.write(f"  purchases: {_packages_text(packages)}; the paid test purchase "
                     "already there")
        return bool(packages)
    admin = org.memberships.filter(role=Role.ADMIN).select_related("user").first()
    package = CreditPackage.objects.get(name="Growth")
    purchase = checkout.start_purchase(organization=org, package=package,
                                        buyer=admin.user if admin else None,
                                        provider=PaymentProvider.TEST)
    fulfilment.fulfil_checkout_session(session=local_provider.local_checkout_session(purchase))
    stdout.write(f"  purchases: {_packages_text(packages)}; added one paid test purchase "
                 f"({package.name})")
    return True


def _packages_text(created: list) -> str:
    return (f"added {len(created)} starter package{pluralize(len(created))}" if created
            else "the starter packages already there")
