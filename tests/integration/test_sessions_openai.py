"""routines.sessions.openai against a real OpenAI-compatible HTTP server on 127.0.0.1.

The server is a few lines of ``http.server`` in a thread: it records each request and answers
with what the test queued (a completion, an error status, bytes that are not a completion, or
silence longer than the client's timeout).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("httpx", reason="the OpenAI backend needs httpx (the openai extra)")

from routines import api, deadlines
from routines.models import Run, Thread, ThreadMessage
from routines.sessions.openai import OpenAIBackend, OpenAIError, OpenAISession
from tests.support.jobs import T0, make, once

pytestmark = pytest.mark.django_db

KEY_ENV = "ROUTINES_TEST_OPENAI_KEY"


def completion(content: Any, role: str = "assistant") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": role, "content": content}, "finish_reason": "stop"}],
    }


@dataclass
class FakeServer:
    """What the server saw, and what it will answer next (default: a completion echoing the prompt)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Each item: ("json", status, obj) | ("raw", status, bytes) | ("sleep", seconds, None)
    answers: deque[tuple[str, Any, Any]] = field(default_factory=deque)

    def answer(self, body: dict[str, Any]) -> tuple[int, bytes, float]:
        if self.answers:
            kind, a, b = self.answers.popleft()
            if kind == "json":
                return a, json.dumps(b).encode(), 0
            if kind == "raw":
                return a, b, 0
            return 200, json.dumps(completion("late")).encode(), a
        prompt = body["messages"][-1]["content"]
        return 200, json.dumps(completion(f"re: {prompt} ({len(body['messages'])} messages)")).encode(), 0


def handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.loads(raw)
            server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, payload, delay = server.answer(body)
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def http_server() -> Iterator[FakeServer]:
    """One server per module (starting and stopping one per test would cost more than the tests)."""
    fake = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield fake
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(http_server: FakeServer, settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    http_server.requests.clear()
    http_server.answers.clear()
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    settings.ROUTINES = {
        **settings.ROUTINES,
        "SESSION_BACKEND": "routines.sessions.openai.OpenAIBackend",
        "OPENAI_BASE_URL": http_server.url + "/",
        "OPENAI_API_KEY_ENV": KEY_ENV,
        "OPENAI_MODEL": "test-model",
        "OPENAI_TIMEOUT_SECONDS": 5,
    }
    return http_server


@pytest.fixture
def backend() -> OpenAIBackend:
    return OpenAIBackend()


def session(backend: OpenAIBackend, **opts: Any) -> OpenAISession:
    return backend.start_session(opts)


def query_target(**extra: Any) -> dict[str, Any]:
    return {"type": "query", "session": {"kind": "routed", "opts": {}}, "prompt": "hello", **extra}


def run_job(job_id: str, target: dict[str, Any], **extra: Any) -> Run:
    make(job_id, once(T0), target, **extra)
    (result,) = api.run_due({"now": T0})
    return Run.objects.get(run_id=result.run.run_id)


# Success ---------------------------------------------------------------------------------------


def test_query_posts_a_chat_completion_and_returns_the_reply(server: FakeServer, backend: OpenAIBackend) -> None:
    messages = backend.query(session(backend), "hello", {})
    assert messages == [{"role": "assistant", "content": "re: hello (1 messages)", "finish_reason": "stop"}]
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {"model": "test-model", "messages": [{"role": "user", "content": "hello"}]}
    assert request["headers"]["Authorization"] == "Bearer sk-test-123"


def test_no_authorization_header_without_a_key(
    server: FakeServer, backend: OpenAIBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    backend.query(session(backend), "hello", {})
    assert "Authorization" not in server.requests[0]["headers"]


def test_session_opts_choose_model_system_and_sampling(server: FakeServer, backend: OpenAIBackend) -> None:
    s = session(backend, model="llama3", system="be brief", temperature=0.2, max_tokens=50)
    backend.query(s, "hi", {"temperature": 0, "seed": 7})
    body = server.requests[0]["body"]
    assert body["model"] == "llama3"
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0, 50, 7)


def test_routing_may_choose_the_model(server: FakeServer, backend: OpenAIBackend) -> None:
    backend.query(session(backend, routing={"model": "routed-model", "region": "eu"}), "hi", {})
    assert server.requests[0]["body"]["model"] == "routed-model"
    backend.query(session(backend, model="explicit", routing={"model": "routed-model"}), "hi", {})
    assert server.requests[1]["body"]["model"] == "explicit"


@pytest.mark.parametrize(
    "opts", [{"base_url": "http://evil.example/v1"}, {"api_key": "x"}, {"model": ""}, {"system": 3}]
)
def test_session_opts_cannot_choose_the_server_or_the_key(backend: OpenAIBackend, opts: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        backend.start_session(opts)


def test_unknown_query_opts_are_refused(server: FakeServer, backend: OpenAIBackend) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        backend.query(session(backend), "hi", {"url": "http://evil.example"})
    assert server.requests == []


def test_a_routed_query_target_runs_end_to_end(server: FakeServer) -> None:
    run = run_job("job", query_target(prompt="status?"), routing_policy={"model": "from-policy"})
    assert run.status == "completed"
    assert run.result == {"message_count": 1, "final_content": "re: status? (1 messages)"}
    assert run.scope["session_id"].startswith("openai_")
    assert server.requests[0]["body"]["model"] == "from-policy"


# Failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_an_http_error_raises_with_the_status_and_body(server: FakeServer, backend: OpenAIBackend, status: int) -> None:
    server.answers.append(("json", status, {"error": {"message": "nope"}}))
    with pytest.raises(OpenAIError, match=f"HTTP {status}.*nope"):
        backend.query(session(backend), "hi", {})


def test_an_http_error_fails_the_run_but_not_as_a_bootstrap_failure(server: FakeServer) -> None:
    server.answers.append(("json", 500, {"error": "overloaded"}))
    run = run_job("job", query_target())
    assert run.status == "failed"
    assert run.error["type"] == "OpenAIError"
    assert "HTTP 500" in run.error["message"]
    assert "sk-test-123" not in json.dumps(run.error)
    assert not run.metadata.get("bootstrap_failure")


def test_a_timeout_raises(server: FakeServer, backend: OpenAIBackend, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "OPENAI_TIMEOUT_SECONDS": 0.2}
    server.answers.append(("sleep", 1.0, None))
    with pytest.raises(OpenAIError, match=r"within 0\.2 s"):
        backend.query(session(backend), "hi", {})


def test_a_timeout_fails_the_run(server: FakeServer, settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "OPENAI_TIMEOUT_SECONDS": 0.2}
    server.answers.append(("sleep", 1.0, None))
    run = run_job("job", query_target())
    assert (run.status, run.error["type"]) == ("failed", "OpenAIError")


def test_the_jobs_deadline_cuts_the_wait_shorter(server: FakeServer, backend: OpenAIBackend) -> None:
    server.answers.append(("sleep", 2.0, None))  # the setting allows 5 s
    with deadlines.until(time.monotonic() + 0.3), pytest.raises(OpenAIError) as caught:
        backend.query(session(backend), "hi", {})
    waited = float(re.search(r"within ([0-9.e-]+) s", str(caught.value)).group(1))  # type: ignore[union-attr]
    assert 0 < waited <= 0.3


def test_a_job_waiting_on_the_server_past_its_timeout_fails(server: FakeServer) -> None:
    server.answers.append(("sleep", 3.0, None))
    run = run_job("job", query_target(), timeout_ms=1000)
    assert run.status == "failed"
    # The client gives up at the deadline as the runner does: whichever is first names the failure.
    if run.error != {"reason": "timeout", "timeout_ms": 1000}:
        assert run.error["type"] == "OpenAIError"
        assert float(re.search(r"within ([0-9.e-]+) s", run.error["message"]).group(1)) <= 1.0  # type: ignore[union-attr]


def test_an_unreachable_server_raises(backend: OpenAIBackend, settings: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on exit: nothing listens there
    settings.ROUTINES = {**settings.ROUTINES, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    with pytest.raises(OpenAIError, match="failed"):
        backend.query(session(backend), "hi", {})


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (("raw", 200, b"<html>gateway</html>"), "not JSON"),
        (("json", 200, {"object": "list"}), "no choices"),
        (("json", 200, {"choices": []}), "no choices"),
        (("json", 200, {"choices": ["text"]}), "no choices"),
        (("json", 200, ["choices"]), "no choices"),
        (("json", 200, completion(["a", "b"])), "content is a list"),
        (("json", 200, completion("x", role=5)), "role"),
    ],
)
def test_a_malformed_response_raises(
    server: FakeServer, backend: OpenAIBackend, answer: tuple[str, Any, Any], message: str
) -> None:
    server.answers.append(answer)
    with pytest.raises(OpenAIError, match=message):
        backend.query(session(backend), "hi", {})


def test_a_malformed_response_fails_the_run(server: FakeServer) -> None:
    server.answers.append(("raw", 200, b"not json"))
    run = run_job("job", query_target())
    assert run.status == "failed"
    assert "malformed" in run.error["message"]


def test_a_null_content_is_a_reply_without_final_content(server: FakeServer) -> None:
    server.answers.append(("json", 200, completion(None)))
    run = run_job("job", query_target())
    assert run.result == {"message_count": 1, "final_content": None}


# Threads: stored conversation history ----------------------------------------------------------


def test_thread_continues_across_runs(server: FakeServer) -> None:
    first = run_job("first", query_target(prompt="my name is Ada", thread={"start": {"system": "be brief"}}))
    thread_id = first.scope["thread_id"]
    assert first.status == "completed"
    second = run_job("second", query_target(prompt="what is my name?", thread={"thread_id": thread_id}))
    assert second.status == "completed"
    assert second.scope["thread_id"] == thread_id
    assert server.requests[1]["body"]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "my name is Ada"},
        {"role": "assistant", "content": "re: my name is Ada (2 messages)"},
        {"role": "user", "content": "what is my name?"},
    ]
    rows = list(ThreadMessage.objects.filter(thread_id=thread_id).order_by("seq").values_list("seq", "role"))
    assert rows == [(1, "user"), (2, "assistant"), (3, "user"), (4, "assistant")]


