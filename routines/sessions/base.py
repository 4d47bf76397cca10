"""The interface a session backend implements.

Any method may raise; the ``query`` target turns the exception into a failed run, marked as a
bootstrap failure when the session or thread could not be opened.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

# {"role": "assistant", "content": "..."}; the last message's ``content`` is the run's final_content.
Message = dict[str, Any]


@runtime_checkable
class SessionBackend(Protocol):
    def start_session(self, opts: dict[str, Any]) -> Any:
        """Open a session for one routed run; ``opts["routing"]`` holds the job's routing_policy."""

    def query(self, session: Any, prompt: str, query_opts: dict[str, Any]) -> list[Message]:
        """Send ``prompt``; returns the messages the session answered with, in order.

        ``query_opts["thread_id"]`` names the thread when the target has one.
        """

    def thread_start(self, session: Any, opts: dict[str, Any]) -> str:
        """Open a new conversation thread and return its id."""

    def thread_resume(self, session: Any, thread_id: str) -> None:
        """Continue thread ``thread_id``; raises when the thread does not exist."""

    def stop(self, session: Any) -> None:
        """Close the session; called after the query when the target's ``stop_session`` is true."""

    def identity(self, session: Any) -> str:
        """A stable id of the session, recorded as the Run's ``scope["session_id"]``."""
