"""How a book's postings reach the database, behind one interface (store/base.py),
with the store chosen once per database vendor."""

from django.db import connection

from billing.ledger.store.base import Store

_STORES: dict[str, Store] = {}


def current() -> Store:
    """The store for the default connection's database."""
    store = _STORES.get(connection.vendor)
    if store is None:
        if connection.vendor == "postgresql":
            from billing.ledger.store.postgres import PostgresStore as chosen
        else:
            from billing.ledger.store.orm import OrmStore as chosen
        store = _STORES[connection.vendor] = chosen()
    return store
