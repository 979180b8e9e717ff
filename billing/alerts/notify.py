"""Notifications to an org's admins: recorded, then emailed (HTML and text) after commit.

Every caller decides *whether* to notify under its own lock (so a notification
is recorded once); this module records it and sends the mail when the
transaction commits, never inside it. Links come from SITE_URL.
"""

from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django_q.tasks import async_task

from accounts.models import Role
from billing import money
from billing.models import Notification


def admin_emails(organization) -> list[str]:
    return sorted(organization.memberships.filter(role=Role.ADMIN)
                  .values_list("user__email", flat=True))


def portal_link(name: str, organization) -> str:
    return f"{settings.SITE_URL}{reverse(name, kwargs={'slug': organization.slug})}"


def send_notification(notification_id: int) -> None:
    """Email one recorded notification to the admins it names (a task, after commit)."""
    notification = Notification.objects.select_related("organization").get(pk=notification_id)
    recipients = [e for e in notification.recipients.split(",") if e]
    if not recipients:
        return
    organization = notification.organization
    context = {
        "notification": notification, "organization": organization, "text": notification.text,
        "balance": money.display_rounded(notification.balance),
        "level": money.display_rounded(notification.level),  # "" when there is none
        "runway_days": notification.runway_days,
        "link": portal_link(notification.link_name, organization),
        "settings_link": portal_link("alerts", organization),
    }
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=render_to_string("emails/billing_notification.txt", context),
        to=recipients,
    )
    message.attach_alternative(render_to_string("emails/billing_notification.html", context),
                               "text/html")
    message.send()


def notify_admins(*, organization, kind: str, subject: str, text: str, balance: Decimal,
                  level: Decimal | None = None, runway_days: Decimal | None = None,
                  link_name: str = "dashboard") -> Notification:
    """Record one notification; its email is queued once the transaction commits."""
    notification = Notification.objects.create(
        organization=organization, kind=kind, subject=subject[:200], text=text,
        link_name=link_name, balance=balance, level=level, runway_days=runway_days,
        recipients=",".join(admin_emails(organization)),
    )
    transaction.on_commit(lambda: async_task("billing.tasks.send_notification_task",
                                             notification.pk, group="notifications"))
    return notification
