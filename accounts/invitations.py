"""Invitations with consent: an org admin offers a membership, the invitee accepts or
declines it through a signed link that expires; nothing joins an org until accepted.

The link carries the invitation's id signed with SECRET_KEY (django.core.signing), so it
cannot be forged or pointed at another invitation; the row's status makes it single-use
and lets an admin withdraw it. docs/operate.md, "Members and invitations".
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    User,
)
from accounts.services import check_max_length, password_setup_link, record_change

logger = logging.getLogger(__name__)

SALT = "accounts.invitation"


def invitation_max_age() -> timedelta:
    return timedelta(days=settings.INVITATION_DAYS)


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=SALT)


def invitation_link(invitation: Invitation) -> str:
    path = reverse("invitation", kwargs={"token": invitation_token(invitation)})
    return f"{settings.SITE_URL}{path}"


def invitation_from_token(token: str) -> Invitation | None:
    """The invitation a link names, or None for a forged, mangled or too old link."""
    try:
        pk = signing.loads(token, salt=SALT, max_age=invitation_max_age())
    except signing.BadSignature:
        return None
    return Invitation.objects.select_related("organization", "invited_by").filter(pk=pk).first()


def _send(invitation: Invitation, user: User) -> None:
    context = {
        "organization": invitation.organization,
        "invited_by": invitation.invited_by,
        "role": invitation.get_role_display(),
        "link": invitation_link(invitation),
        "expires_at": invitation.expires_at,
        "password_link": None if user.has_usable_password() else password_setup_link(user),
    }
    message = EmailMultiAlternatives(
        subject=f"You have been invited to {invitation.organization.name}",
        body=render_to_string("emails/invite.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("emails/invite.html", context), "text/html")
    message.send()


def _send_logged(invitation: Invitation, user: User) -> None:
    """The invitation is saved either way; a mail outage must not turn it into an error
    page. The admin can withdraw it and invite again."""
    try:
        _send(invitation, user)
    except Exception:  # noqa: BLE001 - any transport failure
        logger.exception("Could not send the invitation to %s", invitation.email)


def invite_member(
    *, organization: Organization, email: str, role: str, invited_by: User
) -> Invitation:
    """Records a pending invitation and mails its link after commit. A new address gets a
    login without a password (the mail links to choosing one) and no membership."""
    email = email.strip().lower()
    validate_email(email)
    check_max_length(email, model=User, field="email", label="email")
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
    now = timezone.now()
    with transaction.atomic():
        if Membership.objects.filter(user__email=email, organization=organization).exists():
            raise ValidationError(f"{email} is already a member of {organization.name}")
        Invitation.objects.filter(
            organization=organization,
            email=email,
            status=InvitationStatus.PENDING,
            expires_at__lte=now,
        ).update(status=InvitationStatus.EXPIRED)
        user, created = User.objects.get_or_create(email=email, defaults={"password": "!"})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    organization=organization,
                    email=email,
                    role=role,
                    invited_by=invited_by,
                    created_at=now,
                    expires_at=now + invitation_max_age(),
                )
        except IntegrityError:
            raise ValidationError(
                f"{email} already has a pending invitation to {organization.name}"
            ) from None
        record_change(
            organization=organization,
            actor=invited_by,
            area="members",
            action="invited",
            summary=f"Invited {email} as {role}",
        )
        transaction.on_commit(lambda: _send_logged(invitation, user))
    return invitation


def _answer(*, invitation: Invitation, user: User, status: str) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.email.lower() != user.email.lower():
            raise ValidationError("This invitation is for another email address.")
        if invitation.status == status:
            return invitation  # a second click of the same button
        if not invitation.is_open():
            raise ValidationError(
                "This invitation is no longer open. Ask an administrator to invite you again."
            )
        invitation.status = status
        invitation.answered_at = timezone.now()
        invitation.save(update_fields=["status", "answered_at"])
        accepted = status == InvitationStatus.ACCEPTED
        if accepted:
            Membership.objects.get_or_create(
                user=user,
                organization=invitation.organization,
                defaults={"role": invitation.role},
            )
        record_change(
            organization=invitation.organization,
            actor=user,
            area="members",
            action="joined" if accepted else "declined",
            summary=f"{user.email} {'accepted' if accepted else 'declined'} the invitation "
            f"as {invitation.role}",
        )
    return invitation


def accept_invitation(*, invitation: Invitation, user: User) -> Invitation:
    return _answer(invitation=invitation, user=user, status=InvitationStatus.ACCEPTED)


def decline_invitation(*, invitation: Invitation, user: User) -> Invitation:
    return _answer(invitation=invitation, user=user, status=InvitationStatus.DECLINED)


def withdraw_invitation(*, invitation: Invitation, withdrawn_by: User) -> None:
    with transaction.atomic():
        updated = Invitation.objects.filter(
            pk=invitation.pk, status=InvitationStatus.PENDING
        ).update(status=InvitationStatus.WITHDRAWN, answered_at=timezone.now())
        if updated:
            record_change(
                organization=invitation.organization,
                actor=withdrawn_by,
                area="members",
                action="invitation_withdrawn",
                summary=f"Withdrew the invitation of {invitation.email}",
            )
