"""README.md's shell examples, run as written, in order, against a temporary copy of the demo.

The checkout is copied (without .venv, .env or databases; the copy's .venv is a link
to this one's), `make run` serves it on a free port, and the README's ```sh blocks then
run in one bash, `set -euo pipefail`, with a plain PATH and none of the test run's
environment: what a newcomer types in a second terminal. Only 127.0.0.1:8000 is
changed, to the free port. A block is left out only under a
`<!-- readme-test: skip (reason) -->` line, and the reason must be given.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!-- readme-test: skip \((?P<reason>[^)]+)\) -->\s*$")
FENCE = re.compile(r"^```sh\n(?P<body>.*?)^```", re.S | re.M)
# What .gitignore keeps out of a clone, and what the copy must not inherit.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".env", "*.sqlite3", "*.sqlite3-*", "staticfiles", "__pycache__",
    ".pytest_cache", ".ruff_cache", ".hypothesis", "*.egg-info", "build", "out",
)


def readme_blocks(text: str) -> tuple[list[str], list[str]]:
    """(blocks to run, reasons of the skipped ones), in the README's order."""
    run, skipped = [], []
    for match in FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = SKIP.match(before)
        if marker:
            skipped.append(marker.group("reason"))
        else:
            run.append(match.group("body"))
    return run, skipped


def plain_env(home: Path) -> dict[str, str]:
    """A new terminal's environment: no virtualenv on PATH, no settings of the test run."""
    path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(":") if ".venv" not in p]
    return {"PATH": ":".join(path), "HOME": str(home), "LANG": "C.UTF-8"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"make run exited with {server.returncode}:\n{server.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the demo did not answer {url} within {seconds} s")


def stop_group(process: subprocess.Popen) -> None:
    """Stop a process started in its own session and everything it started (the demo's
    qcluster outlives a SIGTERM to make, so its group gets SIGKILL after a grace)."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.5)  # let the group's other members see the signal too


def run_in_own_group(args: list[str], *, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, **kwargs)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process)
        stdout, stderr = process.communicate()
        pytest.fail(f"README examples still running after {timeout} s:\n{stdout}\n{stderr}")
    finally:
        if process.poll() is None:
            stop_group(process)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)


def test_blocks_are_found_and_skips_give_a_reason():
    run, skipped = readme_blocks((ROOT / "README.md").read_text())
    assert len(run) >= 2, "the README's operator and API examples should be run"
    assert all(reason.strip() for reason in skipped)


def test_readme_idempotency_keys_are_not_reused_by_the_docs():
    """A newcomer who runs the README and then docs/api.md must not hit idempotency_conflict."""
    pattern = re.compile(r'"idempotency_key":\s*"([^"]+)"')
    readme = set(pattern.findall((ROOT / "README.md").read_text()))
    pages = (ROOT / "docs").glob("*.md")
    docs = {key for page in pages for key in pattern.findall(page.read_text())}
    assert readme and not readme & docs


@pytest.mark.system
@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs make install")
@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("make") is None,
                    reason="needs curl and make")
def test_readme_shell_examples_run_as_written(tmp_path):
    demo = tmp_path / "checkout"
    shutil.copytree(ROOT, demo, ignore=NOT_COPIED)
    (demo / ".venv").symlink_to(ROOT / ".venv")
    env = plain_env(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        # -o: the linked .venv is this checkout's; never rebuild it from the copy.
        ["make", "-o", ".venv/.installed-stamp", "run", f"DEMO_ADDR=127.0.0.1:{port}"],
        cwd=demo, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/v1/openapi.json", server, seconds=300)
        blocks, _ = readme_blocks((demo / "README.md").read_text())
        script = "set -euo pipefail\n" + "\n".join(
            f"echo '--- README block {n}'\n{body}" for n, body in enumerate(blocks, 1)
        ).replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        result = run_in_own_group(["bash", "-c", script], cwd=demo, env=env, timeout=300)
    finally:
        stop_group(server)
    shown = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    assert re.search(r'"balance":\s*"\d', result.stdout), shown
    assert re.search(r'"status":\s*"charged"', result.stdout), shown
