"""Opening an organisation's credit account: the only code that creates one."""

from __future__ import annotations

from billing.models import CreditAccount


def ensure_account(*, organization) -> CreditAccount:
    """The org's credit account, created if it has none.

    Runs when an organisation is created (so staff can adjust it at once) and on
    the first posting of an org that predates billing or skipped signals.
    """
    # get_or_create creates in a savepoint and re-reads when a concurrent creator won.
    account, _ = CreditAccount.objects.get_or_create(organization=organization)
    return account


def open_account_of_new_organization(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save receiver for accounts.Organization (connected in billing/apps.py)."""
    if created and not raw:
        ensure_account(organization=instance)
