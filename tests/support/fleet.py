"""Real worker fleets for the scale-out tests and bench: RQ and Celery workers, skewed ``run_due`` hosts.

Every process is started in its own session, so stopping it (SIGTERM, then SIGKILL after a grace
period) also stops the children it forked: a test leaves no stray worker behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

from tests.support.processes import ROOT, child_env

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env or child_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen[Any], grace: float = 15.0) -> None:
    """SIGTERM the process group (workers finish the job in hand), SIGKILL it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass
    try:  # forked children that outlived their parent
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def processes(
    commands: list[tuple[list[str], dict[str, str] | None]], logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start every command, yield the processes, and stop them all however the block ends."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, (command, env) in enumerate(commands):
            procs.append(spawn(command, logs / f"process-{i}.log", env))
        yield procs
    finally:
        for proc in procs:
            stop(proc)


def rq_worker(name: str) -> list[str]:
    return [
        sys.executable, "-m", "django", "rqworker", settings.SCALE_QUEUE,
        "--job-class", "django_tasks_rq.Job", "--name", name,
        "--worker-class", "rq.worker.SimpleWorker",  # runs jobs in the worker process: no fork per job
    ]  # fmt: skip


def celery_worker(name: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "django_tasks_fennel.app", "worker",
        "-Q", settings.SCALE_QUEUE, "-n", f"{name}@%h", "-P", "solo", "-l", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def faketime_env(offset: str) -> dict[str, str]:
    """An environment whose processes read a wall clock ``offset`` away (``+5m``, ``-4m``).

    Only the wall clock is skewed, as on a real host: with a faked monotonic clock libfaketime
    makes ``threading.Event.wait`` (the runner's sleeps) hang for ever.
    """
    return child_env(
        LD_PRELOAD=FAKETIME_LIB, FAKETIME=offset, FAKETIME_DONT_RESET="1", FAKETIME_DONT_FAKE_MONOTONIC="1"
    )


def has_faketime() -> bool:
    return Path(FAKETIME_LIB).exists() and shutil.which("faketime") is not None


def run_due_host(runner_id: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.support.process_driver", "--runner-id", runner_id, *extra]
