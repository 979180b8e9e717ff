"""`{% load figures %}`: every number a page shows, one filter per kind, all from money.py.

- credits: two places in the portal (`credits`, `signed_credits`), six where a figure is
  kept exactly (`credits_exact`, `signed_credits_exact`: the entry page);
- money: card money in the currency's minor units with its code (`money_minor`), a USD
  cost as money (`usd`: 37.84 USD) or unrounded on the entry page (`usd_exact`);
- counts with separators (`count`: 2,028);
- quantities in their unit (`quantity`: 1,590 GPU-second), rates and prices as written
  (`number`), a share (`percent`).

Templates use these and nothing else (no humanize, floatformat or .normalize): the test
tests/billing/test_figures_filters.py holds them to it.
"""

from decimal import ROUND_HALF_UP, Decimal

from django import template

from billing import money
from billing.models.purchases import format_minor

register = template.Library()


def _with_sign(value, display) -> str:
    if value is None:
        return ""
    return ("+" if value > 0 else "\u2212" if value < 0 else "") + display(abs(value))


@register.filter
def credits(value):
    """Cards and tables: 1,234.50."""
    return money.display_rounded(value)


@register.filter
def signed_credits(value):
    return _with_sign(value, money.display_rounded)


@register.filter
def credits_exact(value):
    """The entry detail: 1,234.500000."""
    return money.display_exact(value)


@register.filter
def signed_credits_exact(value):
    return _with_sign(value, money.display_exact)


@register.filter
def usd(value):
    """Provider cost in cards and tables: 37.84 USD."""
    return money.display_usd(value)


@register.filter
def usd_exact(value):
    """A priced line's unit price or cost, unrounded: 0.0013425 USD."""
    return money.display_usd_exact(value)


@register.filter
def money_minor(amount_minor, currency):
    """4900|money_minor:"usd" -> "49.00 USD" (exact, never rounded)."""
    return format_minor(amount_minor, currency or "")


@register.filter
def count(value):
    """2028 -> 2,028."""
    return money.display_count(value)


@register.filter
def quantity(value, unit=""):
    """120.500000|quantity:"GPU-second" -> 120.5 GPU-second; the unit, when known, goes with it."""
    shown = money.display_plain(value)
    return f"{shown} {unit}" if shown and unit else shown


@register.filter
def number(value):
    """A rate or price as written: 1.25, 0.0000025."""
    return money.display_plain(value)


@register.filter
def percent(value):
    """A share to one place at most: 10 -> 10%, 12.345 -> 12.3%."""
    if value is None:
        return ""
    shown = Decimal(value).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{money.display_plain(shown)}%"


@register.filter
def field_value(value):
    """A number as a form's number field takes it back: no separators, no exponent
    (1000.5), never rounded."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
