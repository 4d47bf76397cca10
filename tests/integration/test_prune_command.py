"""manage.py prune_routines (SPEC §11): flags, defaults, dry run, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from routines.models import Event, Run
from tests.support.processes import ROOT, child_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> None:
    now = timezone.now()
    Run.objects.bulk_create(
        [
            Run(run_id=f"run_{i}", job_id="a", status="completed", started_at=now - timedelta(days=d), manual=True)
            for i, d in enumerate([100, 50, 40, 2, 1])
        ]
    )
    Event.objects.bulk_create(
        [Event(event_type="x", job_id="a", payload={}, created_at=now - timedelta(days=d)) for d in (120, 95, 1)]
    )


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_routines", *args, stdout=out)
    return out.getvalue()


def test_defaults_keep_ten_runs_and_ninety_days_of_events(history: None) -> None:
    assert prune() == "prune_routines: removed 0 runs and 2 events\n"
    assert Run.objects.count() == 5 and Event.objects.count() == 1


def test_flags_choose_retention_and_keep_last(history: None) -> None:
    assert "removed 2 runs and 1 events" in prune(
        "--runs-older-than", "30d", "--events-older-than", "2400h", "--keep-last", "3"
    )
    assert set(Run.objects.values_list("run_id", flat=True)) == {"run_2", "run_3", "run_4"}


def test_dry_run_prints_what_would_go(history: None) -> None:
    assert prune("--runs-older-than", "90m", "--keep-last", "0", "--dry-run") == (
        "prune_routines: would remove 5 runs and 2 events\n"
    )
    assert Run.objects.count() == 5


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--runs-older-than", "30"], "--runs-older-than"),
        (["--events-older-than", "soon"], "--events-older-than"),
        (["--keep-last", "-1"], "--keep-last"),
        (["--keep-last", "ten"], "--keep-last"),
    ],
)
def test_bad_values_name_the_flag(history: None, args: list[str], flag: str) -> None:
    with pytest.raises(CommandError, match=flag):
        prune(*args)
    assert Run.objects.count() == 5


def test_bad_setting_is_a_command_error(history: None, settings: pytest.FixtureRequest) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "PRUNE_RUNS_OLDER_THAN": "a month"}
    with pytest.raises(CommandError, match="PRUNE_RUNS_OLDER_THAN"):
        prune()


def prune_child(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "django", "prune_routines", *args]
    return subprocess.run(argv, cwd=ROOT, env=child_env(**env), capture_output=True, text=True, timeout=60)


@pytest.mark.processes
@pytest.mark.parametrize("args", [["--keep-last"], ["--dry-run", "--colour", "blue"], ["--keep-last", "-1"]])
def test_bad_arguments_are_one_line_without_usage(args: list[str]) -> None:
    out = prune_child(*args)
    assert out.returncode != 0
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "usage" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.processes
def test_an_unreachable_database_is_one_line() -> None:
    pytest.importorskip("psycopg", reason="needs the PostgreSQL driver to point at a closed port")
    out = prune_child(ROUTINES_TEST_DB="postgres", ROUTINES_TEST_PG_HOST="127.0.0.1", ROUTINES_TEST_PG_PORT="1")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("CommandError: database error:")
