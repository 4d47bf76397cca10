"""The pure translation between the structured editor's fields and schedule/retry dicts."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routines import editing, schedules
from routines.exceptions import InvalidInput
from routines.times import UTC

T = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_interval_fields_become_every_ms() -> None:
    schedule, errors = editing.schedule_from_fields({"schedule_type": "interval", "every": 5, "every_unit": "minutes"})
    assert errors == {} and schedule == {"type": "interval", "every_ms": 300_000, "catch_up": False}


def test_cron_fields_become_a_cron_schedule() -> None:
    values = {"schedule_type": "cron", "cron_expr": " 0 9 * * 1-5 ", "cron_timezone": "Europe/Paris", "catch_up": True}
    assert editing.schedule_from_fields(values) == (
        {"type": "cron", "expr": "0 9 * * 1-5", "timezone": "Europe/Paris", "catch_up": True},
        {},
    )


def test_once_needs_a_time_and_json_passes_through() -> None:
    assert editing.schedule_from_fields({"schedule_type": "once"}) == (None, {"once_at": editing.REQUIRED})
    assert editing.schedule_from_fields({"schedule_type": "once", "once_at": T}) == ({"type": "once", "at": T}, {})
    raw = {"type": "interval", "every_ms": 7}
    assert editing.schedule_from_fields({"schedule_type": "json", "schedule": raw}) == (raw, {})


def test_missing_values_are_reported_per_field() -> None:
    _, errors = editing.schedule_from_fields({"schedule_type": "interval", "every": 0, "every_unit": "weeks"})
    assert errors == {"every": editing.TOO_SMALL, "every_unit": editing.UNKNOWN}
    assert editing.schedule_from_fields({"schedule_type": "cron"})[1] == {"cron_expr": editing.REQUIRED}
    assert editing.schedule_from_fields({"schedule_type": "weekly"})[1] == {"schedule_type": editing.UNKNOWN}


@given(every=st.integers(1, 10_000), unit=st.sampled_from(list(editing.UNITS)), catch_up=st.booleans())
def test_interval_fields_round_trip_through_a_stored_schedule(every: int, unit: str, catch_up: bool) -> None:
    values = {"schedule_type": "interval", "every": every, "every_unit": unit, "start_at": T, "catch_up": catch_up}
    schedule, errors = editing.schedule_from_fields(values)
    assert errors == {}
    stored = schedules.normalize(schedule, now=T, tz=UTC)
    again, _ = editing.schedule_from_fields(editing.fields_from_schedule(stored))
    assert schedules.normalize(again, now=T, tz=UTC) == stored


def test_a_schedule_the_fields_cannot_express_is_shown_as_json() -> None:
    assert editing.fields_from_schedule({"type": "interval", "every_ms": 1500}) == {"schedule_type": "json"}
    assert editing.fields_from_schedule({"type": "later"}) == {"schedule_type": "json"}
    assert editing.fields_from_schedule(None) == {"schedule_type": "json"}


def test_retry_fields() -> None:
    assert editing.retry_from_fields(3, 30) == {"max_attempts": 3, "backoff_ms": 30_000}
    assert editing.retry_from_fields(None, None) == {"max_attempts": 1, "backoff_ms": 0}
    assert editing.fields_from_retry({"max_attempts": 4, "backoff_ms": 5000}) == {
        "max_attempts": 4,
        "backoff_seconds": 5,
    }


def test_validator_errors_land_on_the_editor_field() -> None:
    tz_error = InvalidInput("schedule: timezone 'Mars/Base' is not a known IANA time zone", field="schedule")
    assert editing.error_field("cron", tz_error) == "cron_timezone"
    assert editing.error_field("cron", InvalidInput("schedule: bad expr", field="schedule")) == "cron_expr"
    assert editing.error_field("interval", InvalidInput("schedule: every_ms too big", field="schedule")) == "every"
    assert editing.error_field("json", InvalidInput("x", field="schedule")) == "schedule"


def test_projected_times_of_an_overdue_interval_without_catch_up_skip_to_after_now() -> None:
    schedule = {"type": "interval", "every_ms": 3_600_000, "start_at": T, "catch_up": False}
    now = T + timedelta(hours=5, minutes=30)
    slots = schedules.projected(schedule, T, now, 5)
    assert slots[0] == T
    assert slots[1:] == [now + timedelta(hours=h) for h in (1, 2, 3, 4)]


def test_projected_times_with_catch_up_replay_the_missed_slots() -> None:
    schedule = {"type": "interval", "every_ms": 3_600_000, "start_at": T, "catch_up": True}
    slots = schedules.projected(schedule, T, T + timedelta(hours=10), 5)
    assert slots == [T + timedelta(hours=h) for h in range(5)]


def test_projected_times_of_a_once_schedule_are_its_one_slot() -> None:
    assert schedules.projected({"type": "once", "at": T}, T, T + timedelta(days=1), 5) == [T]
