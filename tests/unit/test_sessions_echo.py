"""routines.sessions.echo: the demo and test backend answers each prompt with the prompt."""

from __future__ import annotations

import pytest

from routines.sessions.echo import EchoBackend, EchoSession


@pytest.fixture
def backend() -> EchoBackend:
    return EchoBackend()


def test_start_session_keeps_the_opts(backend: EchoBackend) -> None:
    session = backend.start_session({"routing": {"tier": "fast"}})
    assert session.opts == {"routing": {"tier": "fast"}}
    assert backend.identity(session) == session.session_id
    assert session.session_id != backend.start_session({}).session_id


def test_query_echoes_the_prompt(backend: EchoBackend) -> None:
    session = backend.start_session({})
    assert backend.query(session, "hello", {}) == [{"role": "assistant", "content": "hello"}]


def test_threads_collect_their_prompts(backend: EchoBackend) -> None:
    session = backend.start_session({})
    thread_id = backend.thread_start(session, {})
    backend.query(session, "one", {"thread_id": thread_id})
    backend.query(session, "two", {"thread_id": thread_id})
    backend.thread_resume(session, "other")
    assert session.threads == {thread_id: ["one", "two"], "other": []}
    assert backend.thread_start(session, {}) != thread_id


def test_a_stopped_session_refuses_queries(backend: EchoBackend) -> None:
    session = backend.start_session({})
    backend.stop(session)
    assert session.stopped
    with pytest.raises(RuntimeError):
        backend.query(session, "hello", {})


def test_any_object_can_be_a_live_echo_session(backend: EchoBackend) -> None:
    class Bot:
        session_id = "bot-1"

    bot = Bot()
    assert backend.query(bot, "hi", {"thread_id": "t"}) == [{"role": "assistant", "content": "hi"}]
    assert backend.identity(bot) == "bot-1"
    assert backend.identity(object()).startswith("echo_")
    backend.thread_resume(bot, "t")
    backend.stop(bot)
    assert isinstance(backend.thread_start(bot, {}), str)


def test_echo_session_defaults() -> None:
    session = EchoSession()
    assert (session.opts, session.threads, session.stopped) == ({}, {}, False)
