from django import template

from billing import money

register = template.Library()


@register.filter
def credits(value):
    return money.display(value)


@register.filter
def signed_credits(value):
    if value is None:
        return ""
    return ("+" if value > 0 else "−" if value < 0 else "") + money.display(abs(value))
