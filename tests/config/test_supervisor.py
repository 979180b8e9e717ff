"""`make run`'s supervisor stops its worker for sure: every process of it, TERM first, KILL
after the grace period; with a stand-in that ignores TERM and with a real qcluster stopped in
its first seconds (the case that left an orphan behind the old `make run`)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from config.supervisor import group_alive

pytestmark = pytest.mark.system
ROOT = Path(__file__).resolve().parents[2]

# A worker that records its pid, ignores SIGTERM (noting that it came), and starts a child
# that ignores it too: the worst a worker can do short of leaving its process group.
STUBBORN = textwrap.dedent("""
    import os, signal, sys, time
    log = sys.argv[1]
    def note(what):
        with open(log, "a") as f:
            f.write(f"{what} {os.getpid()}\\n")
    signal.signal(signal.SIGTERM, lambda *a: note("term"))
    if os.fork() == 0:
        note("child")
    else:
        note("parent")
    while True:
        time.sleep(0.05)
""")
POLITE = textwrap.dedent("""
    import pathlib, sys, time
    pathlib.Path(sys.argv[1]).touch()
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        pass
""")


def supervise(tmp_path, *, web: str, worker: str, grace: float, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "config.supervisor", "--grace", str(grace),
         "--web", web, "--worker", worker],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen,
    )


def noted(log: Path, what: str) -> list[int]:
    if not log.exists():
        return []
    return [int(line.split()[1]) for line in log.read_text().splitlines()
            if line.startswith(what)]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def worker_group(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("supervisor: worker pid"))
    return int(line.split("process group ")[1].rstrip(")"))


def test_a_worker_ignoring_term_is_killed_with_its_child_after_the_grace_period(tmp_path):
    log = tmp_path / "worker.log"
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(STUBBORN)
    web = f"{sys.executable} -c 'import time; time.sleep(1.5)'"
    started = time.monotonic()
    supervisor = supervise(tmp_path, web=web, worker=f"{sys.executable} {stubborn} {log}",
                           grace=1)
    output, _ = supervisor.communicate(timeout=60)
    elapsed = time.monotonic() - started
    pids = noted(log, "parent") + noted(log, "child")
    assert len(pids) == 2, output
    assert noted(log, "term") == noted(log, "parent")  # the worker itself was asked first
    assert not any(running(pid) for pid in pids), output
    assert "killed after 1 s" in output
    assert elapsed < 1.5 + 1 + 5  # the web's life, the grace, a start-up margin


def test_a_worker_that_stops_on_term_is_not_kept_waiting_for_the_grace_period(tmp_path):
    web = f"{sys.executable} -c 'import time; time.sleep(0.5)'"
    worker = f"{sys.executable} -c 'import time; time.sleep(60)'"  # SIGTERM's default: exit
    started = time.monotonic()
    output, _ = supervise(tmp_path, web=web, worker=worker, grace=30).communicate(timeout=60)
    assert time.monotonic() - started < 10
    assert "killed" not in output and output.count(": stopped") == 2
    assert not group_alive(worker_group(output))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_term_stops_the_web_server_and_the_worker(tmp_path, signum):
    polite = tmp_path / "polite.py"
    polite.write_text(POLITE)
    web_up, worker_up = tmp_path / "web.up", tmp_path / "worker.up"
    supervisor = supervise(tmp_path, web=f"{sys.executable} {polite} {web_up}",
                           worker=f"{sys.executable} {polite} {worker_up}", grace=5)
    wait_for(lambda: web_up.exists() and worker_up.exists())
    supervisor.send_signal(signum)
    output, _ = supervisor.communicate(timeout=30)
    assert f"{signal.Signals(signum).name} received" in output
    assert not group_alive(worker_group(output))
    assert "killed" not in output and output.count(": stopped") == 2


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("web_lifetime", ["0.5", "3"])
def test_make_serve_stops_a_real_qcluster_even_in_its_first_seconds(tmp_path, web_lifetime):
    """The demo's worker, started by `make serve` and stopped when the web server ends (as
    when runserver is stopped): nothing of qcluster survives, whatever its start-up stage."""
    from django.db import connection

    db = connection.settings_dict
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)),
        "SECRET_KEY": "supervisor-test", "Q_WORKERS": "2", "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{db['NAME']}",
    }
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "serve", f"BIN={Path(sys.executable).parent}",
         f"DEMO_WEB=sleep {web_lifetime}", "STOP_GRACE=5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "supervisor: web ended (0); stopping" in result.stdout, result.stdout
    pgid = worker_group(result.stdout)
    assert not group_alive(pgid), result.stdout
    assert time.monotonic() - started < float(web_lifetime) + 5 + 10
