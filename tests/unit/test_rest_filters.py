"""Query-string values into the API's filter values; the API itself judges them."""

from __future__ import annotations

import pytest

from routines.rest.filters import bool_param, given, int_param


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("1767268800000", 1767268800000), ("-5", -5), ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
     ("1.5", "1.5"), ("9" * 40, "9" * 40), ("", "")],
)  # fmt: skip
def test_int_param(text: str, value: object) -> None:
    assert int_param(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("TRUE", True), ("1", True), ("false", False), ("0", False), ("yes", "yes")]
)
def test_bool_param(text: str, value: object) -> None:
    assert bool_param(text) == value


def test_given_drops_empty_values() -> None:
    assert given({"a": "", "b": None, "c": "x", "d": False}) == {"c": "x", "d": False}
