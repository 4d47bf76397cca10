"""routines.signals: the journal as Django signals and log records (SPEC §2)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from routines import api, signals
from routines.exceptions import AlreadyExists
from routines.models import Event, Run
from tests.support.jobs import FAIL, T0, make, once

pytestmark = pytest.mark.django_db


@pytest.fixture
def received() -> Iterator[list[tuple[str, Any]]]:
    """Everything the three signals send, in order, as (signal name, Event or Run)."""
    seen: list[tuple[str, Any]] = []
    receivers = {
        "event_recorded": lambda sender, event, **kw: seen.append(("event_recorded", event)),
        "run_started": lambda sender, run, **kw: seen.append(("run_started", run)),
        "run_finished": lambda sender, run, **kw: seen.append(("run_finished", run)),
    }
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"test-{name}")
    yield seen
    for name in receivers:
        getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")


def names(seen: list[tuple[str, Any]]) -> list[str]:
    return [name if name != "event_recorded" else obj.event_type for name, obj in seen]


def test_create_sends_event_recorded_with_the_committed_event(received: list[tuple[str, Any]]) -> None:
    make("j")
    [(name, event)] = received
    assert (name, event.event_type, event.job_id) == ("event_recorded", "routine_created", "j")
    assert Event.objects.filter(pk=event.pk).exists()


def test_run_started_and_run_finished_bracket_an_execution(received: list[tuple[str, Any]]) -> None:
    statuses: list[str] = []
    signals.run_started.connect(lambda sender, run, **kw: statuses.append(run.status), weak=False, dispatch_uid="t")
    signals.run_finished.connect(lambda sender, run, **kw: statuses.append(run.status), weak=False, dispatch_uid="t2")
    make("j", once(T0))
    received.clear()
    try:
        [result] = api.run_due({"now": T0})
    finally:
        signals.run_started.disconnect(dispatch_uid="t")
        signals.run_finished.disconnect(dispatch_uid="t2")
    assert names(received) == ["run_started", "routine_run_completed", "run_finished"]
    assert received[0][1].run_id == received[2][1].run_id == result.run.run_id
    assert statuses == ["running", "completed"]


def test_every_failed_attempt_is_bracketed_and_journalled(received: list[tuple[str, Any]]) -> None:
    make("j", once(T0), FAIL, retry_policy={"max_attempts": 2})
    received.clear()
    api.run_due({"now": T0})
    assert names(received) == [
        "run_started",
        "routine_run_failed",
        "routine_retry_scheduled",
        "run_finished",
        "run_started",
        "routine_run_failed",
        "run_finished",
    ]


def test_run_now_is_bracketed_too(received: list[tuple[str, Any]]) -> None:
    make("j")
    received.clear()
    run = api.run_now("j")
    assert names(received) == ["run_started", "routine_run_completed", "run_finished"]
    assert received[-1][1] is run


def test_update_cancel_and_delete_are_journalled(received: list[tuple[str, Any]]) -> None:
    make("j")
    api.update("j", {"payload": "secret"})
    api.cancel("j")
    api.delete("j")
    assert names(received) == ["routine_created", "routine_updated", "routine_cancelled", "routine_deleted"]
    assert received[1][1].payload == {"payload": "redacted"}
    assert Event.objects.filter(job_id="j").count() == 4


def test_signals_carry_no_event_for_refused_calls(received: list[tuple[str, Any]]) -> None:
    make("j")
    received.clear()
    with pytest.raises(AlreadyExists):
        make("j")
    assert received == []


def test_the_journal_is_logged_through_the_routines_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="routines")
    make("j", once(T0), FAIL)
    api.run_due({"now": T0})
    records = [(r.levelno, r.event_type, r.job_id) for r in caplog.records if r.name == "routines"]
    assert records == [(logging.INFO, "routine_created", "j"), (logging.WARNING, "routine_run_failed", "j")]
    assert "routine_run_failed job=j run=run_" in caplog.records[-1].getMessage()


def test_the_run_in_run_finished_is_what_was_stored(received: list[tuple[str, Any]]) -> None:
    make("j", once(T0), payload={"n": 1})
    api.run_due({"now": T0})
    finished = received[-1][1]
    stored = Run.objects.get(run_id=finished.run_id)
    assert (finished.status, finished.result, finished.finished_at) == (
        stored.status,
        stored.result,
        stored.finished_at,
    )
