""".ci/run exports only what something reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ_BY_TOOLS = {"DEBIAN_FRONTEND"}  # apt-get's


def test_every_exported_variable_is_read():
    script = (ROOT / ".ci" / "run").read_text()
    exported = set(re.findall(r"^\s*export\s+([A-Z_]+)=", script, re.M))
    assert "DATABASE_URL" in exported
    sources = [p for folder in ("config", "accounts", "billing", "reporting", "tests")
               for p in (ROOT / folder).rglob("*.py") if p.name != "test_ci_run.py"]
    sources.append(ROOT / "Makefile")
    text = "\n".join(p.read_text() for p in sources)
    unread = {name for name in exported - READ_BY_TOOLS if name not in text}
    assert not unread, f".ci/run exports variables nothing reads: {sorted(unread)}"
