#!/usr/bin/env python
"""Which of the project's files one synchronous usage event passes through, from the API
view to its ledger row: a count of the code's layout, not a timing.

On a database of its own (dropped and re-created, migrated and seeded as the other
benchmarks do), it posts single events through Django's test client, and traces the
last one with Python's profiler hook (`sys.setprofile`): every call into a function of
accounts/, billing/ or reporting/ whose file differs from the caller's is a crossing.
It prints the files in the order they are first entered, and:

- files: how many distinct files the event enters;
- folder changes: crossings that also change folder (usage/ -> ledger/ ...);
- re-entries: crossings into a file the event had already entered and left (a
  return from a call is not a crossing; calling back into an earlier file is).

    .venv/bin/python bench/charge_path.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

PROJECT = tuple(str(harness.ROOT / app) + os.sep for app in ("accounts", "billing", "reporting"))


def project_file(filename: str) -> str | None:
    if filename.startswith(PROJECT) and "/migrations/" not in filename:
        return os.path.relpath(filename, harness.ROOT)
    return None


VIEW = ("billing/api/views.py", "post_usage_events")


def trace(call) -> list[str]:
    """The project files entered while the API view runs, by calls that cross from one file
    to another, in order (the view's own file first)."""
    entered: list[str] = []
    inside = []

    def profile(frame, event, arg):
        callee = project_file(frame.f_code.co_filename)
        if (callee, frame.f_code.co_name) == VIEW and event in ("call", "return"):
            if event == "call":
                inside.append(frame)
                entered.append(callee)
            elif inside and inside[-1] is frame:
                inside.pop()
            return
        if event != "call" or callee is None or not inside:
            return
        caller = frame.f_back
        while caller is not None and project_file(caller.f_code.co_filename) is None:
            caller = caller.f_back  # through the framework, to the project's caller
        if caller is None or project_file(caller.f_code.co_filename) != callee:
            entered.append(callee)

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return entered


def summary(entered: list[str]) -> dict:
    seen, re_entries, folder_changes = [], 0, 0
    for previous, current in zip([None, *entered], entered, strict=False):
        if current in seen and current != previous:
            re_entries += 1
        if previous is not None and os.path.dirname(previous) != os.path.dirname(current):
            folder_changes += 1
        if current not in seen:
            seen.append(current)
    return {"files": len(seen), "folder_changes": folder_changes,
            "re_entries": re_entries, "order": seen}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="charge_path")
    args = parser.parse_args()
    db_url = args.admin_url.rsplit("/", 1)[0] + "/" + args.database
    harness.recreate_database(args.admin_url, args.database)
    env = harness.app_env(db_url)
    raw_key = harness.migrate_and_seed(env, ["path"])["path"]
    os.environ.update(env)
    import django

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")

    def post(key: str):
        event = {"idempotency_key": key, "type": "ai_tokens", "model": "gpt-4o",
                 "input_tokens": 1200, "output_tokens": 300, "user": "ana@path.test",
                 "operation": "chat.completion"}
        response = client.post("/api/v1/usage-events", json.dumps({"events": [event]}),
                               content_type="application/json",
                               headers={"authorization": f"Bearer {raw_key}"})
        assert response.status_code == 200, response.content
        assert response.json()["results"][0]["status"] == "charged", response.content

    post("warm-1")  # caches filled, the key's last_used written
    post("warm-2")
    result = summary(trace(lambda: post("traced")))
    for name in result.pop("order"):
        print(f"  {name}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
