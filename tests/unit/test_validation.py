"""routines.validation: every invalid input of SPEC §3-§5 names its code and field.

The table tests are pure (no database); the last tests push the same inputs through
``routines.api`` and check that nothing at all was written.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routines import filters, targets, validation
from routines.exceptions import InvalidInput
from routines.times import MAX_MS, UTC

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
ONCE = {"type": "once", "at": T0}
RUN = {"type": "run"}


def job(**changes: Any) -> dict[str, Any]:
    return {"schedule": ONCE, "target": RUN, **changes}


def normalize_job(raw: object, **kwargs: Any) -> dict[str, Any]:
    return validation.normalize_job(raw, now=T0, tz=UTC, validate_target=targets.validate, **kwargs)


def normalize_patch(raw: object) -> dict[str, Any]:
    return validation.normalize_patch(raw, now=T0, tz=UTC, validate_target=targets.validate)


# A key whose value is bad → (input, field). Patches share them (minus job_id) with invalid_patch.
BAD_VALUES: list[tuple[str, Any]] = [
    ("job_id", ""),
    ("job_id", "has space"),
    ("job_id", "slash/in/it"),
    ("job_id", "café"),
    ("job_id", "semi;colon"),
    ("job_id", "x" * 201),
    ("job_id", 42),
    ("job_id", True),
    ("schedule", None),
    ("schedule", "every minute"),
    ("schedule", {"type": "interval", "every_ms": 0}),
    ("schedule", {"type": "interval", "every_ms": -60_000}),
    ("schedule", {"type": "interval", "every_ms": True}),
    ("schedule", {"type": "interval", "every_ms": 60_000.0}),
    ("schedule", {"type": "once", "at": 1.5}),
    ("schedule", {"type": "once", "at": MAX_MS + 1}),
    ("schedule", {"type": "once", "at": -1}),
    ("schedule", {"type": ["once"]}),
    ("schedule", {"type": {"once": 1}}),
    ("target", None),
    ("target", "run"),
    ("target", {"type": "teleport"}),
    ("target", {"scope": "no type"}),
    ("target", {"type": "run", "scope": 5}),
    ("target", {"type": "run", "outcome": "maybe"}),
    ("target", {"type": "run", "cancel_reason": 5}),
    ("target", {"type": "run", "run_opts": "fast"}),
    ("target", {"type": "run", "run_opts": {"kind": ""}}),
    ("target", {"type": "run", "run_opts": {"metadata": []}}),
    ("target", {"type": "run", "result": math.nan}),
    ("target", {"type": "run", "result": {1, 2}}),
    ("target", {"type": "run", "scope": "nul\x00"}),
    ("target", {"type": "run", "cancel_reason": "\ud800"}),
    ("target", {"type": ["run"]}),
    ("target", {"type": "query", "prompt": "p", "session": {"kind": ["live"]}}),
    ("target", {"type": "query", "prompt": "p", "session": {"kind": {}}}),
    ("payload", math.nan),
    ("payload", math.inf),
    ("payload", {1, 2}),
    ("payload", T0),
    ("payload", {1: "non-string key"}),
    ("payload", {"nested": [{"deeper": object()}]}),
    ("payload", b"bytes"),
    ("payload", 2**64),
    ("payload", "nul\x00inside"),
    ("payload", {"key\x00": 1}),
    ("payload", ["lone \ud800 surrogate"]),
    ("payload", {"\udfff": 1}),
    ("metadata", []),
    ("metadata", "tag"),
    ("metadata", None),
    ("metadata", {"when": T0}),
    ("metadata", {"a": "\x00"}),
    ("routing_policy", ["a"]),
    ("routing_policy", {"x": math.nan}),
    ("retry_policy", None),
    ("retry_policy", [3]),
    ("retry_policy", {"max_attempts": 0}),
    ("retry_policy", {"max_attempts": -1}),
    ("retry_policy", {"max_attempts": True}),
    ("retry_policy", {"max_attempts": 2.0}),
    ("retry_policy", {"max_attempts": "3"}),
    ("retry_policy", {"backoff_ms": -1}),
    ("retry_policy", {"backoff_ms": False}),
    ("retry_policy", {"backoff_ms": 1.5}),
    ("idempotency_key", ""),
    ("idempotency_key", "   "),
    ("idempotency_key", 7),
    ("idempotency_key", None),
    ("idempotency_key", "k" * 256),
    ("idempotency_key", "k\x00"),
    ("idempotency_key", "k\ud800"),
    ("state", "running"),
    ("state", "completed"),
    ("state", "cancelled"),
    ("state", None),
    ("state", True),
    ("next_run_at", 1.5),
    ("next_run_at", True),
    ("next_run_at", -1),
    ("next_run_at", MAX_MS + 1),
    ("next_run_at", "next tuesday"),
    ("next_run_at", [2026]),
]

# An unknown key somewhere → (input, code, field).
UNKNOWN_KEYS: list[tuple[dict[str, Any], str, str]] = [
    (job(colour="blue"), "unsupported_job_key", "colour"),
    (job(**{"Job_Id": "x"}), "unsupported_job_key", "Job_Id"),
    (job(schedule={"type": "once", "at": T0, "every_ms": 5}), "unsupported_schedule_key", "every_ms"),
    (job(schedule={"type": "interval", "every_ms": 5, "cron": "* * * * *"}), "unsupported_schedule_key", "cron"),
    (job(target={"type": "run", "colour": 1}), "unsupported_target_key", "colour"),
    (job(target={"type": "run", "run_opts": {"speed": 1}}), "unsupported_target_key", "speed"),
    (job(retry_policy={"max_attempts": 2, "jitter": True}), "unsupported_retry_key", "jitter"),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_create_with_a_bad_value_is_invalid_job_naming_the_key(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_job(job(**{field: value}))
    assert (info.value.code, info.value.field) == ("invalid_job", field)


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, v in BAD_VALUES if f != "job_id"])
def test_update_with_a_bad_value_is_invalid_patch_naming_the_key(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_patch({field: value})
    assert (info.value.code, info.value.field) == ("invalid_patch", field)


@pytest.mark.parametrize(("raw", "code", "field"), UNKNOWN_KEYS)
def test_unknown_keys_are_unsupported_at_every_level(raw: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_job(raw)
    assert (info.value.code, info.value.field) == (code, field)


@pytest.mark.parametrize(("raw", "code", "field"), UNKNOWN_KEYS)
def test_unknown_keys_in_a_patch(raw: dict[str, Any], code: str, field: str) -> None:
    patch = {k: v for k, v in raw.items() if k != "job_id"}
    expected = "unsupported_patch_key" if code == "unsupported_job_key" else code
    with pytest.raises(InvalidInput) as info:
        normalize_patch(patch)
    assert (info.value.code, info.value.field) == (expected, field)


def test_job_id_is_not_a_patch_key() -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_patch({"job_id": "renamed"})
    assert (info.value.code, info.value.field) == ("unsupported_patch_key", "job_id")


@pytest.mark.parametrize("raw", [None, "job", ["schedule"], 5])
def test_a_job_that_is_not_an_object_is_invalid(raw: object) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_job(raw)
    assert info.value.code == "invalid_job"


@pytest.mark.parametrize("key", ["schedule", "target"])
def test_schedule_and_target_are_required(key: str) -> None:
    raw = job()
    del raw[key]
    with pytest.raises(InvalidInput) as info:
        normalize_job(raw)
    assert (info.value.code, info.value.field) == ("invalid_job", key)


def test_payload_larger_than_the_limit_is_invalid() -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_job(job(payload="x" * 200), max_payload_bytes=100)
    assert (info.value.code, info.value.field) == ("invalid_job", "payload")


def test_payload_nested_too_deep_is_invalid() -> None:
    deep: Any = 1
    for _ in range(validation.MAX_JSON_DEPTH + 2):
        deep = [deep]
    with pytest.raises(InvalidInput) as info:
        normalize_job(job(payload=deep))
    assert info.value.field == "payload"


# What valid input becomes -----------------------------------------------------------------------


def test_defaults_of_a_minimal_job() -> None:
    out = normalize_job(job(job_id="nightly"))
    assert out["payload"] is None
    assert out["metadata"] == {}
    assert out["routing_policy"] == {}
    assert out["retry_policy"] == {"max_attempts": 1, "backoff_ms": 0}
    assert out["idempotency_key"] == "routine:nightly"
    assert out["state"] == "active"
    assert out["next_run_at"] == T0


def test_generated_job_ids_are_routine_unique() -> None:
    first, second = normalize_job(job())["job_id"], normalize_job(job())["job_id"]
    assert re.fullmatch(r"routine_[0-9a-f]{32}", first)
    assert first != second


def test_run_target_defaults_are_filled_in() -> None:
    assert normalize_job(job())["target"] == {
        "type": "run",
        "scope": {},
        "run_opts": {},
        "outcome": "completed",
        "error": {"reason": "routine failed"},
        "cancel_reason": "routine cancelled",
    }


def test_retry_policy_fills_the_missing_key() -> None:
    assert normalize_job(job(retry_policy={"max_attempts": 3}))["retry_policy"] == {"max_attempts": 3, "backoff_ms": 0}


def test_longest_and_widest_job_id_is_accepted() -> None:
    job_id = ("Az09._:-" * 25)[:200]
    assert normalize_job(job(job_id=job_id))["job_id"] == job_id


@pytest.mark.parametrize(
    "value",
    [T0, "2026-01-01T12:00:00Z", "2026-01-01T13:00:00+01:00", 1_767_268_800_000, datetime(2026, 1, 1, 13, 0)],
)
def test_times_may_be_datetimes_iso_strings_or_epoch_ms(value: object) -> None:
    out = validation.normalize_job(
        job(next_run_at=value, schedule={"type": "once", "at": value}),
        now=T0,
        tz=PARIS,
        validate_target=targets.validate,
    )
    assert out["next_run_at"] == T0
    assert out["schedule"]["at"] == T0
    assert out["next_run_at"].tzinfo is UTC


def test_naive_times_are_read_in_the_current_time_zone() -> None:
    out = validation.normalize_job(
        job(next_run_at=datetime(2026, 7, 1, 12, 0)), now=T0, tz=PARIS, validate_target=targets.validate
    )
    assert out["next_run_at"] == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_an_explicit_next_run_at_wins_over_the_first_slot() -> None:
    later = T0 + timedelta(days=1)
    assert normalize_job(job(next_run_at=later))["next_run_at"] == later


def test_a_patch_holds_only_the_given_keys() -> None:
    assert normalize_patch({"state": "paused"}) == {"state": "paused"}
    assert normalize_patch({}) == {}


def test_a_target_error_in_a_patch_is_invalid_patch() -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_patch({"target": {"type": "run", "outcome": "maybe"}})
    assert (info.value.code, info.value.field) == ("invalid_patch", "target")


# Any JSON a REST client or the admin form can send, at any key the validators read.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def shaped(type_key: str, types: list[str], keys: list[str], **nested: st.SearchStrategy[Any]) -> Any:
    """Objects with a plausible or odd ``type_key`` and any of ``keys``, so the fuzzing reaches deep checks."""
    optional = {key: nested.get(key, JSON) | JSON for key in keys}
    return st.fixed_dictionaries({type_key: st.sampled_from(types) | JSON}, optional=optional)


SCHEDULES = shaped("type", ["once", "interval", "cron"], ["at", "every_ms", "start_at", "catch_up", "expr", "timezone"])
SESSIONS = shaped("kind", ["live", "routed"], ["ref", "opts"])
THREADS = st.fixed_dictionaries({}, optional={"thread_id": JSON, "start": JSON})
TARGET_KEYS = ["scope", "run_opts", "outcome", "result", "error", "cancel_reason", "session", "prompt", "query_opts"]
TARGET_KEYS += ["thread", "stop_session", "path", "kwargs", "name", "args", "queue_name", "priority", "backend"]
TARGETS = shaped("type", ["run", "query", "callable", "task"], TARGET_KEYS, session=SESSIONS, thread=THREADS)


@given(schedule=SCHEDULES | JSON, target=TARGETS | JSON, retry_policy=JSON)
def test_any_json_is_accepted_or_refused_as_invalid_input(schedule: Any, target: Any, retry_policy: Any) -> None:
    """Nothing a client can send makes a validator raise anything but InvalidInput (a REST 500)."""
    try:
        normalize_job(job(schedule=schedule, target=target, retry_policy=retry_policy))
    except InvalidInput as exc:
        assert exc.field in ("schedule", "target", "retry_policy") or exc.code.startswith("unsupported_")


@given(st.text(alphabet=st.sampled_from("AZaz09._:-"), min_size=1, max_size=200))
def test_every_id_of_the_allowed_alphabet_is_accepted(job_id: str) -> None:
    assert validation.check_id(job_id, "job_id", "invalid_job") == job_id


@given(st.text(min_size=1, max_size=50).filter(lambda s: re.search(r"[^A-Za-z0-9._:-]", s) is not None))
def test_any_character_outside_the_alphabet_is_refused(job_id: str) -> None:
    with pytest.raises(InvalidInput):
        validation.check_id(job_id, "job_id", "invalid_job")


# Filters --------------------------------------------------------------------------------------

TYPES = ("run",)


def job_filter(raw: object) -> dict[str, Any]:
    return filters.normalize_job_filter(raw, tz=UTC, target_types=TYPES)


@pytest.mark.parametrize(
    ("normalize", "key"),
    [
        (job_filter, "status"),
        (job_filter, "at"),
        (lambda raw: filters.normalize_due_filter(raw, tz=UTC), "state"),
        (lambda raw: filters.normalize_due_filter(raw, tz=UTC), "due_before"),
        (lambda raw: filters.normalize_run_due_opts(raw, tz=UTC), "at"),
        (lambda raw: filters.normalize_run_due_opts(raw, tz=UTC), "include_claimed"),
    ],
)
def test_unknown_filter_keys_are_unsupported_filter(normalize: Any, key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize({key: 1})
    assert (info.value.code, info.value.field) == ("unsupported_filter", key)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("state", "sleeping"),
        ("state", 1),
        ("schedule_type", "weekly"),
        ("target_type", "teleport"),
        ("job_id", ""),
        ("job_id", 5),
        ("job_id", "nul\x00"),
        ("due_before", "soon"),
        ("due_before", 1.5),
        ("limit", 0),
        ("limit", -3),
        ("limit", True),
        ("limit", "10"),
        ("limit", 2.0),
    ],
)
def test_bad_list_filter_values_are_invalid_filter(key: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        job_filter({key: value})
    assert (info.value.code, info.value.field) == ("invalid_filter", key)


@pytest.mark.parametrize(
    ("key", "value"),
    [("at", "soon"), ("at", True), ("limit", 0), ("limit", False), ("include_claimed", "yes"), ("include_claimed", 1)],
)
def test_bad_due_filter_values_are_invalid_filter(key: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        filters.normalize_due_filter({key: value}, tz=UTC)
    assert (info.value.code, info.value.field) == ("invalid_filter", key)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("now", "soon"),
        ("now", 1.5),
        ("now", "9999-12-31T23:59:59.999999Z"),
        ("now", 253402300799999),
        ("limit", 0),
        ("runner_id", ""),
        ("runner_id", 3),
        ("runner_id", "r" * 201),
        ("claim_ttl_ms", 0),
        ("claim_ttl_ms", -1),
        ("claim_ttl_ms", True),
        ("claim_ttl_ms", 1.5),
        ("claim_ttl_ms", filters.MAX_TTL_MS + 1),
    ],
)
def test_bad_run_due_opts_are_invalid_filter(key: str, value: Any) -> None:
    with pytest.raises(InvalidInput) as info:
        filters.normalize_run_due_opts({key: value}, tz=UTC)
    assert (info.value.code, info.value.field) == ("invalid_filter", key)


@pytest.mark.parametrize("raw", ["state=active", ["state"], 3])
def test_filters_that_are_not_objects_are_invalid_filter(raw: object) -> None:
    with pytest.raises(InvalidInput) as info:
        job_filter(raw)
    assert info.value.code == "invalid_filter"


def test_any_other_unicode_is_storable() -> None:
    assert normalize_job(job(payload={"emoji 😀": "日本語", "accents": "é"}))["payload"] == {
        "emoji 😀": "日本語",
        "accents": "é",
    }


def test_the_longest_runner_id_fits_its_columns() -> None:
    assert filters.normalize_run_due_opts({"runner_id": "r" * 200}, tz=UTC) == {"runner_id": "r" * 200}


def test_valid_filters_are_normalised() -> None:
    assert job_filter(None) == {}
    assert job_filter({"state": None, "limit": 5, "due_before": 0, "target_type": "run"}) == {
        "limit": 5,
        "due_before": datetime(1970, 1, 1, tzinfo=UTC),
        "target_type": "run",
    }
