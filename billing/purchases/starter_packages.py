"""The starter set of credit packages: what a new installation sells until staff edit it.

1 credit is 1 US cent of marked-up usage (billing/pricing/catalogue/house_catalogue.py), so the
Starter package sells credits at face value and the bigger ones add a volume discount
and bonus credits. Created only where missing (by name): a package staff edited in the
admin is never changed back.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from billing.models import CreditPackage

# name, base credits, bonus credits, price in the minor unit, sort order
STARTER_PACKAGES = [
    ("Starter", Decimal("1000"), Decimal("0"), 1000, 10),
    ("Growth", Decimal("5000"), Decimal("500"), 4500, 20),
    ("Scale", Decimal("20000"), Decimal("4000"), 16000, 30),
]


@dataclass(frozen=True)
class StarterResult:
    package: CreditPackage
    created: bool


def create_starter_packages(*, currency: str = "usd") -> list[StarterResult]:
    """Create the starter packages that do not exist yet, priced in `currency`."""
    currency = currency.strip().lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise ValidationError(f"currency must be a three-letter ISO code such as usd, "
                              f"not {currency!r}")
    results = []
    for name, base, bonus, price, order in STARTER_PACKAGES:
        package, created = CreditPackage.objects.get_or_create(name=name, defaults={
            "base_credits": base, "bonus_credits": bonus, "price_minor": price,
            "currency": currency, "sort_order": order,
            "description": f"{base:,} credits" + (f" + {bonus:,} bonus" if bonus else ""),
        })
        results.append(StarterResult(package=package, created=created))
    return results
