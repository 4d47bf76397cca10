"""An OpenAI-compatible chat-completions backend over HTTP (``pip install "django-durable-routines[openai]"``).

Works with any server that speaks ``POST {base}/chat/completions``: a hosted API, or a local
Ollama, vLLM or llama.cpp server. The server is stateless, so threads are stored in the database
(``Thread``/``ThreadMessage``) and replayed on every query of the thread.

The server, the key and the timeout come from settings only (``OPENAI_BASE_URL``,
``OPENAI_API_KEY_ENV``, ``OPENAI_TIMEOUT_SECONDS``): a job's target is untrusted input and must
not be able to send the API key to a host of its choosing. A target may choose the model and
sampling parameters.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .. import deadlines
from ..conf import routines_settings
from ..models import Thread, ThreadMessage
from .base import Message

BACKEND_NAME = "openai"
# Sampling parameters a target may pass (session opts or query_opts); sent to the server as given.
PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty")
SESSION_KEYS = {"model", "system", "routing", *PARAMS}
QUERY_KEYS = {"thread_id", "model", *PARAMS}
THREAD_KEYS = {"system"}
MAX_ERROR_BODY = 500


_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def http_client() -> httpx.Client:
    """One pooled client per process (building one costs ~50 ms of TLS setup; a fork gets its own)."""
    pid = os.getpid()
    with _clients_lock:
        client = _clients.get(pid)
        if client is None or client.is_closed:
            _clients.clear()
            client = _clients[pid] = httpx.Client()
        return client


class OpenAIError(RuntimeError):
    """The server answered with an error status or with something that is not a chat completion."""


@dataclass
class OpenAISession:
    session_id: str
    model: str
    system: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    thread_id: str | None = None
    stopped: bool = False


def _check_keys(opts: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(opts) - allowed)
    if unknown:
        raise ValueError(f"{what}: unsupported option(s) {', '.join(map(repr, unknown))}")


def _model(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


class OpenAIBackend:
    def start_session(self, opts: dict[str, Any]) -> OpenAISession:
        _check_keys(opts, SESSION_KEYS, "session opts")
        routing = opts.get("routing") or {}
        model = opts.get("model", routing.get("model") if isinstance(routing, dict) else None)
        system = opts.get("system", "")
        if not isinstance(system, str):
            raise ValueError("session opts: system must be a string")
        return OpenAISession(
            session_id="openai_" + uuid.uuid4().hex,
            model=_model(model, "session opts: model") if model is not None else routines_settings.OPENAI_MODEL,
            system=system,
            params={k: opts[k] for k in PARAMS if k in opts},
        )

    def thread_start(self, session: OpenAISession, opts: dict[str, Any]) -> str:
        _check_keys(opts, THREAD_KEYS, "thread start")
        system = opts.get("system", session.system)
        if not isinstance(system, str):
            raise ValueError("thread start: system must be a string")
        now = timezone.now()
        thread = Thread.objects.create(
            thread_id="thread_" + uuid.uuid4().hex,
            backend=BACKEND_NAME,
            model=session.model,
            system=system,
            created_at=now,
            updated_at=now,
        )
        session.thread_id = thread.thread_id
        return thread.thread_id

    def thread_resume(self, session: OpenAISession, thread_id: str) -> None:
        if not Thread.objects.filter(thread_id=thread_id, backend=BACKEND_NAME).exists():
            raise LookupError(f"thread {thread_id!r} not found")
        session.thread_id = thread_id

    def query(self, session: OpenAISession, prompt: str, query_opts: dict[str, Any]) -> list[Message]:
        if session.stopped:
            raise RuntimeError("the session is stopped")
        _check_keys(query_opts, QUERY_KEYS, "query_opts")
        thread_id = query_opts.get("thread_id", session.thread_id)
        messages = self._history(session, thread_id)
        messages.append({"role": "user", "content": prompt})
        body: dict[str, Any] = {
            "model": _model(query_opts.get("model", session.model), "query_opts: model"),
            "messages": messages,
            **session.params,
            **{k: query_opts[k] for k in PARAMS if k in query_opts},
        }
        reply = self._post(body)
        if thread_id is not None:
            self._append(thread_id, [messages[-1], reply])
        return [reply]

    def stop(self, session: OpenAISession) -> None:
        session.stopped = True

    def identity(self, session: OpenAISession) -> str:
        return session.session_id

    # HTTP -------------------------------------------------------------------------------------

    def _post(self, body: dict[str, Any]) -> Message:
        url = routines_settings.OPENAI_BASE_URL.rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(routines_settings.OPENAI_API_KEY_ENV)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        timeout = float(routines_settings.OPENAI_TIMEOUT_SECONDS)
        left = deadlines.remaining()  # the job's own timeout, when it has one, cuts the wait shorter
        if left is not None:
            timeout = max(0.001, min(timeout, left))
        try:
            response = http_client().post(url, json=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise OpenAIError(f"no answer from {url} within {timeout:g} s ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise OpenAIError(f"request to {url} failed: {exc}") from None
        if response.status_code >= 400:
            raise OpenAIError(f"HTTP {response.status_code} from {url}: {response.text[:MAX_ERROR_BODY]}")
        return parse_reply(response.content)

    # Threads ----------------------------------------------------------------------------------

    def _history(self, session: OpenAISession, thread_id: str | None) -> list[Message]:
        if thread_id is None:
            return [{"role": "system", "content": session.system}] if session.system else []
        thread = Thread.objects.filter(thread_id=thread_id, backend=BACKEND_NAME).first()
        if thread is None:
            raise LookupError(f"thread {thread_id!r} not found")
        messages: list[Message] = [{"role": "system", "content": thread.system}] if thread.system else []
        rows = ThreadMessage.objects.filter(thread_id=thread_id).order_by("seq").values_list("role", "content")
        messages.extend({"role": role, "content": content} for role, content in rows)
        return messages

    def _append(self, thread_id: str, messages: list[Message]) -> None:
        now = timezone.now()
        with transaction.atomic():
            # Lock the thread row so two runs on one thread append one after the other.
            list(Thread.objects.select_for_update().filter(thread_id=thread_id).values_list("pk"))
            last = ThreadMessage.objects.filter(thread_id=thread_id).aggregate(m=Max("seq"))["m"] or 0
            ThreadMessage.objects.bulk_create(
                ThreadMessage(
                    thread_id=thread_id, seq=last + i, role=m["role"], content=m["content"] or "", created_at=now
                )
                for i, m in enumerate(messages, start=1)
            )
            Thread.objects.filter(thread_id=thread_id).update(updated_at=now)


def parse_reply(raw: bytes) -> Message:
    """The assistant message of a chat completion, or OpenAIError saying what is wrong with it."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise OpenAIError(f"malformed response: not JSON: {raw[:MAX_ERROR_BODY]!r}") from None
    try:
        message = data["choices"][0]["message"]
        content = message.get("content")
        role = message.get("role", "assistant")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise OpenAIError("malformed response: no choices[0].message") from None
    if content is not None and not isinstance(content, str):
        raise OpenAIError(f"malformed response: content is a {type(content).__name__}, not a string")
    if not isinstance(role, str):
        raise OpenAIError("malformed response: role is not a string")
    reply: Message = {"role": role, "content": content}
    finish = data["choices"][0].get("finish_reason")
    if isinstance(finish, str):
        reply["finish_reason"] = finish
    return reply
