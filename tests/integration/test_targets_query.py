"""routines.targets.query: prompts on live or routed agent sessions (SPEC §5, §10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from routines import api, sessions, targets
from routines.exceptions import InvalidInput
from routines.models import Run
from routines.sessions.echo import EchoSession
from tests.support.jobs import T0, make, once, snapshot
from tests.support.session_backends import RecordingBackend

pytestmark = pytest.mark.django_db

ROUTED = {"kind": "routed", "opts": {}}


def query(session: dict[str, Any] | None = None, prompt: str = "summarise the queue", **extra: Any) -> dict[str, Any]:
    return {"type": "query", "session": session or ROUTED, "prompt": prompt, **extra}


def live(ref: str = "bot") -> dict[str, Any]:
    return {"kind": "live", "ref": ref}


@pytest.fixture
def recording(settings: Any) -> Iterator[type[RecordingBackend]]:
    settings.ROUTINES = {**settings.ROUTINES, "SESSION_BACKEND": "tests.support.session_backends.RecordingBackend"}
    RecordingBackend.calls = []
    RecordingBackend.fail = set()
    RecordingBackend.reply = None
    yield RecordingBackend
    RecordingBackend.calls = []
    RecordingBackend.fail = set()
    RecordingBackend.reply = None


@pytest.fixture
def bot() -> Iterator[EchoSession]:
    """An echo session registered as the live session ``bot``."""
    session = EchoSession(session_id="bot-session")
    sessions.register_live("bot", session)
    yield session
    sessions.unregister_live("bot")


def run_query(tgt: dict[str, Any], job_id: str = "job", **extra: Any) -> Run:
    make(job_id, once(T0), tgt, **extra)
    (result,) = api.run_due({"now": T0})
    return Run.objects.get(run_id=result.run.run_id)


def call(backend: type[RecordingBackend], name: str) -> tuple[Any, ...]:
    (args,) = [args for n, args in backend.calls if n == name]
    return args


# Validation ------------------------------------------------------------------------------------


def test_routed_target_is_normalised_with_stop_session_true() -> None:
    assert targets.validate({"type": "query", "session": {"kind": "routed"}, "prompt": "hi"}) == {
        "type": "query",
        "session": {"kind": "routed", "opts": {}},
        "prompt": "hi",
        "query_opts": {},
        "stop_session": True,
    }


def test_live_target_is_normalised_with_stop_session_false() -> None:
    out = targets.validate(query(live(), thread={"thread_id": "t1"}, query_opts={"x": 1}))
    assert out["session"] == {"kind": "live", "ref": "bot"}
    assert (out["stop_session"], out["thread"], out["query_opts"]) == (False, {"thread_id": "t1"}, {"x": 1})


@pytest.mark.parametrize("stop", [True, False])
def test_stop_session_given_is_kept(stop: bool) -> None:
    assert targets.validate(query(live(), stop_session=stop))["stop_session"] is stop
    assert targets.validate(query(stop_session=stop))["stop_session"] is stop


@pytest.mark.parametrize(
    ("tgt", "code", "field"),
    [
        (query(model="gpt"), "unsupported_target_key", "model"),
        (query({"kind": "routed", "pid": 1}), "unsupported_session_target_key", "pid"),
        (query({"kind": "live", "ref": "bot", "opts": {}}), "unsupported_session_target_key", "opts"),
        (query({"kind": "routed", "ref": "bot"}), "unsupported_session_target_key", "ref"),
        (query(thread={"thread_id": "t", "resume": True}), "unsupported_thread_key", "resume"),
        (query(thread={"id": "t"}), "unsupported_thread_key", "id"),
    ],
)
def test_unknown_keys_name_their_level_and_key(tgt: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        targets.validate(tgt)
    assert (exc.value.code, exc.value.field) == (code, field)


BAD_TARGETS = [
    {"type": "query", "prompt": "hi"},
    query(session="routed"),  # type: ignore[arg-type]
    query({"kind": "remote"}),
    query({"ref": "bot"}),
    query({"kind": "live"}),
    query({"kind": "live", "ref": ""}),
    query({"kind": "live", "ref": 7}),
    query({"kind": "live", "ref": "x" * 201}),
    query({"kind": "routed", "opts": []}),
    query({"kind": "routed", "opts": {"routing": "fast"}}),
    {"type": "query", "session": ROUTED},
    query(prompt=""),
    query(prompt="   "),
    query(prompt=42),  # type: ignore[arg-type]
    query(query_opts=[]),
    query(thread="t1"),
    query(thread={}),
    query(thread={"thread_id": "t", "start": {}}),
    query(thread={"thread_id": ""}),
    query(thread={"thread_id": 5}),
    query(thread={"start": "now"}),
    query(stop_session="yes"),
    query(stop_session=1),
]


@pytest.mark.parametrize("tgt", BAD_TARGETS)
def test_bad_shapes_are_invalid_job_on_create_and_write_nothing(tgt: dict[str, Any]) -> None:
    before = snapshot()
    with pytest.raises(InvalidInput) as exc:
        api.create({"schedule": once(), "target": tgt})
    assert (exc.value.code, exc.value.field) == ("invalid_job", "target")
    assert snapshot() == before


@pytest.mark.parametrize("tgt", BAD_TARGETS[:4] + BAD_TARGETS[-4:])
def test_bad_shapes_are_invalid_patch_on_update(tgt: dict[str, Any]) -> None:
    make("job", once(), query())
    with pytest.raises(InvalidInput) as exc:
        api.update("job", {"target": tgt})
    assert (exc.value.code, exc.value.field) == ("invalid_patch", "target")


def test_a_live_ref_can_be_created_when_no_such_session_is_registered() -> None:
    job = make("job", once(), query(live("nobody-home")))
    assert job.target["session"] == {"kind": "live", "ref": "nobody-home"}


def test_create_does_not_load_the_session_backend(settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "SESSION_BACKEND": "tests.no_such_module.Backend"}
    assert make("job", once(), query()).target_type == "query"


# Execution: results, scope, steps --------------------------------------------------------------


def test_routed_echo_query_completes_with_the_prompt_as_final_content() -> None:
    run = run_query(query(prompt="ping"))
    assert run.status == "completed"
    assert run.result == {"message_count": 1, "final_content": "ping"}
    assert run.error is None
    assert run.scope["session_kind"] == "routed"
    assert run.scope["session_id"].startswith("echo_")
    assert api.get("job").last_result == {"message_count": 1, "final_content": "ping"}


def test_each_run_records_an_execute_step_with_its_status() -> None:
    run = run_query(query())
    (step,) = run.steps
    assert (step["name"], step["status"], step["message_count"]) == ("execute", "completed", 1)
    assert step["started_at"] <= step["finished_at"]


def test_the_run_input_is_the_prompt() -> None:
    run = run_query(query(prompt="ping", query_opts={"temperature": 0}))
    assert run.input == {"prompt": "ping", "query_opts": {"temperature": 0}}
    assert run.metadata["target_type"] == "query"


def test_a_manual_run_queries_too() -> None:
    make("job", once(T0), query(prompt="now please"))
    run = api.run_now("job")
    assert (run.status, run.result["final_content"]) == ("completed", "now please")


def test_final_content_is_that_of_the_last_message(recording: type[RecordingBackend]) -> None:
    recording.reply = [{"role": "assistant", "content": "thinking"}, {"role": "assistant", "content": "done"}]
    assert run_query(query()).result == {"message_count": 2, "final_content": "done"}


@pytest.mark.parametrize("reply", [[], [{"role": "tool", "content": None}], [{"content": ["parts"]}]])
def test_final_content_is_none_without_a_string_content(recording: type[RecordingBackend], reply: Any) -> None:
    recording.reply = reply
    run = run_query(query())
    assert run.result == {"message_count": len(reply), "final_content": None}


@pytest.mark.parametrize("reply", ["text", [1, 2], {"content": "x"}])
def test_a_reply_that_is_not_a_message_list_fails_the_run(recording: type[RecordingBackend], reply: Any) -> None:
    recording.reply = reply
    run = run_query(query())
    assert (run.status, run.error["type"]) == ("failed", "TypeError")
    assert not run.metadata.get("bootstrap_failure")


# Live sessions ---------------------------------------------------------------------------------


def test_live_session_is_queried_and_left_running(bot: EchoSession) -> None:
    run = run_query(query(live(), prompt="hello bot"))
    assert (run.status, run.result["final_content"]) == ("completed", "hello bot")
    assert run.scope == {"session_kind": "live", "session_ref": "bot", "session_id": "bot-session"}
    assert not bot.stopped


def test_live_session_is_stopped_when_asked(bot: EchoSession) -> None:
    run = run_query(query(live(), stop_session=True))
    assert run.status == "completed"
    assert bot.stopped
    assert run.metadata["session_stopped"] is True


def test_live_session_goes_to_the_configured_backend(recording: type[RecordingBackend], bot: EchoSession) -> None:
    run_query(query(live(), prompt="p"))
    assert call(recording, "query")[:2] == (bot, "p")
    assert "start_session" not in recording.names()
    assert "stop" not in recording.names()


def test_unknown_live_ref_fails_with_session_not_found() -> None:
    run = run_query(query(live("nobody-home")))
    assert run.status == "failed"
    assert run.error == {"reason": "session_not_found"}
    assert run.metadata["bootstrap_failure"] is True
    assert [(s["name"], s["status"]) for s in run.steps] == [("execute", "failed")]
    assert api.get("job").last_error == {"reason": "session_not_found"}


def test_an_unregistered_session_is_not_found(bot: EchoSession) -> None:
    sessions.unregister_live("bot")
    assert run_query(query(live())).error == {"reason": "session_not_found"}


# Routed sessions -------------------------------------------------------------------------------


def test_routing_policy_is_merged_into_opts_routing(recording: type[RecordingBackend]) -> None:
    tgt = query({"kind": "routed", "opts": {"model": "m", "routing": {"region": "eu", "tier": "slow"}}})
    run_query(tgt, routing_policy={"tier": "fast", "pool": "a"})
    (opts,) = call(recording, "start_session")
    assert opts == {"model": "m", "routing": {"region": "eu", "tier": "fast", "pool": "a"}}
    assert api.get("job").target["session"]["opts"] == {"model": "m", "routing": {"region": "eu", "tier": "slow"}}


def test_routing_is_present_even_when_empty(recording: type[RecordingBackend]) -> None:
    run_query(query())
    assert call(recording, "start_session") == ({"routing": {}},)


def test_routed_session_is_stopped_after_the_query(recording: type[RecordingBackend]) -> None:
    run = run_query(query())
    assert recording.names() == ["start_session", "identity", "query", "stop"]
    assert call(recording, "stop")[0] is call(recording, "query")[0]
    assert run.metadata["session_stopped"] is True


def test_routed_session_is_kept_when_stop_session_is_false(recording: type[RecordingBackend]) -> None:
    run_query(query(stop_session=False))
    assert "stop" not in recording.names()


def test_a_failed_query_fails_the_run_and_still_stops_the_session(recording: type[RecordingBackend]) -> None:
    recording.fail = {"query"}
    run = run_query(query())
    assert run.status == "failed"
    assert (run.error["type"], run.error["message"]) == ("BackendFailure", "query failed")
    assert "BackendFailure: query failed" in run.error["traceback"]
    assert recording.names()[-1] == "stop"
    assert not run.metadata.get("bootstrap_failure")
    assert [(s["name"], s["status"]) for s in run.steps] == [("execute", "failed")]


def test_a_failed_query_is_retried_under_the_retry_policy(recording: type[RecordingBackend]) -> None:
    recording.fail = {"query"}
    run_query(query(), retry_policy={"max_attempts": 3, "backoff_ms": 60_000})
    assert api.get("job").state == "retry_waiting"


def test_a_failing_stop_does_not_fail_the_run(recording: type[RecordingBackend]) -> None:
    recording.fail = {"stop"}
    run = run_query(query())
    assert run.status == "completed"
    stop_error = run.metadata["stop_error"]
    assert (stop_error["type"], stop_error["message"]) == ("BackendFailure", "stop failed")


# Bootstrap failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["start_session", "identity"])
def test_a_session_that_cannot_be_opened_is_a_bootstrap_failure(recording: type[RecordingBackend], method: str) -> None:
    recording.fail = {method}
    run = run_query(query())
    assert run.status == "failed"
    assert (run.error["type"], run.error["message"]) == ("BackendFailure", f"{method} failed")
    assert run.metadata["bootstrap_failure"] is True
    assert "query" not in recording.names()


def test_a_session_whose_identity_fails_is_still_stopped(recording: type[RecordingBackend]) -> None:
    recording.fail = {"identity"}
    run = run_query(query())
    assert recording.names() == ["start_session", "identity", "stop"]
    assert call(recording, "stop")[0] is call(recording, "identity")[0]
    assert run.metadata["session_stopped"] is True


@pytest.mark.parametrize(("method", "thread"), [("thread_start", {"start": {}}), ("thread_resume", {"thread_id": "t"})])
def test_a_thread_that_cannot_be_opened_is_a_bootstrap_failure_and_the_session_is_stopped(
    recording: type[RecordingBackend], method: str, thread: dict[str, Any]
) -> None:
    recording.fail = {method}
    run = run_query(query(thread=thread))
    assert run.status == "failed"
    assert run.metadata["bootstrap_failure"] is True
    assert "query" not in recording.names()
    assert recording.names()[-1] == "stop"


def test_an_unimportable_backend_is_a_bootstrap_failure(settings: Any) -> None:
    make("job", once(T0), query())
    settings.ROUTINES = {**settings.ROUTINES, "SESSION_BACKEND": "tests.no_such_module.Backend"}
    (result,) = api.run_due({"now": T0})
    run = result.run
    assert (run.status, run.metadata["bootstrap_failure"]) == ("failed", True)
    assert run.error["type"] == "ModuleNotFoundError"


# Threads ---------------------------------------------------------------------------------------


def test_a_started_thread_goes_into_scope_and_query_opts(recording: type[RecordingBackend]) -> None:
    run = run_query(query(thread={"start": {"system": "be brief"}}, query_opts={"temperature": 0}))
    _, start_opts = call(recording, "thread_start")
    assert start_opts == {"system": "be brief"}
    thread_id = run.scope["thread_id"]
    assert thread_id.startswith("thread_")
    assert call(recording, "query")[2] == {"temperature": 0, "thread_id": thread_id}
    assert api.get("job").target["query_opts"] == {"temperature": 0}


def test_a_resumed_thread_goes_into_scope_and_query_opts(recording: type[RecordingBackend]) -> None:
    run = run_query(query(thread={"thread_id": "thread_42"}))
    assert call(recording, "thread_resume")[1] == "thread_42"
    assert call(recording, "query")[2] == {"thread_id": "thread_42"}
    assert run.scope["thread_id"] == "thread_42"


def test_echo_threads_collect_the_prompts_of_a_live_session(bot: EchoSession) -> None:
    run_query(query(live(), prompt="one", thread={"thread_id": "t1"}), job_id="a")
    run_query(query(live(), prompt="two", thread={"thread_id": "t1"}), job_id="b")
    assert bot.threads == {"t1": ["one", "two"]}
