"""routines.times: every accepted and refused form of a time (SPEC §3, pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routines.times import EPOCH, MAX_MS, UTC, _for_py310, add_ms, coerce_time, iso, to_ms

PARIS = ZoneInfo("Europe/Paris")


def test_integer_epoch_ms_is_read_as_milliseconds() -> None:
    assert coerce_time(1_767_268_800_000, UTC) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_epoch_ms_bounds_are_1970_and_9999() -> None:
    assert coerce_time(0, UTC) == EPOCH
    assert coerce_time(MAX_MS, UTC).year == 9999


@pytest.mark.parametrize("value", [-1, MAX_MS + 1, 10**20])
def test_epoch_ms_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="1970 and 9999"):
        coerce_time(value, UTC)


@pytest.mark.parametrize("value", [1.5, 1_767_268_800.0, True, False])
def test_floats_and_bools_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        coerce_time(value, UTC)


@pytest.mark.parametrize("value", [None, [], {}, b"2026-01-01", object()])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        coerce_time(value, UTC)


@pytest.mark.parametrize(
    "text",
    ["2026-01-01T12:00:00Z", "2026-01-01T12:00:00z", "2026-01-01T13:00:00+01:00", "2026-01-01 12:00:00+00:00"],
)
def test_iso_8601_strings_with_an_offset(text: str) -> None:
    assert coerce_time(text, PARIS) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "   ", "tomorrow", "2026-13-01T00:00:00Z", "x" * 65, "1767268800000"])
def test_unparsable_strings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        coerce_time(text, UTC)


def test_naive_string_is_read_in_the_given_time_zone() -> None:
    assert coerce_time("2026-07-01T12:00:00", PARIS) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_naive_datetime_is_read_in_the_given_time_zone() -> None:
    assert coerce_time(datetime(2026, 1, 1, 12, 0), PARIS) == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)


def test_aware_datetime_keeps_its_instant_and_comes_out_utc() -> None:
    out = coerce_time(datetime(2026, 1, 1, 12, 0, tzinfo=PARIS), UTC)
    assert out == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    assert out.tzinfo == UTC


def test_aware_datetime_that_leaves_the_range_in_utc_is_refused() -> None:
    with pytest.raises(ValueError, match="out of range"):
        coerce_time(datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5))), UTC)


def test_iso_writes_utc_with_z() -> None:
    assert iso(datetime(2026, 1, 1, 13, 0, tzinfo=PARIS)) == "2026-01-01T12:00:00Z"
    assert iso(None) is None


def test_add_ms_returns_none_past_the_end_of_time() -> None:
    assert add_ms(datetime(9999, 12, 31, tzinfo=UTC), 86_400_000) is None
    assert add_ms(EPOCH, 1500) == EPOCH + timedelta(seconds=1.5)


@given(st.integers(min_value=0, max_value=MAX_MS))
def test_epoch_ms_round_trips(ms: int) -> None:
    assert to_ms(coerce_time(ms, UTC)) == ms


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1)))
def test_iso_round_trips(value: datetime) -> None:
    assert coerce_time(iso(value), PARIS) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T12:00:00.5+00:00", "2026-01-01T12:00:00.500000+00:00"),
        ("2026-01-01T12:00:00+0100", "2026-01-01T12:00:00+01:00"),
        ("2026-01-01 12:00:00.123456789-0530", "2026-01-01T12:00:00.123456-05:30"),
        ("2026-01-01T12:00:00.25", "2026-01-01T12:00:00.250000"),
        ("2026-01-01", "2026-01-01"),
    ],
)
def test_iso_forms_python_310_refuses_are_rewritten_into_ones_it_takes(text: str, expected: str) -> None:
    assert _for_py310(text) == expected
    datetime.fromisoformat(_for_py310(text))
