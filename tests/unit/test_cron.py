"""Cron schedules (SPEC §11): parsing, time zones, the DST rules, catch-up, end to end."""

from __future__ import annotations

import itertools
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routines import cron, schedules
from routines.exceptions import InvalidInput

pytest.importorskip("cronsim", reason="cron schedules need the cronsim package (a core dependency)")

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
SYDNEY = ZoneInfo("Australia/Sydney")


def sched(expr: str, zone: str = "Europe/Paris", catch_up: bool = False) -> dict:
    return schedules.normalize(
        {"type": "cron", "expr": expr, "timezone": zone, "catch_up": catch_up}, now=datetime.now(UTC), tz=UTC
    )


def slots(schedule: dict, start: datetime, until: datetime) -> list[datetime]:
    out = []
    slot = schedules.first_slot(schedule, start)
    while slot is not None and slot < until:
        out.append(slot)
        slot = schedules.next_slot({**schedule, "catch_up": True}, slot, slot)
    return out


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold).astimezone(UTC)


# Normalisation -----------------------------------------------------------------------------------


def test_normalize_fills_defaults_with_the_current_zone_name() -> None:
    out = schedules.normalize({"type": "cron", "expr": "0  9 * * 1-5"}, now=datetime.now(UTC), tz=SYDNEY)
    assert out == {"type": "cron", "expr": "0 9 * * 1-5", "timezone": "Australia/Sydney", "catch_up": False}


def test_normalize_keeps_aliases_names_and_an_explicit_zone() -> None:
    for expr in (
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
        "@yearly",
        "0 9 * jan,jul mon-fri",
        "*/15 8-18/2 1,15 * *",
    ):
        assert sched(expr)["expr"] == expr


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "cron"},
        {"type": "cron", "expr": 5},
        {"type": "cron", "expr": ""},
        {"type": "cron", "expr": "0 9 * *"},
        {"type": "cron", "expr": "0 0 9 * * *"},
        {"type": "cron", "expr": "61 * * * *"},
        {"type": "cron", "expr": "0 9 * * funday"},
        {"type": "cron", "expr": "@fortnightly"},
        {"type": "cron", "expr": "0 0 30 2 *"},
        {"type": "cron", "expr": "x" * 300},
        {"type": "cron", "expr": "0 9 * * *", "timezone": "Mars/Olympus"},
        {"type": "cron", "expr": "0 9 * * *", "timezone": "../../etc/passwd"},
        {"type": "cron", "expr": "0 9 * * *", "timezone": 3},
        {"type": "cron", "expr": "0 9 * * *", "catch_up": "yes"},
    ],
)
def test_bad_cron_schedules_name_the_schedule_field(raw: dict) -> None:
    with pytest.raises(InvalidInput) as err:
        schedules.normalize(raw, now=datetime.now(UTC), tz=UTC, code="invalid_patch")
    assert (err.value.code, err.value.field) == ("invalid_patch", "schedule")


def test_unknown_cron_key_is_unsupported_schedule_key() -> None:
    with pytest.raises(InvalidInput) as err:
        schedules.normalize({"type": "cron", "expr": "@daily", "every_ms": 5}, now=datetime.now(UTC), tz=UTC)
    assert (err.value.code, err.value.field) == ("unsupported_schedule_key", "every_ms")


def test_missing_cron_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cronsim", None)
    with pytest.raises(InvalidInput) as err:
        schedules.normalize({"type": "cron", "expr": "@daily"}, now=datetime.now(UTC), tz=UTC)
    assert err.value.field == "schedule"
    assert "pip install cronsim" in str(err.value)


def test_describe_is_human_and_names_the_zone() -> None:
    assert schedules.describe(sched("0 9 * * 1-5")) == "At 09:00, Monday through Friday (Europe/Paris)"
    assert schedules.describe(sched("@hourly", "UTC")) == "At the start of every hour (UTC)"
    assert "catching up" in schedules.describe(sched("@daily", catch_up=True))


# Slots and the DST rules ------------------------------------------------------------------------


