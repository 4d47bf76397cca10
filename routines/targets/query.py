"""The ``query`` target: a prompt sent to a live or routed agent session.

Validation is pure shape checking; the session backend is only loaded when the run executes. A
run goes: open the session (live: registry lookup; routed: ``backend.start_session``), open the
thread, query, stop. Anything that fails before the query is a *bootstrap failure*, recorded in
the Run's metadata so that "the agent was unreachable" can be told apart from "the agent failed".
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from typing import Any

from .. import sessions
from ..i18n import gettext
from .base import COMPLETED, FAILED, Context, Executor, Outcome, RunFields, check_keys, exception_error, invalid

logger = logging.getLogger("routines")

KEYS = {"type", "session", "prompt", "query_opts", "thread", "stop_session"}
SESSION_KEYS = {"live": {"kind", "ref"}, "routed": {"kind", "opts"}}
MAX_REF_LENGTH = 200
SESSION_NOT_FOUND = {"reason": "session_not_found"}


class QueryExecutor(Executor):
    example: dict[str, Any] = {
        "type": "query",
        "session": {"kind": "routed", "opts": {}},
        "prompt": "Summarise yesterday's tickets",
    }

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        check_keys(target, KEYS)
        if "session" not in target:
            raise invalid(gettext("session is required"))
        session = _session(target["session"])
        prompt = target.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise invalid(gettext("prompt must be a non-empty string"))
        query_opts = target.get("query_opts", {})
        if not isinstance(query_opts, dict):
            raise invalid(gettext("query_opts must be an object"))
        stop_session = target.get("stop_session", session["kind"] == "routed")
        if not isinstance(stop_session, bool):
            raise invalid(gettext("stop_session must be true or false"))
        out: dict[str, Any] = {
            "type": "query",
            "session": session,
            "prompt": prompt,
            "query_opts": query_opts,
            "stop_session": stop_session,
        }
        if "thread" in target:
            out["thread"] = _thread(target["thread"])
        return out

    def run_fields(self, target: dict[str, Any], payload: Any) -> RunFields:
        session = target.get("session", {})
        scope: dict[str, Any] = {"session_kind": session.get("kind")}
        if session.get("kind") == "live":
            scope["session_ref"] = session.get("ref")
        return RunFields(
            scope=scope, input={"prompt": target.get("prompt"), "query_opts": target.get("query_opts", {})}
        )

    def execute(self, context: Context) -> Outcome:
        return QueryRun(context).execute()


def _session(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(gettext("session must be an object with a 'kind'"))
    check_keys(raw, SESSION_KEYS["live"] | SESSION_KEYS["routed"], "unsupported_session_target_key")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in SESSION_KEYS:
        raise invalid(gettext("session.kind must be 'live' or 'routed'"))
    check_keys(raw, SESSION_KEYS[kind], "unsupported_session_target_key")
    if kind == "live":
        ref = raw.get("ref")
        if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_LENGTH:
            raise invalid(gettext("session.ref must be a string of 1-%(max)s characters") % {"max": MAX_REF_LENGTH})
        return {"kind": "live", "ref": ref}
    opts = raw.get("opts", {})
    if not isinstance(opts, dict):
        raise invalid(gettext("session.opts must be an object"))
    if "routing" in opts and not isinstance(opts["routing"], dict):
        raise invalid(gettext("session.opts.routing must be an object"))
    return {"kind": "routed", "opts": opts}


def _thread(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(gettext("thread must be {'thread_id': str} or {'start': {...}}"))
    check_keys(raw, {"thread_id", "start"}, "unsupported_thread_key")
    if len(raw) != 1:
        raise invalid(gettext("thread takes exactly one of thread_id or start"))
    if "thread_id" in raw:
        thread_id = raw["thread_id"]
        if not isinstance(thread_id, str) or not thread_id or len(thread_id) > MAX_REF_LENGTH:
            raise invalid(
                gettext("thread.thread_id must be a string of 1-%(max)s characters") % {"max": MAX_REF_LENGTH}
            )
        return {"thread_id": thread_id}
    if not isinstance(raw["start"], dict):
        raise invalid(gettext("thread.start must be an object"))
    return {"start": raw["start"]}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _error(exc: BaseException) -> dict[str, str]:
    return exception_error(exc)


class QueryRun:
    """One execution of a query target; collects the scope, the step and the metadata as it goes."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.target = context.target
        spec = self.target["session"]
        self.kind: str = spec["kind"]
        self.scope: dict[str, Any] = {"session_kind": self.kind}
        if self.kind == "live":
            self.scope["session_ref"] = spec["ref"]
        self.step: dict[str, Any] = {"name": "execute", "status": "running", "started_at": _now()}

    def execute(self) -> Outcome:
        session: Any = None
        backend: Any = None
        try:
            backend = sessions.get_backend()
            session = self._open(backend)
            if session is None:
                return self._fail(SESSION_NOT_FOUND, bootstrap=True)
            self.scope["session_id"] = str(backend.identity(session))  # a session held by now: stopped below
            query_opts = dict(self.target.get("query_opts", {}))
            thread_id = self._thread(backend, session)
            if thread_id is not None:
                self.scope["thread_id"] = thread_id
                query_opts["thread_id"] = thread_id
        except Exception as exc:
            logger.warning("query target of job %s could not open its session: %s", self.context.job_id, exc)
            outcome = self._fail(_error(exc), bootstrap=True)
            self._stop(backend, session, outcome)
            return outcome
        try:
            messages = backend.query(session, self.target["prompt"], query_opts)
            outcome = self._done(messages)
        except Exception as exc:
            logger.warning("query target of job %s failed: %s", self.context.job_id, exc)
            outcome = self._fail(_error(exc), bootstrap=False)
        self._stop(backend, session, outcome)
        return outcome

    def _open(self, backend: Any) -> Any:
        spec = self.target["session"]
        if self.kind == "live":
            return sessions.get_live(spec["ref"])
        opts = copy.deepcopy(spec.get("opts", {}))
        opts["routing"] = {**(opts.get("routing") or {}), **copy.deepcopy(self.context.routing_policy or {})}
        return backend.start_session(opts)

    def _thread(self, backend: Any, session: Any) -> str | None:
        thread = self.target.get("thread")
        if not thread:
            return None
        if "thread_id" in thread:
            backend.thread_resume(session, thread["thread_id"])
            return str(thread["thread_id"])
        thread_id = backend.thread_start(session, copy.deepcopy(thread["start"]))
        if not isinstance(thread_id, str) or not thread_id:
            raise TypeError(f"thread_start returned {thread_id!r}, not a thread id")
        return thread_id

    def _done(self, messages: Any) -> Outcome:
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise TypeError("the session backend's query did not return a list of message dicts")
        final = messages[-1].get("content") if messages else None
        result = {"message_count": len(messages), "final_content": final if isinstance(final, str) else None}
        self.step.update(status=COMPLETED, finished_at=_now(), message_count=len(messages))
        return Outcome(COMPLETED, result=result, scope=self.scope, steps=[self.step])

    def _fail(self, error: dict[str, Any], *, bootstrap: bool) -> Outcome:
        self.step.update(status=FAILED, finished_at=_now(), error=error)
        metadata = {"bootstrap_failure": True} if bootstrap else {}
        return Outcome(FAILED, error=error, scope=self.scope, steps=[self.step], metadata=metadata)

    def _stop(self, backend: Any, session: Any, outcome: Outcome) -> None:
        """Honour ``stop_session``, whatever the query did; a failing stop never fails the run."""
        if session is None or backend is None or not self.target.get("stop_session", self.kind == "routed"):
            return
        try:
            backend.stop(session)
        except Exception as exc:
            logger.warning("stopping the session of job %s failed: %s", self.context.job_id, exc)
            outcome.metadata["stop_error"] = _error(exc)
            return
        outcome.metadata["session_stopped"] = True
