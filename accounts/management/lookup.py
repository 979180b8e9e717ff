"""Argument lookups shared by the operators' commands."""

from django.core.management.base import CommandError

from accounts.models import Organization
from accounts.text import text_problem


def organization_or_error(slug: str) -> Organization:
    if text_problem(slug):
        raise CommandError(f"no organisation with slug {slug!r}")
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"no organisation with slug {slug!r}")
    return organization


def optional_organization(slug: str | None) -> Organization | None:
    """For commands whose --org narrows the work: None means every organisation."""
    return organization_or_error(slug) if slug else None