def test_first_slot_is_the_first_match_at_or_after_creation() -> None:
    s = sched("0 9 * * 1-5")
    at_nine = local(PARIS, 2026, 6, 1, 9)  # a Monday
    assert schedules.first_slot(s, at_nine) == at_nine
    assert schedules.first_slot(s, at_nine + timedelta(microseconds=1)) == local(PARIS, 2026, 6, 2, 9)
    assert schedules.first_slot(s, local(PARIS, 2026, 6, 5, 10)) == local(PARIS, 2026, 6, 8, 9)


@pytest.mark.parametrize(
    ("zone", "day"),
    [(PARIS, (2026, 3, 29)), (SYDNEY, (2026, 10, 4))],  # spring forward: 02:00 -> 03:00 local
)
def test_spring_forward_missing_time_runs_once_at_the_end_of_the_gap(zone: ZoneInfo, day: tuple) -> None:
    s = sched("30 2 * * *", zone.key)
    got = slots(s, local(zone, *day) - timedelta(days=1), local(zone, *day) + timedelta(days=2))
    assert [g.astimezone(zone).strftime("%d %H:%M") for g in got] == [
        f"{day[2] - 1:02d} 02:30",
        f"{day[2]:02d} 03:00",
        f"{day[2] + 1:02d} 02:30",
    ]
    assert got[1] == local(zone, *day, 3)  # the first instant after the gap


@pytest.mark.parametrize(
    ("zone", "day"),
    [(PARIS, (2026, 10, 25)), (SYDNEY, (2026, 4, 5))],  # fall back: 03:00 -> 02:00 local
)
def test_fall_back_repeated_time_runs_once_at_its_first_occurrence(zone: ZoneInfo, day: tuple) -> None:
    s = sched("30 2 * * *", zone.key)
    got = slots(s, local(zone, *day), local(zone, *day) + timedelta(days=1))
    assert got == [local(zone, *day, 2, 30, fold=0)]
    assert got[0] < local(zone, *day, 2, 30, fold=1)


@pytest.mark.parametrize(
    ("zone", "spring", "fall"),
    [(PARIS, (2026, 3, 29), (2026, 10, 25)), (SYDNEY, (2026, 10, 4), (2026, 4, 5))],
)
def test_every_hour_stays_every_real_hour(zone: ZoneInfo, spring: tuple, fall: tuple) -> None:
    s = sched("0 * * * *", zone.key)
    for day, hours in ((spring, 23), (fall, 25)):
        got = slots(s, local(zone, *day), local(zone, *day) + timedelta(days=1, hours=1))
        got = [g for g in got if g.astimezone(zone).date() == datetime(*day).date()]
        assert len(got) == hours
        assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(got))


def test_minutes_of_a_fixed_hour_inside_the_gap_collapse_into_one_run() -> None:
    s = sched("*/20 2 * * *")
    day = slots(s, local(PARIS, 2026, 3, 29), local(PARIS, 2026, 3, 30))
    assert day == [local(PARIS, 2026, 3, 29, 3)]
    fall = slots(s, local(PARIS, 2026, 10, 25), local(PARIS, 2026, 10, 26))
    assert fall == [local(PARIS, 2026, 10, 25, 2, m) for m in (0, 20, 40)]


def test_southern_zone_with_midnight_gap() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2026-09-06: 00:00 -> 01:00
    got = slots(sched("@daily", "America/Santiago"), local(santiago, 2026, 9, 5), local(santiago, 2026, 9, 8))
    assert [g.astimezone(santiago).strftime("%d %H:%M") for g in got] == ["05 00:00", "06 01:00", "07 00:00"]


def test_iteration_started_inside_the_repeated_hour_never_goes_back() -> None:
    s = sched("0 2 * * *")
    second_pass = local(PARIS, 2026, 10, 25, 2, 10, fold=1)
    first = schedules.first_slot(s, second_pass)
    assert first == local(PARIS, 2026, 10, 26, 2)
    slot = local(PARIS, 2026, 10, 25, 2, fold=0)
    assert schedules.next_slot(s, slot, second_pass) > slot


