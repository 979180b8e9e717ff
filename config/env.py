"""Strict reading of settings from the environment.

django-environ parses most values; booleans are parsed here because its own
parser quietly turns any unknown word into False, and a typo in DEBUG or
ALLOW_TEST_PAYMENTS must stop the process instead.

A refused setting stops the process with one line on stderr and exit status 1, not a
traceback (SettingsRefused is a SystemExit), and is still an ImproperlyConfigured to code
that catches one.
"""

import os

from django.core.exceptions import ImproperlyConfigured


class SettingsRefused(ImproperlyConfigured, SystemExit):
    def __init__(self, message: str):
        super().__init__(message)
        self.code = f"Configuration error: {message}"  # what the interpreter prints


def strict_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw == "True":
        return True
    if raw == "False":
        return False
    raise SettingsRefused(f"{name} must be True or False, not {raw!r}")
