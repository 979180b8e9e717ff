"""The admin's list columns of credits and card money, shown as everywhere else
(docs/operate.md, "Reports"): credits to all six places, grouped; card money from its
minor units with its currency's code. Raw Decimal and integer columns had neither."""

from django.contrib import admin

from billing import money
from billing.models.purchases import format_minor


def exact_credits(field: str, description: str, *, sortable: bool = True):
    """A list column of the credits in `field` (a column, or a property when not
    sortable): 6,459.106349."""
    @admin.display(description=description, ordering=field if sortable else None)
    def column(obj):
        return money.display_exact(getattr(obj, field))
    column.__name__ = f"{field}_credits"
    return column


def minor_money(field: str, description: str, *, currency_field: str = "currency"):
    """A list column of the minor units in `field` with their code: 45.00 USD."""
    @admin.display(description=description, ordering=field)
    def column(obj):
        return format_minor(getattr(obj, field), getattr(obj, currency_field) or "")
    column.__name__ = f"{field}_money"
    return column
