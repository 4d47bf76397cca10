"""Several runners that see the same late jobs at the same moment write one event per late slot."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from routines import api
from routines.models import Event
from tests.support.processes import start

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


def test_four_runners_starting_together_journal_each_late_slot_once(tmp_path: Path) -> None:
    if connection.vendor not in ("postgresql", "mysql"):
        pytest.skip("needs PostgreSQL or MariaDB/MySQL (ROUTINES_TEST_DB=postgres|mysql): SQLite has one writer")
    due = timezone.now() - timedelta(hours=1)
    api.create_many(
        {
            "job_id": f"late{i}",
            "schedule": {"type": "once", "at": due},
            "target": {"type": "run"},
            "late_after_ms": 1000,
        }
        for i in range(40)
    )
    go = tmp_path / "go"
    procs = [start("--json", go=go) for _ in range(4)]
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (out, err)
    counts = Counter(Event.objects.filter(event_type="routine_slot_late").values_list("job_id", flat=True))
    assert counts == {f"late{i}": 1 for i in range(40)}
    assert Event.objects.filter(event_type="routine_run_completed").count() == 40
