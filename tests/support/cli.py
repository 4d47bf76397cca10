"""Driving ``manage.py routines`` in the test process (call_command) and as a real child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command

from routines.management.commands.routines import Command

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    out: str
    err: str
    exit_code: int

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def routines(*args: str, stdin: str | None = None) -> Result:
    """``routines ARGS`` through call_command; a CommandError propagates as it would to Django."""
    out, err = StringIO(), StringIO()
    command = Command()
    extra: dict[str, Any] = {"stdin": StringIO(stdin)} if stdin is not None else {}
    call_command(command, *args, stdout=out, stderr=err, **extra)
    return Result(out.getvalue(), err.getvalue(), command.exit_code)


def child_env() -> dict[str, str]:
    """The environment of a child that works on the calling test's database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ROUTINES_USE_TEST_DB": "1",
        "PYTHONPATH": str(ROOT),
    }


def routines_process(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m django routines ARGS`` as a real process on the test database."""
    return subprocess.run(
        [sys.executable, "-m", "django", "routines", *args],
        cwd=ROOT,
        env={**child_env(), **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
