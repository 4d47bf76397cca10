"""The room a concurrency group leaves, as the claim computes it (no database)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from routines.concurrency import fit

KEYS = st.sampled_from([None, "a", "b", "c"])
ROWS = st.lists(st.tuples(KEYS, st.integers(1, 4)), max_size=30)
RUNNING = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 5))


def rows_of(spec: list[tuple[str | None, int]]) -> list[dict[str, Any]]:
    return [
        {"job_id": f"j{i}", "concurrency_key": key, "concurrency_limit": limit} for i, (key, limit) in enumerate(spec)
    ]


@given(ROWS, RUNNING)
def test_no_admitted_job_finds_its_group_at_its_limit(
    spec: list[tuple[str | None, int]], running: dict[str, int]
) -> None:
    rows = rows_of(spec)
    admitted, full = fit(rows, running)
    counts = Counter(running)
    for row in admitted:
        key = row["concurrency_key"]
        if key is not None:
            assert counts[key] < row["concurrency_limit"]
            counts[key] += 1
    held = [row for row in rows if row not in admitted]
    assert {row["concurrency_key"] for row in held} == full
    # Claim order is kept, and every job without a key is admitted.
    assert admitted == [row for row in rows if row in admitted]
    assert all(row in admitted for row in rows if row["concurrency_key"] is None)


@given(ROWS, RUNNING)
def test_a_job_is_held_back_only_when_its_group_is_at_its_limit(
    spec: list[tuple[str | None, int]], running: dict[str, int]
) -> None:
    rows = rows_of(spec)
    admitted, _ = fit(rows, running)
    counts = Counter(running)
    for row in rows:
        key = row["concurrency_key"]
        if row in admitted:
            if key is not None:
                counts[key] += 1
        else:
            assert counts[key] >= row["concurrency_limit"]


def test_two_of_a_group_of_limit_two_with_one_running_leaves_room_for_one() -> None:
    rows = rows_of([("g", 2), ("g", 2), (None, 1), ("h", 1)])
    admitted, full = fit(rows, {"g": 1})
    assert [row["job_id"] for row in admitted] == ["j0", "j2", "j3"]
    assert full == {"g"}
