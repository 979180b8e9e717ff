"""Reads of the ledger for the portal and the API: the account, entries, allocations.
No writes here."""


from django.shortcuts import get_object_or_404

from billing.models import CreditAccount, LedgerEntry


def account_of(organization) -> CreditAccount:
    """The org's credit account; an unsaved, empty one if it has never had one (a read
    never creates it: the ledger does, see credit_accounts.ensure_account)."""
    account = CreditAccount.objects.filter(organization=organization).first()
    return account if account is not None else CreditAccount(organization=organization)


def recent_entries(organization, *, limit: int = 10):
    return (
        LedgerEntry.objects.filter(account__organization=organization)
        .select_related("actor_user", "actor_api_key")
        .order_by("-id")[:limit]
    )


def entry_for(organization, entry_id: int) -> LedgerEntry:
    """An entry of this org (404 otherwise), with what it drew on or filled."""
    return get_object_or_404(
        LedgerEntry.objects.select_related("actor_user", "actor_api_key", "reverses"),
        account__organization=organization, pk=entry_id,
    )


def allocations_of(entry: LedgerEntry):
    return entry.allocations.select_related("grant").order_by("id")


def reversal_of(entry: LedgerEntry) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(reverses=entry).first()
