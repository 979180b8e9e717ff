"""`{% load filter_summary %}`: the filters a bound form applies, in a line, for the folded
filter panel's summary on a phone (docs/architecture.md, "The portal on a phone")."""

from django import template

register = template.Library()


def _shown(field, value) -> str:
    """A choice's label rather than its value ("Usage", not "usage")."""
    for choice, label in getattr(field.field, "choices", ()):
        if str(choice) == str(value):
            return str(label)
    return str(value)


@register.filter
def active_filters(form) -> str:
    """"Kind: Usage · Model or meter: gpt-4o", or "" when nothing filters."""
    if not form.is_bound:
        return ""
    parts = []
    for field in form:
        value = field.data
        if value in (None, "", [], ()):
            continue
        parts.append(f"{field.label}: {_shown(field, value)}")
    return " · ".join(parts)
