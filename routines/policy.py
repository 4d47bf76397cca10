"""The ``POLICY`` hook: a project function that may veto a create or an update.

``ROUTINES["POLICY"]`` names ``policy(action, context)``; ``action`` is ``"create"`` or
``"update"`` and ``context`` a dict of the job as it would be written (``job_id``, ``schedule``,
``target``, ``payload``, ``metadata``). Returning a string denies with that reason; None allows.
The hook runs after validation and before any write: a denial writes one
``routine_policy_denied`` event and nothing else.

It fails closed: a policy that raises, or returns something other than None or a string, denies
(and the error is logged), so a bug in the policy never lets a job through.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from .conf import routines_settings
from .exceptions import PolicyDenied
from .journal import announce, event
from .retry import with_retry

logger = logging.getLogger("routines")

CONTEXT_KEYS = ("job_id", "schedule", "target", "payload", "metadata")


def check(action: str, job: dict[str, Any]) -> None:
    """Ask the configured policy about ``action`` on ``job``; raise PolicyDenied if it says no."""
    if routines_settings.POLICY is None:
        return
    context = {key: job.get(key) for key in CONTEXT_KEYS}
    reason = decide(action, context)
    if reason is None:
        return
    denied = event("routine_policy_denied", str(context["job_id"]), timezone.now(), action=action, reason=reason)
    with_retry(denied.save)
    announce([denied])
    raise PolicyDenied(reason)


def decide(action: str, context: dict[str, Any]) -> str | None:
    """The policy's verdict: None to allow, a reason to deny."""
    try:
        policy = routines_settings.load("POLICY")
        verdict = policy(action, context)
    except Exception as exc:
        logger.exception("the routines POLICY raised on %s of job %s", action, context.get("job_id"))
        return f"policy error ({type(exc).__name__})"
    if verdict is None or isinstance(verdict, str):
        return verdict
    logger.error("the routines POLICY returned %r; expected None or a string", verdict)
    return "policy error (unexpected return value)"