def test_catch_up_replays_and_skip_jumps_to_the_future() -> None:
    slot = local(PARIS, 2026, 6, 1, 9)
    late = slot + timedelta(days=3, hours=2)
    assert schedules.next_slot(sched("0 9 * * *", catch_up=True), slot, late) == local(PARIS, 2026, 6, 2, 9)
    assert schedules.next_slot(sched("0 9 * * *"), slot, late) == local(PARIS, 2026, 6, 5, 9)


def test_upcoming_lists_the_next_five_times() -> None:
    got = schedules.upcoming(sched("0 9 * * 1-5"), local(PARIS, 2026, 6, 5, 10), 5)
    assert [g.astimezone(PARIS).day for g in got] == [8, 9, 10, 11, 12]


ZONES = ["Europe/Paris", "Australia/Sydney", "America/Santiago", "Australia/Lord_Howe", "America/New_York", "UTC"]
EXPRS = ["0 * * * *", "30 2 * * *", "*/20 * * * *", "15 1-3 * * *", "5 */2 * * *", "0 0 * * *", "0 3 * * *"]
SPARSE = ["0 0 * * 0", "45 23 L * *", "@yearly", "0 9 * jan,jul mon-fri"]


def brute(schedule: dict, after: datetime) -> datetime:
    """The next slot by walking every minute: the rules written out naively, as the oracle."""
    from cronsim import CronSim

    zone = ZoneInfo(schedule["timezone"])
    fields = cron.expand(schedule["expr"])
    every_hour = set(CronSim(fields, datetime(2000, 1, 1)).hours) == set(range(24))
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)

    parsed = CronSim(fields, datetime(2000, 1, 1))

    def matches(naive: datetime) -> bool:
        return (
            naive.minute in parsed.minutes
            and naive.hour in parsed.hours
            and naive.month in parsed.months
            and parsed.match_day(naive.date())
        )

    prev_wall = (t - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
    for _ in range(60 * 24 * 3):
        loc = t.astimezone(zone)
        wall = loc.replace(tzinfo=None)
        if every_hour:
            if matches(wall):
                return t
        else:
            if wall - prev_wall > timedelta(minutes=1):  # a gap just ended: any match inside runs now
                probe = prev_wall + timedelta(minutes=1)
                while probe <= wall:
                    if matches(probe):
                        return t
                    probe += timedelta(minutes=1)
            elif loc.fold == 0 and matches(wall):
                return t
        prev_wall = wall
        t += timedelta(minutes=1)
    raise AssertionError("no slot found")


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    expr=st.sampled_from(EXPRS + SPARSE),
    start=st.datetimes(datetime(2026, 1, 1), datetime(2035, 12, 31)),
    catch_up=st.booleans(),
)
def test_successive_slots_strictly_increase(zone: str, expr: str, start: datetime, catch_up: bool) -> None:
    s = sched(expr, zone, catch_up=catch_up)
    slot = schedules.first_slot(s, start.replace(tzinfo=UTC))
    for _ in range(12):
        nxt = schedules.next_slot(s, slot, slot)
        assert nxt > slot
        slot = nxt


@settings(max_examples=50, deadline=None)
@given(
    zone=st.sampled_from(ZONES[:4]),
    expr=st.sampled_from(EXPRS),
    transition=st.sampled_from(
        [
            datetime(2026, 3, 29, 1),
            datetime(2026, 10, 25, 1),
            datetime(2026, 4, 5, 16),
            datetime(2026, 10, 3, 16),
            datetime(2026, 9, 6, 4),
            datetime(2026, 4, 5, 3),
        ]
    ),
    minutes=st.integers(-300, 300),
)
def test_slots_around_transitions_match_the_oracle(zone: str, expr: str, transition: datetime, minutes: int) -> None:
    s = sched(expr, zone, catch_up=True)
    start = transition.replace(tzinfo=UTC) + timedelta(minutes=minutes)
    slot = schedules.first_slot(s, start)
    assert slot >= start
    for _ in range(4):
        nxt = schedules.next_slot(s, slot, slot)
        assert nxt > slot
        assert nxt == brute(s, slot)
        slot = nxt
