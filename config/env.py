"""Strict reading of settings from the environment.

django-environ parses most values; booleans are parsed here because its own
parser quietly turns any unknown word into False, and a typo in DEBUG or
ALLOW_TEST_PAYMENTS must stop the process instead.
"""

import os

from django.core.exceptions import ImproperlyConfigured


def strict_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw == "True":
        return True
    if raw == "False":
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, not {raw!r}")
