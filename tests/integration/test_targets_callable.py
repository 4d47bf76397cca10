"""routines.targets.callable: allow-listed project functions (SPEC §10), security cases first."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from routines import api, targets
from routines.exceptions import InvalidInput
from routines.models import Run
from routines.targets.callable import check_allowed
from tests.support import callables
from tests.support.jobs import T0, make, once, snapshot

pytestmark = pytest.mark.django_db

TRIPWIRE = "tests.support.tripwire"


@pytest.fixture(autouse=True)
def fresh_modules() -> Iterator[None]:
    """Forget the tripwire's import and the recorded calls around each test."""
    sys.modules.pop(TRIPWIRE, None)
    callables.IMPORTED.clear()
    callables.CALLS.clear()
    yield
    sys.modules.pop(TRIPWIRE, None)


@pytest.fixture
def allow(settings: Any) -> Any:
    """Set CALLABLE_ALLOWLIST for one test: ``allow(["pattern", ...])``."""

    def set_patterns(patterns: list[str]) -> None:
        settings.ROUTINES = {**settings.ROUTINES, "CALLABLE_ALLOWLIST": patterns}

    return set_patterns


def target(path: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": "callable", "path": path, **({"kwargs": kwargs} if kwargs else {})}


def tripwire_imported() -> bool:
    return TRIPWIRE in sys.modules or TRIPWIRE in callables.IMPORTED


def run_target(job_id: str, tgt: dict[str, Any], **extra: Any) -> Run:
    make(job_id, once(T0), tgt, **extra)
    (result,) = api.run_due({"now": T0})
    return result.run


# Validation ------------------------------------------------------------------------------------


def test_validate_normalises_the_target() -> None:
    assert targets.validate({"type": "callable", "path": "tests.support.callables.record"}) == {
        "type": "callable",
        "path": "tests.support.callables.record",
        "kwargs": {},
    }


def test_validate_requires_a_path() -> None:
    with pytest.raises(InvalidInput) as exc:
        targets.validate({"type": "callable"})
    assert (exc.value.code, exc.value.field) == ("invalid_job", "target")


def test_unknown_key_is_unsupported_target_key() -> None:
    with pytest.raises(InvalidInput) as exc:
        targets.validate({**target("tests.support.callables.record"), "args": [1]})
    assert (exc.value.code, exc.value.field) == ("unsupported_target_key", "args")


@pytest.mark.parametrize("kwargs", [[1, 2], "a=1", 3, None])
def test_kwargs_must_be_an_object(kwargs: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        targets.validate({**target("tests.support.callables.record"), "kwargs": kwargs})
    assert (exc.value.code, exc.value.field) == ("invalid_job", "target")


# The allow-list: refused before any import ---------------------------------------------------


def test_path_outside_the_allow_list_is_refused_at_create_without_importing_it() -> None:
    before = snapshot()
    with pytest.raises(InvalidInput) as exc:
        api.create({"job_id": "evil", "schedule": once(), "target": target("tests.support.tripwire.fire")})
    assert (exc.value.code, exc.value.field) == ("invalid_job", "target")
    assert "CALLABLE_ALLOWLIST" in exc.value.detail
    assert not tripwire_imported()
    assert snapshot() == before


def test_path_outside_the_allow_list_is_refused_at_update_without_importing_it() -> None:
    make("job", once(), target("tests.support.callables.record"))
    before = snapshot()
    with pytest.raises(InvalidInput) as exc:
        api.update("job", {"target": target("tests.support.tripwire.fire")})
    assert (exc.value.code, exc.value.field) == ("invalid_patch", "target")
    assert not tripwire_imported()
    assert snapshot() == before
    assert api.get("job").target["path"] == "tests.support.callables.record"


def test_an_allowed_path_is_not_imported_until_the_job_runs(allow: Any) -> None:
    allow(["tests.support.tripwire.*"])
    make("job", once(T0), target("tests.support.tripwire.fire"))
    assert not tripwire_imported()
    run = api.run_now("job")
    assert tripwire_imported()
    assert (run.status, run.result) == ("completed", "fired")


def test_an_empty_allow_list_refuses_every_path(allow: Any) -> None:
    allow([])
    for path in ("tests.support.callables.record", "tests.support.tripwire.fire", "os.system"):
        with pytest.raises(InvalidInput) as exc:
            targets.validate(target(path))
        assert (exc.value.code, exc.value.field) == ("invalid_job", "target")
    assert not tripwire_imported()


def test_the_default_allow_list_is_empty(settings: Any) -> None:
    settings.ROUTINES = {}
    with pytest.raises(InvalidInput):
        targets.validate(target("tests.support.callables.record"))


@pytest.mark.parametrize(
    "path",
    [
        "tests.support.callables.record; import os",
        "tests.support.callables.record;os.system('id')",
        "tests.support.callables.record()",
        "tests.support.callables.record\n",
        " tests.support.callables.record",
        "tests.support.callables.record ",
        "tests.support.callables..record",
        "tests.support.callables.",
        "tests.support.callables",
        "tests/support/callables.record",
        "tests.support.callables.record#x",
        "tests.support.callables.*",
        "tests.support.callables.[r]ecord",
        "tests.support.callables.__class__",
        "tests.support.callables.__builtins__",
        "tests.support.callables._private",
        "tests.support.callables.r\u0435cord",  # a Cyrillic letter that looks like "e"
        "tests.support.callablesx.record",
        "tests.support.callables_evil.record",
        "TESTS.SUPPORT.CALLABLES.RECORD",
        "os.system",
        "subprocess.run",
        "builtins.eval",
        "tests.support.callables.record" + ".x" * 100,
        "",
        None,
        42,
        ["tests.support.callables.record"],
    ],
)
def test_patterns_cannot_be_bypassed(path: Any) -> None:
    with pytest.raises(InvalidInput) as exc:
        api.create({"job_id": "evil", "schedule": once(), "target": {"type": "callable", "path": path}})
    assert (exc.value.code, exc.value.field) == ("invalid_job", "target")
    assert not api.list()


def test_a_wildcard_matches_dotted_names_only_under_its_prefix(allow: Any) -> None:
    allow(["tests.support.call*.record"])
    assert check_allowed("tests.support.callables.record") == "tests.support.callables.record"
    with pytest.raises(InvalidInput):
        check_allowed("tests.support.callables.add")


def test_check_allowed_reports_the_given_code_and_key() -> None:
    with pytest.raises(InvalidInput) as exc:
        check_allowed("os.system", "invalid_patch", key="name")
    assert (exc.value.code, exc.value.field) == ("invalid_patch", "target")
    assert "name 'os.system'" in exc.value.detail


def test_a_shrunk_allow_list_fails_the_run_without_importing(allow: Any) -> None:
    allow(["tests.support.tripwire.*"])
    make("job", once(T0), target("tests.support.tripwire.fire"))
    allow(["tests.support.callables.*"])
    run = api.run_now("job")
    assert run.status == "failed"
    assert run.error["type"] == "InvalidInput"
    assert "CALLABLE_ALLOWLIST" in run.error["message"]
    assert not tripwire_imported()


# Execution -------------------------------------------------------------------------------------


def test_the_function_gets_the_context_and_the_kwargs() -> None:
    run = run_target("job", target("tests.support.callables.record", to="ops", n=2), payload={"p": 1})
    assert run.status == "completed"
    assert run.result == {"job_id": "job", "run_id": run.run_id, "kwargs": {"to": "ops", "n": 2}}
    ((context, kwargs),) = callables.CALLS
    assert kwargs == {"to": "ops", "n": 2}
    assert (context.job_id, context.run_id, context.payload) == ("job", run.run_id, {"p": 1})


def test_context_of_a_scheduled_run() -> None:
    run = run_target("job", target("tests.support.callables.describe"), payload=[1, "two"])
    assert run.result == {
        "job_id": "job",
        "run_id": run.run_id,
        "slot_at": T0.isoformat(),
        "attempt": 1,
        "manual": False,
        "payload": [1, "two"],
    }


def test_context_of_a_manual_run() -> None:
    make("job", once(T0), target("tests.support.callables.describe"))
    run = api.run_now("job")
    assert (run.result["manual"], run.result["slot_at"], run.result["attempt"]) == (True, None, 1)


def test_the_return_value_is_the_result_and_a_non_dict_is_wrapped_in_last_result() -> None:
    run = run_target("job", target("tests.support.callables.add", a=2, b=3))
    assert (run.status, run.result, run.error) == ("completed", 5, None)
    job = api.get("job")
    assert (job.state, job.last_result, job.last_error) == ("completed", {"result": 5}, None)


def test_an_exception_fails_the_run_with_type_and_message() -> None:
    run = run_target("job", target("tests.support.callables.fail", message="disk full"))
    assert run.status == "failed"
    assert {k: run.error[k] for k in ("type", "message")} == {"type": "ValueError", "message": "disk full"}
    assert "ValueError: disk full" in run.error["traceback"]
    job = api.get("job")
    assert (job.state, job.last_error) == ("exhausted", run.error)


def test_an_exception_is_retried_under_the_retry_policy() -> None:
    run_target("job", target("tests.support.callables.fail"), retry_policy={"max_attempts": 2, "backoff_ms": 60_000})
    assert api.get("job").state == "retry_waiting"


@pytest.mark.parametrize("func", ["returns_set", "returns_object"])
def test_a_non_serialisable_return_value_fails_the_run(func: str) -> None:
    run = run_target("job", target(f"tests.support.callables.{func}"))
    assert run.status == "failed"
    assert run.error["type"] == "TypeError"
    assert "JSON" in run.error["message"]
    assert Run.objects.get(run_id=run.run_id).result is None


@pytest.mark.parametrize(
    ("func", "error_type"),
    [("NOT_CALLABLE", "TypeError"), ("Klass", "TypeError"), ("missing", "ImportError")],
)
def test_a_path_that_names_no_function_fails_the_run(func: str, error_type: str) -> None:
    run = run_target("job", target(f"tests.support.callables.{func}"))
    assert run.status == "failed"
    assert run.error["type"] == error_type


def test_wrong_kwargs_fail_the_run() -> None:
    run = run_target("job", target("tests.support.callables.add", a=1))
    assert (run.status, run.error["type"]) == ("failed", "TypeError")


def test_list_filters_by_the_callable_target_type() -> None:
    make("a", once(), target("tests.support.callables.record"))
    make("b", once())
    assert [j.job_id for j in api.list({"target_type": "callable"})] == ["a"]
