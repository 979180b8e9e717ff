"""Faults for the tests: a port nobody listens on, database options for a while, a held lock."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager

from django.db import connection, connections, transaction

from billing.models import CreditAccount


def dead_port() -> int:
    """A local port with nothing listening on it (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def database_timeouts(*, statement_ms: int, lock_ms: int):
    """New connections get these timeouts, the way settings' DATABASE_*_TIMEOUT_MS set them."""
    options = connections["default"].settings_dict.setdefault("OPTIONS", {})
    saved = options.get("options")
    connection.close()
    options["options"] = f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}"
    try:
        yield
    finally:
        connection.close()
        if saved is None:
            options.pop("options", None)
        else:
            options["options"] = saved


@contextmanager
def account_locked(org):
    """Another connection holds the org's account row lock until the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                CreditAccount.objects.select_for_update().get(organization=org)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10), "the lock holder never got the lock"
    try:
        yield
    finally:
        release.set()
        holder.join(10)
