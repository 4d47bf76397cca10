"""The ``run`` target: canonical run creation without backend execution.

It executes nothing; its outcome, result and error are given in the target itself, which makes
it the seed's tool for recording runs and the cheapest target for tests and benchmarks.
"""

from __future__ import annotations

from typing import Any

from ..i18n import gettext
from .base import CANCELLED, COMPLETED, FAILED, OUTCOMES, Context, Executor, Outcome, RunFields, check_keys, invalid

KEYS = {"type", "scope", "run_opts", "outcome", "result", "error", "cancel_reason"}
RUN_OPTS_KEYS = {"kind", "input", "metadata"}
DEFAULT_ERROR = {"reason": "routine failed"}
DEFAULT_CANCEL_REASON = "routine cancelled"


class RunExecutor(Executor):
    example: dict[str, Any] = {"type": "run", "outcome": "completed", "result": {"ok": True}}

    def validate(self, target: dict[str, Any]) -> dict[str, Any]:
        check_keys(target, KEYS)
        out: dict[str, Any] = {"type": "run"}
        scope = target.get("scope", {})
        if not isinstance(scope, (str, dict)):
            raise invalid(gettext("scope must be a string or an object"))
        out["scope"] = scope
        run_opts = target.get("run_opts", {})
        if not isinstance(run_opts, dict):
            raise invalid(gettext("run_opts must be an object"))
        check_keys(run_opts, RUN_OPTS_KEYS)
        if "kind" in run_opts and (not isinstance(run_opts["kind"], str) or not 1 <= len(run_opts["kind"]) <= 64):
            raise invalid(gettext("run_opts.kind must be a string of 1-64 characters"))
        if "metadata" in run_opts and not isinstance(run_opts["metadata"], dict):
            raise invalid(gettext("run_opts.metadata must be an object"))
        out["run_opts"] = run_opts
        outcome = target.get("outcome", COMPLETED)
        if outcome not in OUTCOMES:
            raise invalid(gettext("outcome must be one of %(choices)s") % {"choices": ", ".join(OUTCOMES)})
        out["outcome"] = outcome
        if "result" in target:
            out["result"] = target["result"]
        out["error"] = target.get("error", DEFAULT_ERROR)
        if "cancel_reason" in target and not isinstance(target["cancel_reason"], str):
            raise invalid(gettext("cancel_reason must be a string"))
        out["cancel_reason"] = target.get("cancel_reason", DEFAULT_CANCEL_REASON)
        return out

    def run_fields(self, target: dict[str, Any], payload: Any) -> RunFields:
        opts = target.get("run_opts", {})
        return RunFields(
            kind=opts.get("kind", "routine"),
            scope=target.get("scope", {}),
            input=opts.get("input", payload),
            metadata=opts.get("metadata", {}),
        )

    def execute(self, context: Context) -> Outcome:
        target = context.target
        outcome = target.get("outcome", COMPLETED)
        if outcome == FAILED:
            return Outcome(FAILED, error=target.get("error", DEFAULT_ERROR))
        if outcome == CANCELLED:
            return Outcome(CANCELLED, error=target.get("cancel_reason", DEFAULT_CANCEL_REASON))
        return Outcome(COMPLETED, result=target["result"] if "result" in target else context.payload)
