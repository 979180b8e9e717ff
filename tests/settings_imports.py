"""config.settings imported under one environment after another in one child process: the
settings matrix (tests/accounts/test_settings.py, tests/config/test_q_cluster.py) once
started a Python per case, most of those modules' time. For each case the child empties
os.environ, sets exactly the case's variables (so the test run's never leak in), drops
every config module and imports config.settings afresh, as a new process would; it answers
with the settings asked for, or the traceback (the stderr of `python -c "import ..."`).
Run as `python -m tests.settings_imports` from the repository root: one JSON line in, one
out, per case."""

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Imported:
    """What a process that imported the settings would have shown."""

    returncode: int  # 0: imported; 1: the import raised
    settings: dict  # the settings asked for, as JSON has them
    stderr: str  # the traceback when it raised


class SettingsImporter:
    """The parent's side: one child for every case of a test session (or xdist worker)."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", "tests.settings_imports"],
            cwd=ROOT,
            env={"PATH": os.environ.get("PATH", "")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, env: dict[str, str], names: tuple[str, ...] = ()) -> Imported:
        base = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "config.settings"}
        self._child.stdin.write(json.dumps({"env": {**base, **env}, "names": names}) + "\n")
        self._child.stdin.flush()
        answer = self._child.stdout.readline()
        if not answer:
            raise RuntimeError(f"the settings child exited with {self._child.wait()}")
        return Imported(**json.loads(answer))

    def close(self) -> None:
        self._child.stdin.close()
        self._child.wait(timeout=30)


def import_one(env: dict[str, str], names: list[str]) -> dict:
    os.environ.clear()
    os.environ.update(env)
    for name in [m for m in sys.modules if m == "config" or m.startswith("config.")]:
        del sys.modules[name]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # our stdout carries the answers
            module = importlib.import_module("config.settings")
    except SystemExit as stop:  # a refused setting: the interpreter prints its one line
        code = stop.code
        if isinstance(code, str):
            return {"returncode": 1, "settings": {}, "stderr": code + "\n"}
        return {"returncode": code or 0, "settings": {}, "stderr": ""}
    except Exception:
        return {"returncode": 1, "settings": {}, "stderr": traceback.format_exc()}
    values = {name: getattr(module, name) for name in names}
    return {"returncode": 0, "settings": json.loads(json.dumps(values, default=str)), "stderr": ""}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(import_one(request["env"], request["names"])), flush=True)


if __name__ == "__main__":
    main()
