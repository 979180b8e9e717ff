"""The weekly price report: genai-prices against the prices in force, mailed to staff.

It writes nothing (billing.pricing.sync.prices with write=False): staff read the
differences and apply them with `sync_model_prices --apply` (new rows from
the next UTC midnight; series changed by hand are left alone). A mail goes
only when there is something to say, to every active staff member with an
address. Run weekly by the `billing.price_report` schedule (billing/schedules.py),
by hand with `sync_model_prices --report-to-staff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from billing.pricing.sync.prices import sync_prices

SHOWN = 200  # differences listed in one mail; the rest are counted


@dataclass(frozen=True)
class PriceReport:
    differences: int
    models_not_synced: int
    mailed_to: int


def report_price_differences(*, now: datetime | None = None) -> PriceReport:
    now = now or timezone.now()
    report = sync_prices(now=now, write=False)
    found, missing = report.differences, report.models_not_synced
    if not found and not missing:
        return PriceReport(0, 0, 0)
    recipients = list(
        User.objects.filter(is_staff=True, is_active=True).exclude(email="")
        .order_by("email").values_list("email", flat=True)
    )
    if recipients:
        context = {
            "now": now, "differences": found[:SHOWN], "more": max(0, len(found) - SHOWN),
            "count": len(found), "models_not_synced": missing,
            "hand_edited": sum(1 for d in found if "staff" in d.source),
            "prices_url": settings.SITE_URL + reverse("admin:billing_modelprice_changelist"),
        }
        message = EmailMultiAlternatives(
            subject=f"genai-prices: {len(found)} price difference(s) to review",
            body=render_to_string("emails/price_differences.txt", context),
            to=recipients,
        )
        message.attach_alternative(render_to_string("emails/price_differences.html", context),
                                   "text/html")
        message.send()
    return PriceReport(len(found), missing, len(recipients))
