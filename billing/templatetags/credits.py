"""`{% load credits %}`: credits as people read them (two places) or exactly (six), and
USD costs as money (two places and the code)."""

from django import template

from billing import money

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
