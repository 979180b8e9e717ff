"""Reads for the portal, the admin and the API. No writes here."""

from dataclasses import dataclass, field
from decimal import Decimal

from billing import money
from billing.models import CreditAccount, LedgerEntry


@dataclass
class HeaderStatus:
    balance: str
    debt: str
    in_debt: bool
    banners: list[dict] = field(default_factory=list)


def account_of(organization) -> CreditAccount:
    account = CreditAccount.objects.filter(organization=organization).first()
    if account is None:  # orgs made before billing existed, or by hand in the admin
        from billing.ledger.account_setup import setup_organization

        account = setup_organization(organization=organization)
    return account


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
            "text": f"Your organisation owes {money.display(-balance)} credits. Usage is paused "
                    "until a purchase repays the debt.",
        })
    return HeaderStatus(
        balance=money.display(balance),
        debt=money.display(-balance if balance < 0 else Decimal(0)),
        in_debt=balance < 0,
        banners=banners,
    )


def recent_entries(organization, *, limit: int = 10):
    return (
        LedgerEntry.objects.filter(account__organization=organization)
        .select_related("actor_user", "actor_api_key")
        .order_by("-id")[:limit]
    )


def entry_for(organization, entry_id: int) -> LedgerEntry:
    """An entry of this org (404 otherwise), with what it drew on or filled."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        LedgerEntry.objects.select_related("actor_user", "actor_api_key", "reverses"),
        account__organization=organization, pk=entry_id,
    )


def allocations_of(entry: LedgerEntry):
    return entry.allocations.select_related("grant").order_by("id")


def reversal_of(entry: LedgerEntry) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(reverses=entry).first()
