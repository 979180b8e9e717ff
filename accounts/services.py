"""Writes for organisations, members and API keys. Each records who did it.
Invitations, the one way into an org for a person, are in accounts/invitations.py."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import (
    ApiKey,
    Membership,
    Organization,
    Plan,
    Role,
    SettingsChange,
    User,
    digest_api_key,
)
from accounts.text import text_problem

API_KEY_PREFIX = "cb_live_"
LAST_USED_GRANULARITY = timedelta(minutes=1)


def record_change(
    *, organization: Organization, actor: User | None, area: str, action: str, summary: str
) -> SettingsChange:
    return SettingsChange.objects.create(
        organization=organization,
        actor=actor,
        actor_label=str(actor) if actor else "system",
        area=area,
        action=action,
        summary=summary,
    )


def check_max_length(value: str, *, model, field: str, label: str) -> None:
    """The database would refuse it anyway, but with a traceback (or SQLite would keep it)."""
    limit = model._meta.get_field(field).max_length
    if len(value) > limit:
        raise ValidationError(f"{label} must be at most {limit} characters")


def _check_text(value: str, *, label: str) -> None:
    if problem := text_problem(value):
        raise ValidationError(f"{label} {problem}")


def create_organization(
    *, name: str, slug: str, plan: str, admin_email: str | None = None
) -> Organization:
    """Validates everything first, so a bad argument writes nothing."""
    name = name.strip()
    if not name:
        raise ValidationError("name must not be empty")
    _check_text(name, label="name")
    check_max_length(name, model=Organization, field="name", label="name")
    validate_slug(slug)
    check_max_length(slug, model=Organization, field="slug", label="slug")
    if plan not in Plan.values:
        raise ValidationError(f"plan must be one of {', '.join(Plan.values)}, not {plan!r}")
    if admin_email is not None:
        _check_text(admin_email, label="email")
        validate_email(admin_email)
        check_max_length(admin_email, model=User, field="email", label="email")
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError(f"an organisation with slug {slug!r} already exists")
    with transaction.atomic():
        org = Organization.objects.create(name=name, slug=slug, plan=plan)
        if admin_email:
            user, _ = User.objects.get_or_create(
                email=admin_email.lower(), defaults={"password": "!"}
            )
            if not user.has_usable_password():
                user.set_unusable_password()
                user.save(update_fields=["password"])
            Membership.objects.create(user=user, organization=org, role=Role.ADMIN)
    return org


def password_setup_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})
    return f"{settings.SITE_URL}{path}"


def remember_organization(*, user: User, organization: Organization) -> None:
    """The org a person used last, where their next login lands."""
    User.objects.filter(pk=user.pk).update(last_organization=organization)
    user.last_organization = organization


def _lock_admins(organization_id: int) -> int:
    """Count admins under a row lock so two removals cannot both leave zero. Callers take
    it before any other membership lock, and in id order: two admins removing each other
    at once then queue instead of deadlocking."""
    return len(
        Membership.objects.select_for_update()
        .filter(organization_id=organization_id, role=Role.ADMIN)
        .order_by("pk")
        .values_list("id", flat=True)
    )


def change_role(*, membership: Membership, role: str, changed_by: User) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
    with transaction.atomic():
        admins = _lock_admins(membership.organization_id)
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == role:
            return membership
        if membership.role == Role.ADMIN and admins <= 1:
            raise ValidationError("An organisation needs at least one admin.")
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record_change(
            organization=membership.organization,
            actor=changed_by,
            area="members",
            action="role_changed",
            summary=f"Changed {membership.user.email} from {old} to {role}",
        )
    return membership


def remove_member(*, membership: Membership, removed_by: User) -> None:
    with transaction.atomic():
        admins = _lock_admins(membership.organization_id)
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.ADMIN and admins <= 1:
            raise ValidationError("The last admin cannot be removed.")
        email = membership.user.email
        organization = membership.organization
        membership.delete()
        record_change(
            organization=organization,
            actor=removed_by,
            area="members",
            action="removed",
            summary=f"Removed {email}",
        )


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def create_api_key(
    *, organization: Organization, name: str, created_by: User | None
) -> NewApiKey:
    name = name.strip()
    if not name:
        raise ValidationError("name must not be empty")
    _check_text(name, label="name")
    if len(name) > 100:
        raise ValidationError("name must be at most 100 characters")
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            organization=organization,
            name=name,
            prefix=raw_key[: len(API_KEY_PREFIX) + 6],
            digest=digest_api_key(raw_key),
            created_by=created_by,
        )
        record_change(
            organization=organization,
            actor=created_by,
            area="api_keys",
            action="created",
            summary=f"Created API key {name!r} ({api_key.prefix}…)",
        )
    return NewApiKey(api_key=api_key, raw_key=raw_key)


def revoke_api_key(*, api_key: ApiKey, revoked_by: User | None) -> ApiKey:
    with transaction.atomic():
        # Conditional update: revoking twice records one change.
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=revoked_by
        )
        if updated:
            record_change(
                organization=api_key.organization,
                actor=revoked_by,
                area="api_keys",
                action="revoked",
                summary=f"Revoked API key {api_key.name!r} ({api_key.prefix}…)",
            )
    api_key.refresh_from_db()
    return api_key


def authenticate_api_key(raw_key: str) -> ApiKey | None:
    """The active key for this raw value, or None. Touches last_used at most once a minute."""
    if not raw_key or len(raw_key) > 200:
        return None
    api_key = (
        ApiKey.objects.select_related("organization")
        .filter(digest=digest_api_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used is None or now - api_key.last_used >= LAST_USED_GRANULARITY:
        stale_before = now - LAST_USED_GRANULARITY
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used__isnull=True) | Q(last_used__lt=stale_before)
        ).update(last_used=now)
        api_key.last_used = now
    return api_key

