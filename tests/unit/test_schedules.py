"""routines.schedules: the schedule math of SPEC §4, pure (no database, explicit clocks)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routines import schedules
from routines.exceptions import InvalidInput
from routines.times import UTC

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = 60_000


def interval(every_ms: int = MINUTE, start_at: datetime = T0, catch_up: bool = False) -> dict:
    return schedules.normalize(
        {"type": "interval", "every_ms": every_ms, "start_at": start_at, "catch_up": catch_up}, now=T0, tz=UTC
    )


# normalize -----------------------------------------------------------------------------------


def test_once_is_normalised_to_an_aware_utc_datetime() -> None:
    assert schedules.normalize({"type": "once", "at": "2026-01-01T13:00:00+01:00"}, now=T0, tz=UTC) == {
        "type": "once",
        "at": T0,
    }


def test_interval_defaults_start_at_to_now_and_catch_up_to_false() -> None:
    assert schedules.normalize({"type": "interval", "every_ms": 5}, now=T0, tz=UTC) == {
        "type": "interval",
        "every_ms": 5,
        "start_at": T0,
        "catch_up": False,
    }


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "once",
        [],
        {},
        {"type": "weekly"},
        {"type": None},
        {"type": "once"},
        {"type": "once", "at": None},
        {"type": "once", "at": 1.5},
        {"type": "once", "at": True},
        {"type": "once", "at": -1},
        {"type": "once", "at": "soon"},
        {"type": "interval"},
        {"type": "interval", "every_ms": 0},
        {"type": "interval", "every_ms": -1000},
        {"type": "interval", "every_ms": True},
        {"type": "interval", "every_ms": 1000.0},
        {"type": "interval", "every_ms": "1000"},
        {"type": "interval", "every_ms": schedules.MAX_EVERY_MS + 1},
        {"type": "interval", "every_ms": 1000, "catch_up": "yes"},
        {"type": "interval", "every_ms": 1000, "catch_up": 1},
        {"type": "interval", "every_ms": 1000, "start_at": "later"},
    ],
)
def test_bad_schedules_are_invalid_with_field_schedule(raw: object) -> None:
    with pytest.raises(InvalidInput) as info:
        schedules.normalize(raw, now=T0, tz=UTC)
    assert (info.value.code, info.value.field) == ("invalid_job", "schedule")


def test_the_callers_code_is_used_for_patches() -> None:
    with pytest.raises(InvalidInput) as info:
        schedules.normalize({"type": "interval", "every_ms": 0}, now=T0, tz=UTC, code="invalid_patch")
    assert info.value.code == "invalid_patch"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"type": "once", "at": 0, "every_ms": 5}, "every_ms"),
        ({"type": "interval", "every_ms": 5, "at": 0}, "at"),
        ({"type": "interval", "every_ms": 5, "timezone": "UTC"}, "timezone"),
    ],
)
def test_unknown_schedule_keys_are_unsupported(raw: dict, key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        schedules.normalize(raw, now=T0, tz=UTC)
    assert (info.value.code, info.value.field) == ("unsupported_schedule_key", key)


# first and next slots ------------------------------------------------------------------------


def test_once_first_slot_is_at_and_there_is_no_next() -> None:
    schedule = {"type": "once", "at": T0}
    assert schedules.first_slot(schedule, T0 - timedelta(days=1)) == T0
    assert schedules.next_slot(schedule, T0, T0) is None


def test_interval_first_slot_is_start_at() -> None:
    assert schedules.first_slot(interval(start_at=T0 + timedelta(hours=1)), T0) == T0 + timedelta(hours=1)


def test_interval_without_catch_up_skips_to_now_plus_every() -> None:
    late = T0 + timedelta(minutes=10, seconds=5)
    assert schedules.next_slot(interval(), T0, late) == late + timedelta(minutes=1)


def test_interval_with_catch_up_goes_to_slot_plus_every() -> None:
    late = T0 + timedelta(minutes=10, seconds=5)
    assert schedules.next_slot(interval(catch_up=True), T0, late) == T0 + timedelta(minutes=1)


def test_interval_finishing_before_its_slot_still_moves_past_the_slot() -> None:
    assert schedules.next_slot(interval(), T0, T0 - timedelta(hours=1)) == T0 + timedelta(minutes=1)


def test_interval_at_the_end_of_time_has_no_next_slot() -> None:
    end = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert schedules.next_slot(interval(start_at=end), end, end) is None


# describe and upcoming -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every_ms", "text"),
    [(300_000, "every 5 minutes"), (60_000, "every minute"), (86_400_000, "every day"), (1500, "every 1500 ms")],
)
def test_describe_interval(every_ms: int, text: str) -> None:
    assert schedules.describe(interval(every_ms)) == text


def test_describe_once() -> None:
    assert schedules.describe({"type": "once", "at": T0}) == "once at 01 Jan 2026 12:00 UTC"


def test_upcoming_lists_future_slots_only() -> None:
    after = T0 + timedelta(minutes=2, seconds=30)
    assert schedules.upcoming(interval(), after, 2) == [T0 + timedelta(minutes=3), T0 + timedelta(minutes=4)]
    assert schedules.upcoming({"type": "once", "at": T0}, after, 3) == []


# properties ------------------------------------------------------------------------------------

every_ms = st.integers(min_value=1, max_value=10 * 86_400_000)
offsets = st.integers(min_value=-(10**10), max_value=10**10)


@given(every=every_ms, catch_up=st.booleans(), slot_off=offsets, now_off=offsets)
def test_next_slot_is_strictly_later_than_the_slot(every: int, catch_up: bool, slot_off: int, now_off: int) -> None:
    schedule = interval(every, catch_up=catch_up)
    slot = T0 + timedelta(milliseconds=slot_off)
    nxt = schedules.next_slot(schedule, slot, T0 + timedelta(milliseconds=now_off))
    assert nxt is not None and nxt > slot


@given(every=st.integers(min_value=1, max_value=3_600_000), missed=st.integers(min_value=0, max_value=200))
def test_catch_up_replays_every_missed_slot_exactly_once(every: int, missed: int) -> None:
    """Slots that fell due while nobody ran are each visited once, in order, then the future."""
    schedule = interval(every, catch_up=True)
    now = T0 + timedelta(milliseconds=every * missed + every // 2)
    slot = schedules.first_slot(schedule, T0)
    seen = []
    while slot is not None and slot <= now:
        seen.append(slot)
        slot = schedules.next_slot(schedule, slot, now)
    assert seen == [T0 + timedelta(milliseconds=every * i) for i in range(missed + 1)]
    assert slot is not None and slot > now


@given(
    every=every_ms,
    catch_up=st.booleans(),
    steps=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30),
)
def test_next_run_at_never_moves_backwards(every: int, catch_up: bool, steps: list[int]) -> None:
    """Each slot runs when the clock reaches it (or later); the sequence of slots only grows."""
    schedule = interval(every, catch_up=catch_up)
    slot = schedules.first_slot(schedule, T0)
    clock = T0
    for step in steps:
        assert slot is not None
        clock = max(clock, slot) + timedelta(milliseconds=step)
        nxt = schedules.next_slot(schedule, slot, clock)
        assert nxt is not None and nxt > slot
        slot = nxt


@given(every=every_ms, late=st.integers(min_value=0, max_value=10**10))
def test_without_catch_up_the_next_slot_is_in_the_future(every: int, late: int) -> None:
    now = T0 + timedelta(milliseconds=late)
    nxt = schedules.next_slot(interval(every), T0, now)
    assert nxt is not None and nxt > now


def test_describe_says_the_concurrency_group() -> None:
    text = schedules.describe(interval(300_000), concurrency_key="mail", concurrency_limit=2)
    assert text == "every 5 minutes, 2 of group 'mail' at once"
    once = schedules.describe({"type": "once", "at": T0}, concurrency_key="mail")
    assert once == "once at 01 Jan 2026 12:00 UTC, 1 of group 'mail' at once"
