"""The error hierarchy of routines.

Every error carries ``code`` (the seed's error tag) and ``field`` (the input key it is about, or
None), so each edge (REST, admin, commands) can translate it once without parsing messages.
Stdlib only: the pure core imports this before Django is configured.
"""

from __future__ import annotations


class RoutineError(Exception):
    code = "routine_error"

    def __init__(self, message: str = "", *, code: str | None = None, field: str | None = None):
        super().__init__(message or self.code)
        if code is not None:
            self.code = code
        self.field = field

    @property
    def detail(self) -> str:
        return str(self.args[0]) if self.args else self.code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, detail={self.detail!r})"


class InvalidInput(RoutineError, ValueError):
    code = "invalid_job"


class NotFound(RoutineError, LookupError):
    code = "not_found"


class AlreadyExists(RoutineError):
    code = "already_exists"


class JobBusy(RoutineError):
    code = "job_busy"


class JobTerminal(RoutineError):
    code = "job_terminal"


class PolicyDenied(RoutineError):
    code = "policy_denied"

    def __init__(self, reason: str):
        super().__init__(f"denied by policy: {reason}")
        self.reason = reason
