"""routines.exceptions: the error hierarchy of SPEC §3 (pure, no database)."""

from __future__ import annotations

import pytest

from routines.exceptions import AlreadyExists, InvalidInput, JobBusy, JobTerminal, NotFound, PolicyDenied, RoutineError


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (InvalidInput, "invalid_job"),
        (NotFound, "not_found"),
        (AlreadyExists, "already_exists"),
        (JobBusy, "job_busy"),
        (JobTerminal, "job_terminal"),
    ],
)
def test_every_error_is_a_routine_error_with_its_default_code(cls: type[RoutineError], code: str) -> None:
    exc = cls("message")
    assert isinstance(exc, RoutineError)
    assert exc.code == code
    assert exc.field is None
    assert exc.detail == "message"


def test_invalid_input_is_a_value_error_carrying_code_and_field() -> None:
    exc = InvalidInput("bad", code="unsupported_job_key", field="colour")
    assert isinstance(exc, ValueError)
    assert (exc.code, exc.field) == ("unsupported_job_key", "colour")


def test_a_given_code_does_not_change_the_class_default() -> None:
    InvalidInput("bad", code="invalid_patch")
    assert InvalidInput("bad").code == "invalid_job"


def test_not_found_is_a_lookup_error() -> None:
    assert isinstance(NotFound("gone"), LookupError)


def test_policy_denied_has_a_reason() -> None:
    exc = PolicyDenied("weekends are off")
    assert exc.code == "policy_denied"
    assert exc.reason == "weekends are off"
    assert "weekends are off" in exc.detail


def test_an_error_without_message_reads_as_its_code() -> None:
    assert str(JobBusy()) == "job_busy"


def test_repr_names_code_and_field() -> None:
    assert repr(InvalidInput("x", field="schedule")) == "InvalidInput(code='invalid_job', field='schedule', detail='x')"
