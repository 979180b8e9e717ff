"""What every benchmark stands on: a database of its own, the app's environment, gunicorn
and qcluster as child processes, clients released together in threads.

The scripts beside this one measure; this module only sets up and tears down, the same
way for all of them, so their figures compare (bench/README.md).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
# The app's settings plus one URL, the web floor's (bench/floor_urls.py): one server
# answers both, so a run's ratios to the floor come from the same processes.
FLOOR_SETTINGS = "bench.floor_settings"


# -- the database and the app's environment ------------------------------------------------------

def app_env(db_url: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "bench-not-secret", "DEBUG": "False", "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "False", "PAYMENTS_PROVIDER": "test",
        "ALLOW_TEST_PAYMENTS": "True", "CONN_MAX_AGE": "600", "LOG_LEVEL": "WARNING",
    })
    return env


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate_and_seed(env: dict, orgs: list[str]) -> dict[str, str]:
    """Migrate, seed prices (sync_model_prices), create the orgs; returns slug -> raw API key."""
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env,
                   check=True)
    subprocess.run([PYTHON, "manage.py", "sync_model_prices"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    script = (
        "import json, sys\n"
        "from decimal import Decimal\n"
        "from accounts.services import create_organization, create_api_key\n"
        "from billing.ledger.corrections import adjust_credits\n"
        "from billing.ledger.actor import Actor\n"
        "keys = {}\n"
        f"for slug in {orgs!r}:\n"
        "    org = create_organization(name=slug, slug=slug, plan='professional')\n"
        "    adjust_credits(organization=org, credits=Decimal('10000000000'), reason='bench',\n"
        "                   actor=Actor.system('bench'))\n"
        "    keys[slug] = create_api_key(organization=org, name='bench', created_by=None).raw_key\n"
        "print(json.dumps(keys))\n"
    )
    out = subprocess.run([PYTHON, "manage.py", "shell", "-c", script], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def settle(url: str) -> None:
    """CHECKPOINT before each measured phase, so no phase pays for the WAL of the one before
    (commit latency under the org's lock is what single-event throughput is made of)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


# -- clients ------------------------------------------------------------------------------------

def run_threads(count: int, work) -> float:
    """Run work(i) in `count` threads released together; returns the elapsed seconds."""
    barrier = threading.Barrier(count + 1)
    errors = []

    def target(i):
        try:
            barrier.wait()
            work(i)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} client errors, first: {errors[0]!r}")
    return elapsed


# -- servers and workers --------------------------------------------------------------------------

def server_env(env: dict) -> dict:
    """The app's environment with the floor's URL added (nothing else changes)."""
    return {**env, "DJANGO_SETTINGS_MODULE": FLOOR_SETTINGS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int, threads: int,
                   log: Path, tree: Path = ROOT) -> subprocess.Popen:
    """The app of checkout `tree` (its own .venv) under gunicorn, once it answers."""
    proc = subprocess.Popen(
        [str(tree / ".venv" / "bin" / "gunicorn"), "config.wsgi:application",
         "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
         "--log-level", "warning", "--backlog", "512"],
        cwd=tree, env=env, start_new_session=True, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/balance")
            if conn.getresponse().status == 401:
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_workers(env: dict, workers: int, log: Path) -> subprocess.Popen:
    """`manage.py qcluster` with `workers` processes, in its own process group."""
    return subprocess.Popen([PYTHON, "manage.py", "qcluster"], cwd=ROOT,
                            env={**env, "Q_WORKERS": str(workers)}, start_new_session=True,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


# -- statistics ---------------------------------------------------------------------------------

HOT_TABLES = ("billing_usageevent, billing_ledgerentry, billing_grantallocation, "
              "billing_dailyusage")


class Analyzer:
    """Stands in for autovacuum's ANALYZE when the server runs with autovacuum off (as a
    fresh test box may): without statistics the planner misjudges tables that grow from
    empty to millions of rows during the run, which no production server would see."""

    def __init__(self, url: str, every: float = 15.0):
        self.url, self.every = url, every
        self.stopped = threading.Event()
        with psycopg.connect(url, autocommit=True) as conn:
            self.needed = conn.execute("SHOW autovacuum").fetchone()[0] != "on"
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopped.wait(self.every):
                conn.execute(f"ANALYZE {HOT_TABLES}")

    def __enter__(self):
        if self.needed:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        if self.needed:
            self.thread.join()
