"""What the tests that start a real qcluster (or manage.py) in a subprocess share: the
project root, the environment that points it at the test database, and a poll."""

import os
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**extra) -> dict:
    """A production-like process on the test database, one worker; `extra` adds the rest."""
    from django.conf import settings

    # Workers sign ledger entries: they hold the web's chain keys (docs/operate.md).
    chain_keys = ",".join(f"{key_id}={secret}"
                          for key_id, secret in settings.LEDGER_CHAIN_KEYS.items())
    return {
        "PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "False", "SECRET_KEY": "q" * 50, "SECURE_SSL_REDIRECT": "False",
        "DATABASE_URL": database_url(), "Q_WORKERS": "1", "LOG_LEVEL": "WARNING",
        "LEDGER_CHAIN_KEYS": chain_keys, "LEDGER_CHAIN_KEY_ID": settings.LEDGER_CHAIN_KEY_ID,
        **extra,
    }


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
