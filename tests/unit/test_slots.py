"""The misfire policies, jitter and the new schedule keys: pure math, checked against stepping slot by slot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routines import editing, schedules, slots
from routines.exceptions import InvalidInput

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = 60_000


def interval(every_ms: int = MINUTE, **keys: Any) -> dict[str, Any]:
    return schedules.normalize({"type": "interval", "every_ms": every_ms, "start_at": T0, **keys}, now=T0, tz=UTC)


def cron(expr: str, zone: str = "UTC", **keys: Any) -> dict[str, Any]:
    return schedules.normalize({"type": "cron", "expr": expr, "timezone": zone, **keys}, now=T0, tz=UTC)


# Normalising the keys ---------------------------------------------------------------------------


def test_keys_not_given_are_not_stored_and_catch_up_keeps_its_meaning() -> None:
    assert interval() == {"type": "interval", "every_ms": MINUTE, "start_at": T0, "catch_up": False}
    assert schedules.misfire_policy(interval()) == "latest"
    assert schedules.misfire_policy(interval(catch_up=True)) == "all"


@pytest.mark.parametrize("policy", ["all", "latest", "skip"])
def test_misfire_is_stored_with_the_matching_catch_up(policy: str) -> None:
    s = interval(misfire=policy, misfire_grace_ms=0, max_catch_up=3, jitter_ms=500)
    assert s["misfire"] == policy and s["catch_up"] is (policy == "all")
    assert (s["misfire_grace_ms"], s["max_catch_up"], s["jitter_ms"]) == (0, 3, 500)
    assert schedules.misfire_policy(s) == policy
    assert cron("0 9 * * *", misfire=policy)["misfire"] == policy


@pytest.mark.parametrize(
    "keys, words",
    [
        ({"misfire": "sometimes"}, "misfire must be one of"),
        ({"misfire": "skip", "catch_up": True}, "contradicts"),
        ({"misfire_grace_ms": -1}, "misfire_grace_ms"),
        ({"misfire_grace_ms": 1.5}, "misfire_grace_ms"),
        ({"max_catch_up": 0}, "max_catch_up"),
        ({"jitter_ms": True}, "jitter_ms"),
        ({"jitter_ms": MINUTE + 1}, "longer than every_ms"),
    ],
)
def test_bad_keys_are_refused_naming_them(keys: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        interval(**keys)
    assert words in exc.value.detail and exc.value.field == "schedule"


def test_once_schedules_take_none_of_the_recurring_keys() -> None:
    with pytest.raises(InvalidInput) as exc:
        schedules.normalize({"type": "once", "at": T0, "misfire": "skip"}, now=T0, tz=UTC)
    assert exc.value.code == "unsupported_schedule_key" and exc.value.field == "misfire"


# The misfire rule -------------------------------------------------------------------------------


def test_an_on_time_slot_and_the_latest_policy_change_nothing() -> None:
    assert slots.resolve(interval(misfire="skip"), T0, T0 + timedelta(seconds=30)) is None
    assert slots.resolve(interval(), T0, T0 + timedelta(days=3)) is None
    assert slots.resolve(interval(misfire="all"), T0, T0 + timedelta(days=3)) is None  # no grace, no cap


def test_skip_moves_past_now_and_counts_what_it_skipped() -> None:
    r = slots.resolve(interval(10 * MINUTE, misfire="skip"), T0, T0 + timedelta(minutes=45))
    assert r is not None
    assert r.slot is None and r.next_at == T0 + timedelta(minutes=50)
    assert (r.skipped, r.first, r.last) == (5, T0, T0 + timedelta(minutes=40))
    # Without a grace given, skipping allows a minute: a slot 30 s late still runs.
    r = slots.resolve(interval(misfire="skip"), T0, T0 + timedelta(minutes=10, seconds=30))
    assert r is not None and r.slot == T0 + timedelta(minutes=10) and r.skipped == 10


def test_skip_runs_a_slot_within_its_grace() -> None:
    r = slots.resolve(interval(misfire="skip", misfire_grace_ms=2 * MINUTE), T0, T0 + timedelta(minutes=10, seconds=30))
    assert r is not None and r.slot == T0 + timedelta(minutes=9)
    assert (r.skipped, r.last) == (9, T0 + timedelta(minutes=8))


def test_all_replays_only_the_newest_max_catch_up() -> None:
    r = slots.resolve(interval(misfire="all", max_catch_up=2), T0, T0 + timedelta(minutes=5))
    assert r is not None and r.slot == T0 + timedelta(minutes=4)
    assert (r.skipped, r.first, r.last) == (4, T0, T0 + timedelta(minutes=3))


def test_jitter_widens_the_grace_so_a_spread_slot_is_not_missed() -> None:
    s = interval(10 * MINUTE, misfire="skip", misfire_grace_ms=0, jitter_ms=5 * MINUTE)
    assert slots.resolve(s, T0, T0 + timedelta(minutes=4)) is None


def test_cron_skip_on_a_daily_job_down_for_three_days() -> None:
    s = cron("0 9 * * *", misfire="skip")
    slot = datetime(2026, 3, 2, 9, tzinfo=UTC)
    r = slots.resolve(s, slot, datetime(2026, 3, 5, 11, tzinfo=UTC))
    assert r is not None and r.slot is None
    assert r.next_at == datetime(2026, 3, 6, 9, tzinfo=UTC)
    assert (r.skipped, r.first, r.last) == (4, slot, datetime(2026, 3, 5, 9, tzinfo=UTC))


def _by_stepping(s: dict[str, Any], s0: datetime, now: datetime) -> tuple[Any, ...] | None:
    """The rule written out the slow way: list every due slot, keep those the policy runs."""
    policy = schedules.misfire_policy(s)
    if policy == "latest":
        return None
    grace = s.get("misfire_grace_ms")
    if policy == "skip" and grace is None:
        grace = slots.DEFAULT_SKIP_GRACE_MS
    cap = s.get("max_catch_up") if policy == "all" else None
    due = []
    slot = s0
    while slot <= now:
        due.append(slot)
        slot += timedelta(milliseconds=s["every_ms"])
    kept = [d for d in due if grace is None or d >= now - timedelta(milliseconds=grace + s.get("jitter_ms", 0))]
    if cap is not None:
        kept = kept[-cap:]
    if len(kept) == len(due):
        return None
    skipped = len(due) - len(kept)
    return (kept[0] if kept else None, None if kept else slot, skipped, due[0], due[skipped - 1])


@given(
    every=st.integers(1000, 3_600_000),
    late=st.integers(-5000, 50 * 3_600_000),
    policy=st.sampled_from(["all", "latest", "skip"]),
    grace=st.none() | st.integers(0, 3 * 3_600_000),
    cap=st.none() | st.integers(1, 30),
)
def test_interval_arithmetic_agrees_with_stepping_slot_by_slot(
    every: int, late: int, policy: str, grace: int | None, cap: int | None
) -> None:
    s = interval(every, misfire=policy, misfire_grace_ms=grace, max_catch_up=cap)
    now = T0 + timedelta(milliseconds=late)
    if late > 200 * every:
        return  # the slow oracle would step too long
    r = slots.resolve(s, T0, now)
    expected = _by_stepping(s, T0, now) if late > 0 else None
    got = None if r is None else (r.slot, r.next_at, r.skipped, r.first, r.last)
    assert got == expected
    if r is not None:
        assert r.slot is None or r.slot <= now
        assert r.next_at is None or r.next_at > now


@given(
    every_min=st.sampled_from([1, 5, 15, 60]),
    late_min=st.integers(1, 600),
    policy=st.sampled_from(["all", "skip"]),
    grace_min=st.none() | st.integers(0, 120),
    cap=st.none() | st.integers(1, 10),
)
def test_cron_stepping_agrees_with_the_interval_arithmetic(
    every_min: int, late_min: int, policy: str, grace_min: int | None, cap: int | None
) -> None:
    """A "*/N * * * *" cron and an N-minute interval from the hour have the same slots."""
    grace = None if grace_min is None else grace_min * MINUTE
    keys = {"misfire": policy, "misfire_grace_ms": grace, "max_catch_up": cap}
    now = T0 + timedelta(minutes=late_min, seconds=1)
    expr = "* * * * *" if every_min == 1 else f"*/{every_min} * * * *"
    a = slots.resolve(cron(expr, **keys), T0, now)
    b = slots.resolve(interval(every_min * MINUTE, **keys), T0, now)
    assert a == b


# Jitter -----------------------------------------------------------------------------------------


@given(job_id=st.text(min_size=1, max_size=30), minute=st.integers(0, 10**6), jitter=st.integers(1, 10**7))
def test_the_offset_is_within_bounds_and_the_same_on_every_call(job_id: str, minute: int, jitter: int) -> None:
    slot = T0 + timedelta(minutes=minute)
    offset = slots.offset_ms(job_id, slot, jitter)
    assert 0 <= offset < jitter
    assert slots.offset_ms(job_id, slot, jitter) == offset


def test_offsets_spread_over_the_window_and_differ_between_jobs() -> None:
    offsets = [slots.offset_ms("digest", T0 + timedelta(hours=h), 60_000) for h in range(200)]
    assert len(set(offsets)) > 150
    assert min(offsets) < 10_000 and max(offsets) > 50_000
    assert slots.offset_ms("a", T0, 60_000) != slots.offset_ms("b", T0, 60_000)
    assert slots.offset_ms("a", T0, 0) == 0


def test_jitter_on_cron_slots_across_a_dst_change_keeps_the_local_slot() -> None:
    paris = ZoneInfo("Europe/Paris")
    s = cron("30 2 * * *", zone="Europe/Paris", jitter_ms=10 * MINUTE)
    # 29 March 2026: 02:30 does not exist in Paris; the slot is the first instant after the gap.
    before = datetime(2026, 3, 28, 3, tzinfo=paris)
    slot = schedules.next_slot(s, before, before)
    assert slot == datetime(2026, 3, 29, 3, 0, tzinfo=paris)
    due = slots.run_at(s, "nightly", slot)
    assert slot <= due < slot + timedelta(minutes=10)
    after = schedules.next_slot(s, slot, due)
    assert after == datetime(2026, 3, 30, 2, 30, tzinfo=paris)


# Words and the admin editor ---------------------------------------------------------------------


def test_describe_says_the_spread_the_policy_and_the_bounds() -> None:
    s = interval(5 * MINUTE, misfire="skip", jitter_ms=30_000)
    text = schedules.describe(s, end_at=datetime(2026, 12, 31, tzinfo=UTC))
    assert text == "every 5 minutes ± 30 seconds, skipping missed runs, until 31 Dec 2026 00:00 UTC"
    text = schedules.describe(interval(misfire="all", max_catch_up=3, misfire_grace_ms=MINUTE), max_runs=2)
    assert text == "every minute, catching up at most 3 runs (missed when 1 minute late), 2 runs at most"


@given(
    policy=st.sampled_from(["", "latest", "all", "skip"]),
    grace=st.none() | st.integers(0, 10**6),
    cap=st.none() | st.integers(1, 1000),
    jitter=st.none() | st.integers(0, 60),
)
def test_editor_fields_round_trip_the_recurring_keys(
    policy: str, grace: int | None, cap: int | None, jitter: int | None
) -> None:
    values = {
        "schedule_type": "interval",
        "every": 1,
        "every_unit": "hours",
        "misfire": policy,
        "misfire_grace_seconds": grace,
        "max_catch_up": cap,
        "jitter_seconds": jitter,
    }
    schedule, errors = editing.schedule_from_fields(values)
    assert errors == {}
    stored = schedules.normalize(schedule, now=T0, tz=UTC)
    shown = editing.fields_from_schedule(stored)
    for key in ("misfire", "misfire_grace_seconds", "max_catch_up", "jitter_seconds"):
        assert shown[key] == values[key], key


def test_editor_errors_name_the_recurring_fields() -> None:
    values = {"schedule_type": "cron", "cron_expr": "0 9 * * *", "misfire": "never", "jitter_seconds": -1}
    _, errors = editing.schedule_from_fields(values)
    assert errors == {"misfire": editing.UNKNOWN, "jitter_seconds": editing.NEGATIVE}
