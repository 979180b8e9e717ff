"""The WSGI entry point (config/wsgi.py): the app is loaded whole (with the stripe package
when Stripe is configured), then frozen out of the garbage collector's full passes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import gc, json, sys
import config.wsgi
print(json.dumps({"frozen": gc.get_freeze_count(),
                  "views": "billing.api.views" in sys.modules,
                  "stripe": "stripe" in sys.modules}))
"""

pytestmark = pytest.mark.system


@pytest.mark.parametrize("stripe_configured", [True, False])
def test_the_app_is_loaded_and_frozen_before_the_first_request(stripe_configured):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    if not stripe_configured:
        env.update(STRIPE_SECRET_KEY="", STRIPE_WEBHOOK_SECRET="")
    found = json.loads(subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env,
                                      capture_output=True, text=True, check=True).stdout)
    # The views are imported by the URLconf, before any request asked for them ...
    assert found["views"] is True
    # ... and with them, the process's objects are frozen: Django's and ours are tens of
    # thousands (an unfrozen process reports 0).
    assert found["frozen"] > 50_000
    # The stripe package is imported on first use (no view imports it at its start), so a
    # web process loads it here, before the freeze, only where Stripe is configured.
    assert found["stripe"] is stripe_configured
