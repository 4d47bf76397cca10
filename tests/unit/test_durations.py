"""routines.times.parse_duration_ms: the durations the command line takes (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routines.times import MAX_DURATION_MS, parse_duration_ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("5m", 300_000),
        ("2h", 7_200_000),
        ("1d", 86_400_000),
        ("1w", 604_800_000),
        ("250ms", 250),
        ("1500", 1500),
        ("0", 0),
        (" 10m ", 600_000),
    ],
)
def test_units_and_bare_milliseconds_are_read(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "m", "5 m", "-5m", "1.5h", "5M", "5min", "٣m", "10y", "5mm"])
def test_other_spellings_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="like 90s, 5m, 2h, 1d"):
        parse_duration_ms(text)


@pytest.mark.parametrize("value", [None, 5, 5.0, b"5m"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration_ms(value)


def test_more_than_a_century_is_refused() -> None:
    assert parse_duration_ms(f"{MAX_DURATION_MS}") == MAX_DURATION_MS
    with pytest.raises(ValueError, match="100 years"):
        parse_duration_ms(f"{MAX_DURATION_MS + 1}")
    with pytest.raises(ValueError, match="100 years"):
        parse_duration_ms("999999999999999w")


@given(st.integers(0, 36_000), st.sampled_from(["ms", "s", "m", "h", "d"]))
def test_a_count_of_a_unit_is_that_many_of_the_unit(count: int, unit: str) -> None:
    per_unit = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]
    assert parse_duration_ms(f"{count}{unit}") == count * per_unit
