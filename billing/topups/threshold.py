"""Whether an org is below its auto-topup threshold: the one place that decides it.

Below means strictly below (a balance equal to the threshold is not topped up),
and only while auto-topup is on. The trigger, the claim of a try and the sweep's
query all ask here (docs/stripe.md, "The saved card and auto-topup").
"""

from decimal import Decimal

from django.db.models import F, QuerySet

from billing.models import AutoTopupSettings


def is_below(*, balance: Decimal, threshold: Decimal | None) -> bool:
    """`threshold` None: auto-topup is off, nothing is below it."""
    return threshold is not None and balance < threshold


def enabled_threshold(*, organization_id: int) -> Decimal | None:
    """The threshold of the org's auto-topup when it is on, else None."""
    return (AutoTopupSettings.objects.filter(organization_id=organization_id, enabled=True)
            .values_list("threshold", flat=True).first())


def settings_below_threshold() -> QuerySet[AutoTopupSettings]:
    """Every org's settings that are on with the account's balance below the threshold:
    `is_below` in SQL, for the sweep."""
    return AutoTopupSettings.objects.filter(
        enabled=True, organization__credit_account__balance__lt=F("threshold"))
