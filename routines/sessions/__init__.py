"""Agent sessions for ``query`` targets: the live registry and the configured backend.

A *live* session is an object some long-running process already holds (a chat bot, a worker
with a warm connection); it is registered here under a ref so that a runner living in the same
process can send it prompts. A *routed* session is started by the backend for one run.
Sessions are plain objects the backend understands; this module never looks inside them.
"""

from __future__ import annotations

import threading
from typing import Any

from .base import Message, SessionBackend

__all__ = ["Message", "SessionBackend", "get_backend", "get_live", "live_refs", "register_live", "unregister_live"]

_live: dict[str, Any] = {}
_lock = threading.Lock()


def register_live(ref: str, session: Any) -> None:
    """Make ``session`` reachable as ``{"kind": "live", "ref": ref}``; replaces an earlier one."""
    if not isinstance(ref, str) or not ref:
        raise ValueError("a live session needs a non-empty string ref")
    with _lock:
        _live[ref] = session


def unregister_live(ref: str) -> None:
    """Forget ``ref`` (no error when it is unknown); the session itself is left running."""
    with _lock:
        _live.pop(ref, None)


def get_live(ref: str) -> Any | None:
    with _lock:
        return _live.get(ref)


def live_refs() -> tuple[str, ...]:
    with _lock:
        return tuple(sorted(_live))


def get_backend() -> SessionBackend:
    """A fresh instance of ``ROUTINES["SESSION_BACKEND"]``, read at call time.

    A new instance per run keeps backends free of shared mutable state; whatever must outlive a
    run (a live session, a stored thread) lives in the session object or the database.
    """
    from ..conf import routines_settings

    backend: SessionBackend = routines_settings.load("SESSION_BACKEND")()
    return backend
