"""Run the demo's web server and task worker side by side, and stop both for sure.

`make run` (and `make serve`) call `python -m config.supervisor --web CMD --worker CMD`.
Each command runs in a process group of its own. When either command ends, or the
supervisor gets Ctrl-C, SIGTERM or SIGHUP, each command's main process gets SIGTERM (as
systemd's KillMode=mixed does), and a group with any process still alive after the grace
period gets SIGKILL, every process of it (qcluster's sentinel, pusher, monitor and
workers too). The KILL is needed: django-q2 can miss a SIGTERM in its first seconds,
and a process that exits on TERM can leave children behind. What a stop means for a
running task: docs/deploy.md, "Stopping and restarting workers".
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.05
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(Exception):
    pass


def start(command: str) -> subprocess.Popen:
    return subprocess.Popen(shlex.split(command), start_new_session=True)


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies waiting to be reaped do
    not count: they hold no resources and a KILL cannot touch them)."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            return True
    return False


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def stop(processes: list[subprocess.Popen], *, grace: float) -> list[str]:
    """TERM each command's own process, KILL every group still alive after `grace`
    seconds; what was done. Only the leader is asked: qcluster's main process stops its
    sentinel, which lets each worker finish its task; a TERM to the whole group would
    kill the sentinel and the workers mid-task (their TERM is the default, exit)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for process in processes:
            process.poll()  # reap the group leader, so it stops counting as alive
        if not any(group_alive(process.pid) for process in processes):
            break
        time.sleep(POLL_SECONDS)
    actions = []
    for process in processes:
        process.poll()
        if group_alive(process.pid):
            signal_group(process.pid, signal.SIGKILL)
            actions.append(f"pid {process.pid}: killed after {grace:g} s")
        else:
            actions.append(f"pid {process.pid}: stopped")
    for process in processes:
        process.wait()
    return actions


def _raise_stop(signum, frame):
    raise StopRequested(signal.Signals(signum).name)


def run(*, web: str, worker: str, grace: float) -> int:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    processes: dict[str, subprocess.Popen] = {}
    exit_code = 0
    try:
        processes["worker"] = start(worker)
        processes["web"] = start(web)
        for name, process in processes.items():
            print(f"supervisor: {name} pid {process.pid} (process group {process.pid})",
                  flush=True)
        while True:
            ended = [name for name, process in processes.items() if process.poll() is not None]
            if ended:
                exit_code = processes[ended[0]].returncode or 0
                print(f"supervisor: {ended[0]} ended ({exit_code}); stopping", flush=True)
                break
            time.sleep(POLL_SECONDS * 4)
    except StopRequested as request:
        print(f"supervisor: {request} received; stopping", flush=True)
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        for line in stop(list(processes.values()), grace=grace):
            print(f"supervisor: {line}", flush=True)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.supervisor", description=__doc__)
    parser.add_argument("--web", required=True, help="the web server's command line")
    parser.add_argument("--worker", required=True, help="the task worker's command line")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds between SIGTERM and SIGKILL (default 10)")
    args = parser.parse_args(argv)
    return run(web=args.web, worker=args.worker, grace=args.grace)


if __name__ == "__main__":
    sys.exit(main())
