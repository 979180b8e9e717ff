"""`make demo-env` (the first step of `make run`): writes the demo's .env once, and refuses
an .env that is not the demo's instead of serving the demo with production settings."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.system,
              pytest.mark.skipif(shutil.which("make") is None, reason="needs make")]


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "config" / "demo.env", tmp_path / "config")
    return tmp_path


def demo_env(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "demo-env"], cwd=where,
                          capture_output=True, text=True, timeout=60)


def test_writes_the_demo_env_once_and_keeps_it(checkout):
    assert demo_env(checkout).returncode == 0
    written = (checkout / ".env").read_text()
    assert written == (ROOT / "config" / "demo.env").read_text()
    assert "DEBUG=True" in written and "PAYMENTS_PROVIDER=test" in written
    assert "DATABASE_URL" not in written  # SQLite
    (checkout / ".env").write_text(written + "LOG_LEVEL=DEBUG\n")
    again = demo_env(checkout)
    assert again.returncode == 0 and "Wrote" not in again.stdout
    assert (checkout / ".env").read_text().endswith("LOG_LEVEL=DEBUG\n")


def test_refuses_a_copy_of_env_example(checkout):
    shutil.copy(ROOT / ".env.example", checkout / ".env")
    result = demo_env(checkout)
    assert result.returncode != 0
    assert "not the demo's" in result.stderr
    assert (checkout / ".env").read_text() == (ROOT / ".env.example").read_text()


def test_make_clean_removes_only_the_demo_env(checkout):
    (checkout / ".venv").mkdir()
    demo_env(checkout)
    subprocess.run(["make", "clean"], cwd=checkout, capture_output=True, timeout=60, check=True)
    assert not (checkout / ".env").exists()
    shutil.copy(ROOT / ".env.example", checkout / ".env")
    subprocess.run(["make", "clean"], cwd=checkout, capture_output=True, timeout=60, check=True)
    assert (checkout / ".env").exists()


def served_site_url(checkout: Path, *args: str, env: dict | None = None) -> str:
    """What the demo's server and worker would see as SITE_URL (SERVE replaced by printenv)."""
    env = env or {k: v for k, v in os.environ.items() if k != "SITE_URL"}
    result = subprocess.run(["make", "--no-print-directory", "-o", "demo", "run", *args,
                             "SERVE=printenv SITE_URL"], cwd=checkout, capture_output=True,
                            text=True, timeout=60, env=env, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_site_url_follows_demo_addr(checkout):
    assert served_site_url(checkout, "DEMO_ADDR=127.0.0.1:9123") == "http://127.0.0.1:9123"
    assert served_site_url(checkout) == "http://127.0.0.1:8000"


def test_a_site_url_given_to_make_wins(checkout):
    env = {**os.environ, "SITE_URL": "https://billing.example.com"}
    assert served_site_url(checkout, "DEMO_ADDR=127.0.0.1:9123", env=env) == (
        "https://billing.example.com")
