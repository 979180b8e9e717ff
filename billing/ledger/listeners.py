"""Who hears of a balance change: auto-topup's trigger and the low-balance check.

Listeners are called after the commit of every book that changed the balance, with
(organization=, before=, after=); they connect in billing/apps.py. They run outside
the transaction, never inside it, and one that fails does not stop the others.
"""

from decimal import Decimal

from django.db import transaction

BALANCE_LISTENERS: list = []


def announce(organization, before: Decimal, after: Decimal) -> None:
    for listener in BALANCE_LISTENERS:
        transaction.on_commit(
            lambda listener=listener: listener(organization=organization, before=before,
                                               after=after),
            robust=True,
        )
