"""Cron schedules end to end through the API and the database (the pure rules are in
tests/unit/test_cron.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from routines import api
from tests.unit.test_cron import PARIS, local

pytest.importorskip("cronsim", reason="cron schedules need the cronsim package (a core dependency)")


# End to end ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cron_job_runs_through_the_api_across_a_dst_change() -> None:
    before = local(PARIS, 2026, 3, 28, 12)
    from django.utils import timezone as djtz

    with djtz.override(PARIS):
        job = api.create(
            {"job_id": "cron1", "schedule": {"type": "cron", "expr": "30 2 * * *"}, "target": {"type": "run"}}
        )
    assert job.schedule["timezone"] == "Europe/Paris"
    assert [j.job_id for j in api.list({"schedule_type": "cron"})] == ["cron1"]
    api.update("cron1", {"next_run_at": before + timedelta(hours=1)})
    done = api.run_due({"now": local(PARIS, 2026, 3, 29, 12)})
    assert [r.slot_at for r in done] == [before + timedelta(hours=1)]
    # Not catching up: the next slot is the next match after now.
    assert api.get("cron1").next_run_at == local(PARIS, 2026, 3, 30, 2, 30)


@pytest.mark.django_db
def test_cron_catch_up_replays_every_missed_slot_in_one_call() -> None:
    start = local(PARIS, 2026, 3, 27, 12)
    api.create(
        {
            "job_id": "cron2",
            "schedule": {"type": "cron", "expr": "30 2 * * *", "timezone": "Europe/Paris", "catch_up": True},
            "target": {"type": "run"},
            "next_run_at": local(PARIS, 2026, 3, 28, 2, 30),
        }
    )
    done = api.run_due({"now": local(PARIS, 2026, 3, 30, 12)})
    assert [r.slot_at for r in done] == [
        local(PARIS, 2026, 3, 28, 2, 30),
        local(PARIS, 2026, 3, 29, 3),
        local(PARIS, 2026, 3, 30, 2, 30),
    ]
    assert api.get("cron2").next_run_at == local(PARIS, 2026, 3, 31, 2, 30)
    assert start < done[0].slot_at
