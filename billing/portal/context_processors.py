"""Billing's part of every portal page's header: the balance or the debt, and banners.

Listed in TEMPLATES (config/settings.py) after accounts' own context processor; it reads
request.org, which accounts.portal.org_view sets; pages without an org get nothing here.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from billing import money
from billing.ledger.selectors import account_of


def header(request) -> dict:
    org = getattr(request, "org", None)
    if org is None:
        return {}
    # How often static/js/live.js asks for the header again (docs/operate.md, "Live balance").
    return {"header": header_status(org), "live_every_seconds": settings.LIVE_REFRESH_SECONDS}


@dataclass
class HeaderStatus:
    balance: str
    debt: str
    in_debt: bool
    banners: list[dict] = field(default_factory=list)


def header_status(organization) -> HeaderStatus:
    account = account_of(organization)
    balance = account.balance
    banners = []
    if not organization.billing_enabled:
        banners.append({
            "level": "info",
            "text": "Credits billing is included in the Professional and Enterprise plans. "
                    "Upgrade to buy credits and report usage.",
        })
    if balance < 0:
        banners.append({
            "level": "danger",
            "text": f"Your organisation owes {money.display_rounded(-balance)} credits. "
                    "Usage is paused until a purchase repays the debt.",
        })
    return HeaderStatus(
        balance=money.display_rounded(balance),
        debt=money.display_rounded(-balance if balance < 0 else Decimal(0)),
        in_debt=balance < 0,
        banners=banners,
    )
