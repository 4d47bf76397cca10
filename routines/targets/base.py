"""What an executor receives and returns. Plain values: targets never see a model instance."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..exceptions import InvalidInput
from ..i18n import gettext

COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
OUTCOMES = (COMPLETED, FAILED, CANCELLED)


@dataclass(frozen=True)
class Context:
    job_id: str
    run_id: str
    slot_at: datetime | None
    attempt: int
    manual: bool
    payload: Any
    target: dict[str, Any]
    metadata: dict[str, Any]
    routing_policy: dict[str, Any]
    # The job's timeout: the runner stops waiting this long after the target starts (None: never).
    timeout_ms: int | None = None


@dataclass
class Outcome:
    status: str = COMPLETED
    result: Any = None
    error: Any = None
    scope: str | dict[str, Any] | None = None
    steps: list[dict[str, Any]] | None = None
    # Merged into the Run's metadata (e.g. {"bootstrap_failure": True}).
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFields:
    """How the Run row looks when it is committed at claim time, before the target executes."""

    kind: str = "routine"
    scope: str | dict[str, Any] = field(default_factory=dict)
    input: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


class Executor:
    """Base class of target types; subclasses override ``validate`` and ``execute``.

    ``validate`` runs before anything is written and must not import or call project code
    named by the target: it sees untrusted input.

    ``example`` is a typical target of this type; the admin shows it next to the target field so
    an operator can start from it without reading the docs.
    """

    example: dict[str, Any] = {}

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        return target

    def execute(self, context: Context) -> Outcome:
        raise NotImplementedError

    def run_fields(self, target: dict[str, Any], payload: Any) -> RunFields:
        return RunFields(input=payload)


def invalid(message: str) -> InvalidInput:
    return InvalidInput(gettext("target: %(message)s") % {"message": message}, code="invalid_job", field="target")


def check_keys(target: dict[str, Any], allowed: set[str], code: str = "unsupported_target_key") -> None:
    for key in target:
        if key not in allowed:
            raise InvalidInput(
                gettext("target: unsupported key %(key)s") % {"key": repr(key)}, code=code, field=str(key)
            )


# A Run's error keeps the last frames of the traceback (where it failed), bounded in frames and size.
TRACEBACK_FRAMES = 50
TRACEBACK_CHARS = 20_000


def exception_error(exc: BaseException) -> dict[str, str]:
    """A Run's ``error`` for an exception: its type, message and the traceback's last frames.

    The traceback is built only when a target has failed, so a successful run pays nothing.
    Text no database stores (NUL, lone surrogates) is escaped: the message may quote bad input.
    """
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-TRACEBACK_FRAMES)
    trace = _storable("".join(lines))
    if len(trace) > TRACEBACK_CHARS:
        trace = "…" + trace[-TRACEBACK_CHARS:]
    return {"type": type(exc).__name__, "message": _storable(str(exc)[:2000]), "traceback": trace}


def _storable(text: str) -> str:
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
