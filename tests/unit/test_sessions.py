"""routines.sessions: the in-process live registry and the configured backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from routines import sessions
from routines.sessions import SessionBackend
from routines.sessions.echo import EchoBackend
from tests.support.session_backends import RecordingBackend


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    for ref in sessions.live_refs():
        sessions.unregister_live(ref)
    yield
    for ref in sessions.live_refs():
        sessions.unregister_live(ref)


def test_register_live_makes_a_session_reachable_by_ref() -> None:
    session = object()
    sessions.register_live("bot", session)
    assert sessions.get_live("bot") is session
    assert sessions.live_refs() == ("bot",)


def test_register_live_replaces_an_earlier_session() -> None:
    first, second = object(), object()
    sessions.register_live("bot", first)
    sessions.register_live("bot", second)
    assert sessions.get_live("bot") is second


def test_unregister_live_forgets_the_ref_and_ignores_unknown_ones() -> None:
    sessions.register_live("bot", object())
    sessions.unregister_live("bot")
    sessions.unregister_live("never-registered")
    assert sessions.get_live("bot") is None
    assert sessions.live_refs() == ()


@pytest.mark.parametrize("ref", ["", None, 42])
def test_register_live_needs_a_string_ref(ref: Any) -> None:
    with pytest.raises(ValueError):
        sessions.register_live(ref, object())


def test_the_registry_is_safe_across_threads() -> None:
    def worker(n: int) -> None:
        for i in range(200):
            sessions.register_live(f"t{n}-{i}", i)
            sessions.unregister_live(f"t{n}-{i - 1}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sessions.live_refs()) == [f"t{n}-199" for n in range(4)]


def test_the_default_backend_is_the_echo_backend(settings: Any) -> None:
    settings.ROUTINES = {}
    backend = sessions.get_backend()
    assert isinstance(backend, EchoBackend)
    assert isinstance(backend, SessionBackend)


def test_the_backend_is_read_from_settings_at_call_time(settings: Any) -> None:
    settings.ROUTINES = {"SESSION_BACKEND": "tests.support.session_backends.RecordingBackend"}
    first = sessions.get_backend()
    assert isinstance(first, RecordingBackend)
    assert sessions.get_backend() is not first


def test_an_unimportable_backend_raises_import_error(settings: Any) -> None:
    settings.ROUTINES = {"SESSION_BACKEND": "tests.no_such_module.Backend"}
    with pytest.raises(ImportError):
        sessions.get_backend()
