"""A session backend for tests: records every call and fails where a test tells it to.

``RecordingBackend.fail`` names the methods that raise (class-level, reset by the fixture);
``RecordingBackend.calls`` lists ``(method, args)`` across instances, in order.
"""

from __future__ import annotations

from typing import Any, ClassVar

from routines.sessions.echo import EchoBackend, EchoSession


class BackendFailure(RuntimeError):
    pass


class RecordingBackend(EchoBackend):
    calls: ClassVar[list[tuple[str, tuple[Any, ...]]]] = []
    fail: ClassVar[set[str]] = set()
    reply: ClassVar[Any] = None  # what query returns instead of the echo, when set

    def _record(self, name: str, *args: Any) -> None:
        type(self).calls.append((name, args))
        if name in type(self).fail:
            raise BackendFailure(f"{name} failed")

    def start_session(self, opts: dict[str, Any]) -> EchoSession:
        self._record("start_session", opts)
        return super().start_session(opts)

    def query(self, session: Any, prompt: str, query_opts: dict[str, Any]) -> list[dict[str, Any]]:
        self._record("query", session, prompt, query_opts)
        if type(self).reply is not None:
            return type(self).reply
        return super().query(session, prompt, query_opts)

    def thread_start(self, session: Any, opts: dict[str, Any]) -> str:
        self._record("thread_start", session, opts)
        return super().thread_start(session, opts)

    def thread_resume(self, session: Any, thread_id: str) -> None:
        self._record("thread_resume", session, thread_id)
        super().thread_resume(session, thread_id)

    def stop(self, session: Any) -> None:
        self._record("stop", session)
        super().stop(session)

    def identity(self, session: Any) -> str:
        self._record("identity", session)
        return super().identity(session)

    @classmethod
    def names(cls) -> list[str]:
        return [name for name, _ in cls.calls]


class NotABackendClass:
    """Instantiated fine, but has none of the methods: every use raises AttributeError."""
