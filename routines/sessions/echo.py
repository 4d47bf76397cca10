"""The echo backend: answers every prompt with the prompt itself.

It is the default ``SESSION_BACKEND`` so that ``query`` targets work out of the box in the demo
and in tests, with no model, network or key. It is not meant for production: point
``SESSION_BACKEND`` at ``routines.sessions.openai.OpenAIBackend`` or a backend of your own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .base import Message


@dataclass
class EchoSession:
    session_id: str = field(default_factory=lambda: "echo_" + uuid.uuid4().hex)
    opts: dict[str, Any] = field(default_factory=dict)
    # thread id -> prompts sent on it, so a session can show what it was asked.
    threads: dict[str, list[str]] = field(default_factory=dict)
    stopped: bool = False


class EchoBackend:
    """Works on any session object (live ones included); state is kept on ``EchoSession``s only."""

    def start_session(self, opts: dict[str, Any]) -> EchoSession:
        return EchoSession(opts=dict(opts))

    def query(self, session: Any, prompt: str, query_opts: dict[str, Any]) -> list[Message]:
        if getattr(session, "stopped", False):
            raise RuntimeError("the echo session is stopped")
        thread_id = query_opts.get("thread_id")
        if isinstance(session, EchoSession) and thread_id is not None:
            session.threads.setdefault(thread_id, []).append(prompt)
        return [{"role": "assistant", "content": prompt}]

    def thread_start(self, session: Any, opts: dict[str, Any]) -> str:
        thread_id = "thread_" + uuid.uuid4().hex
        if isinstance(session, EchoSession):
            session.threads[thread_id] = []
        return thread_id

    def thread_resume(self, session: Any, thread_id: str) -> None:
        if isinstance(session, EchoSession):
            session.threads.setdefault(thread_id, [])

    def stop(self, session: Any) -> None:
        if isinstance(session, EchoSession):
            session.stopped = True

    def identity(self, session: Any) -> str:
        return str(getattr(session, "session_id", None) or f"echo_{id(session):x}")
