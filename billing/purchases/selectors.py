"""Reads for the packages and purchases pages."""

from dataclasses import dataclass

from billing.models import CreditPackage, Purchase, PurchaseStatus


@dataclass
class Offer:
    package: CreditPackage
    best_value: bool


def active_packages():
    return CreditPackage.objects.filter(active=True)


def package_offers() -> list[Offer]:
    """Active packages in their order; the cheapest per credit in each currency is marked."""
    packages = list(active_packages())
    best = {}
    for package in packages:
        current = best.get(package.currency)
        if current is None or package.price_per_credit < current.price_per_credit:
            best[package.currency] = package
    marked = {p.pk for p in best.values()} if len(packages) > 1 else set()
    return [Offer(package=p, best_value=p.pk in marked) for p in packages]


def purchases_of(organization):
    return Purchase.objects.filter(organization=organization).select_related("buyer")


def pending_purchases(organization):
    return purchases_of(organization).filter(status=PurchaseStatus.PENDING)
