"""Who hears of a balance change: auto-topup's trigger and the low-balance check.

Listeners are called after the commit of every book that changed the balance, with
(organization=, before=, after=); they connect in billing/apps.py. They run outside
the transaction, never inside it, and one that fails does not stop the others.
A fall that stays at or above the account's watch level (billing/ledger/watch.py)
is not announced: no listener has anything to do with it.
"""

from decimal import Decimal

from django.db import transaction

from billing.ledger.watch import worth_announcing

BALANCE_LISTENERS: list = []


def announce(organization, before: Decimal, after: Decimal,
             watch_level: Decimal | None) -> None:
    """`watch_level`: the account's, as read with its lock."""
    if not worth_announcing(before=before, after=after, watch_level=watch_level):
        return
    for listener in BALANCE_LISTENERS:
        transaction.on_commit(
            lambda listener=listener: listener(organization=organization, before=before,
                                               after=after),
            robust=True,
        )
