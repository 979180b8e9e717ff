"""Argument lookups shared by the operators' commands."""

from django.core.management.base import CommandError

from accounts.models import Organization


def organization_or_error(slug: str) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"no organisation with slug {slug!r}")
    return organization
