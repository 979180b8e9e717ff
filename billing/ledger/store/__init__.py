"""How a book reaches the database: the store for the database in use, chosen once per
vendor; the contract is store/interface.py."""

from django.db import connection

from billing.ledger.store.interface import Store
from billing.ledger.store.orm import OrmStore
from billing.ledger.store.postgres import PostgresStore

_STORES: dict[str, Store] = {}


def current_store() -> Store:
    store = _STORES.get(connection.vendor)
    if store is None:
        chosen = PostgresStore if connection.vendor == "postgresql" else OrmStore
        store = _STORES[connection.vendor] = chosen()
    return store
