"""`{% load purchases %}`: card money as Stripe stores it, shown in major units."""

from django import template

from billing.models.purchases import format_minor

register = template.Library()


@register.filter
def money_minor(amount_minor, currency):
    """4900|money_minor:"usd" -> "49.00 USD" (exact, never rounded)."""
    return format_minor(amount_minor, currency or "")
