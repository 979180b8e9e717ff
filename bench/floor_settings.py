"""Bench-only settings: the app's own settings plus one URL, the web floor (bench/web_floor.py).

Served by gunicorn exactly like the app (same settings otherwise), so the floor
and the API figures of a run come from the same server.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