def test_a_recurring_job_keeps_talking_on_its_thread(server: FakeServer, backend: OpenAIBackend) -> None:
    thread_id = backend.thread_start(session(backend), {})
    tgt = query_target(prompt="tick", thread={"thread_id": thread_id})
    make("ticker", {"type": "interval", "every_ms": 60_000, "start_at": T0, "catch_up": True}, tgt)
    api.run_due({"now": T0.replace(minute=2)})
    assert [len(r["body"]["messages"]) for r in server.requests] == [1, 3, 5]
    assert ThreadMessage.objects.filter(thread_id=thread_id).count() == 6


def test_a_failed_exchange_is_not_stored(server: FakeServer, backend: OpenAIBackend) -> None:
    s = session(backend)
    thread_id = backend.thread_start(s, {})
    server.answers.append(("json", 500, {}))
    with pytest.raises(OpenAIError):
        backend.query(s, "lost", {"thread_id": thread_id})
    assert not ThreadMessage.objects.filter(thread_id=thread_id).exists()
    backend.query(s, "kept", {"thread_id": thread_id})
    assert server.requests[-1]["body"]["messages"] == [{"role": "user", "content": "kept"}]


def test_thread_start_stores_the_thread(backend: OpenAIBackend) -> None:
    s = session(backend, model="m", system="session system")
    thread_id = backend.thread_start(s, {})
    thread = Thread.objects.get(thread_id=thread_id)
    assert (thread.backend, thread.model, thread.system) == ("openai", "m", "session system")
    assert s.thread_id == thread_id


def test_thread_start_refuses_unknown_opts(backend: OpenAIBackend) -> None:
    with pytest.raises(ValueError):
        backend.thread_start(session(backend), {"history": []})
    assert not Thread.objects.exists()


def test_resuming_an_unknown_thread_is_a_bootstrap_failure(server: FakeServer) -> None:
    run = run_job("job", query_target(thread={"thread_id": "thread_nope"}))
    assert run.status == "failed"
    assert run.error["type"] == "LookupError"
    assert run.metadata["bootstrap_failure"] is True
    assert server.requests == []


def test_a_stopped_session_refuses_queries(server: FakeServer, backend: OpenAIBackend) -> None:
    s = session(backend)
    backend.stop(s)
    with pytest.raises(RuntimeError):
        backend.query(s, "hi", {})
    assert backend.identity(s) == s.session_id
