"""Pure schedule math: normalise a schedule dict, find its first slot and the slot after one.

A slot is the instant a run is due. Every function here is pure (no database, no clock of its
own): the caller passes ``now``. Datetimes inside a normalised schedule are aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from .exceptions import InvalidInput
from .i18n import gettext as _
from .i18n import ngettext
from .times import add_ms, coerce_time, to_ms

SCHEDULE_TYPES = ("once", "interval", "cron")
MISFIRE_POLICIES = ("all", "latest", "skip")
# What a recurring schedule does with slots missed while no runner ran, and how it spreads its runs.
RECURRING_KEYS = {"misfire", "misfire_grace_ms", "max_catch_up", "jitter_ms"}
_KEYS = {
    "once": {"type", "at"},
    "interval": {"type", "every_ms", "start_at", "catch_up", *RECURRING_KEYS},
    "cron": {"type", "expr", "timezone", "catch_up", *RECURRING_KEYS},
}
MAX_GRACE_MS = MAX_JITTER_MS = 366 * 24 * 3600 * 1000
MAX_CATCH_UP = 1_000_000
# An interval longer than ~100 years is a mistake, and bounding it keeps slot math in range.
MAX_EVERY_MS = 100 * 366 * 24 * 3600 * 1000

# Times written into a normalised schedule, decoded back to datetimes when read from the database.
TIME_KEYS = ("at", "start_at")


def _invalid(message: str, code: str) -> InvalidInput:
    return InvalidInput(_("schedule: %(problem)s") % {"problem": message}, code=code, field="schedule")


def normalize(raw: object, *, now: datetime, tz: tzinfo, code: str = "invalid_job") -> dict[str, Any]:
    """Validate ``raw`` and return the stored form, defaults filled in.

    ``now`` is the default ``start_at`` of an interval; ``tz`` reads naive times and is the
    default time zone of cron schedules.
    """
    if not isinstance(raw, dict):
        raise _invalid(_("must be an object with a 'type'"), code)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise _invalid(_("type must be one of %(choices)s") % {"choices": ", ".join(SCHEDULE_TYPES)}, code)
    for key in raw:
        if key not in _KEYS[kind]:
            raise InvalidInput(
                _("schedule: unsupported key %(key)s for a %(type)s schedule") % {"key": repr(key), "type": kind},
                code="unsupported_schedule_key",
                field=str(key),
            )
    if kind == "once":
        if "at" not in raw:
            raise _invalid(_("a once schedule needs 'at'"), code)
        return {"type": "once", "at": _time(raw["at"], "at", tz, code)}
    if kind == "interval":
        every = raw.get("every_ms")
        if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
            raise _invalid(_("every_ms must be a positive integer"), code)
        if every > MAX_EVERY_MS:
            raise _invalid(_("every_ms must be at most %(max)s") % {"max": MAX_EVERY_MS}, code)
        start = raw.get("start_at")
        out = {
            "type": "interval",
            "every_ms": every,
            "start_at": now if start is None else _time(start, "start_at", tz, code),
            "catch_up": _bool(raw.get("catch_up", False), "catch_up", code),
        }
    else:
        from . import cron  # the cron parser is only needed by cron schedules

        out = cron.normalize({k: v for k, v in raw.items() if k not in RECURRING_KEYS}, tz=tz, code=code)
    return {**out, **_recurring(raw, code)}


def _recurring(raw: dict[str, Any], code: str) -> dict[str, Any]:
    """The misfire and jitter keys given; ``misfire`` sets ``catch_up`` to match (its older name)."""
    out: dict[str, Any] = {}
    if raw.get("misfire") is not None:
        policy = raw["misfire"]
        if policy not in MISFIRE_POLICIES:
            raise _invalid(_("misfire must be one of %(choices)s") % {"choices": ", ".join(MISFIRE_POLICIES)}, code)
        if "catch_up" in raw and raw["catch_up"] != (policy == "all"):
            raise _invalid(
                _("catch_up %(catch_up)s contradicts misfire %(misfire)s; give one of them")
                % {"catch_up": repr(raw["catch_up"]), "misfire": repr(policy)},
                code,
            )
        out["misfire"] = policy
        out["catch_up"] = policy == "all"
    bounds = {"misfire_grace_ms": (0, MAX_GRACE_MS), "max_catch_up": (1, MAX_CATCH_UP), "jitter_ms": (0, MAX_JITTER_MS)}
    for key, (low, high) in bounds.items():
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _invalid(
                _("%(key)s must be null or an integer from %(low)s to %(high)s")
                % {"key": key, "low": low, "high": high},
                code,
            )
        out[key] = value
    if raw.get("type") == "interval" and out.get("jitter_ms", 0) > raw["every_ms"]:
        raise _invalid(_("jitter_ms must not be longer than every_ms"), code)
    return out


def misfire_policy(schedule: dict[str, Any]) -> str:
    """``all``, ``latest`` or ``skip``: the ``misfire`` key, else what ``catch_up`` means."""
    policy = schedule.get("misfire")
    if isinstance(policy, str):
        return policy
    return "all" if schedule.get("catch_up") else "latest"


def _time(value: object, key: str, tz: tzinfo, code: str) -> datetime:
    try:
        return coerce_time(value, tz)
    except ValueError as exc:
        raise _invalid(_("%(key)s %(problem)s") % {"key": key, "problem": exc}, code) from None


def _bool(value: object, key: str, code: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(_("%(key)s must be true or false") % {"key": key}, code)
    return value


def first_slot(schedule: dict[str, Any], now: datetime) -> datetime | None:
    """The first instant the schedule is due, for a job created (or rescheduled) at ``now``."""
    kind = schedule["type"]
    if kind in ("once", "interval"):
        first: datetime = schedule["at" if kind == "once" else "start_at"]
        return first
    from . import cron

    return cron.first_slot(schedule, now)


def next_slot(schedule: dict[str, Any], slot_at: datetime, now: datetime) -> datetime | None:
    """The slot after ``slot_at`` once it has finished at ``now``; None when there is none.

    With ``catch_up`` every missed slot is replayed in turn; without it the schedule skips to
    the future. The result is always strictly later than ``slot_at``.
    """
    kind = schedule["type"]
    if kind == "once":
        return None
    if kind == "interval":
        base = slot_at if schedule.get("catch_up") else max(now, slot_at)
        return add_ms(base, schedule["every_ms"])
    from . import cron

    return cron.next_slot(schedule, slot_at, now)


def describe(
    schedule: dict[str, Any],
    *,
    end_at: datetime | None = None,
    max_runs: int | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int = 1,
) -> str:
    """A short human summary, for the admin and logs ("every 5 minutes ± 30 seconds, skipping missed runs").

    Each part is one whole translatable message with named placeholders, and counts choose their
    plural form, so a language can reorder and inflect them.
    """
    group = ""
    if concurrency_key is not None:
        group = ngettext(
            ", %(limit)d of group %(group)s at once", ", %(limit)d of group %(group)s at once", concurrency_limit
        ) % {"limit": concurrency_limit, "group": repr(concurrency_key)}
    kind = schedule.get("type")
    if kind == "once":
        return _("once at %(time)s UTC") % {"time": f"{schedule['at']:%d %b %Y %H:%M}"} + group
    if kind == "interval":
        text = _words(schedule["every_ms"], every=True)
    elif kind == "cron":
        from . import cron

        text = cron.describe(schedule)
    else:
        return str(kind)
    if schedule.get("jitter_ms"):
        text += " ± " + _words(schedule["jitter_ms"])
    policy = misfire_policy(schedule)
    if policy == "all":
        cap = schedule.get("max_catch_up")
        if cap:
            text += ngettext(", catching up at most %(count)d run", ", catching up at most %(count)d runs", cap) % {
                "count": cap
            }
        else:
            text += _(", catching up")
    elif policy == "skip":
        text += _(", skipping missed runs")
    grace = schedule.get("misfire_grace_ms")
    if grace is not None and policy != "latest":
        late = _(" (missed when %(amount)s late)") % {"amount": _words(grace)}
        text += late if grace else _(" (missed when late at all)")
    if max_runs is not None:
        text += ngettext(", %(count)d run at most", ", %(count)d runs at most", max_runs) % {"count": max_runs}
    if end_at is not None:
        text += _(", until %(time)s UTC") % {"time": f"{end_at:%d %b %Y %H:%M}"}
    return text + group


_UNITS = (86_400_000, 3_600_000, 60_000, 1000)


def _words(ms: int, *, every: bool = False) -> str:
    """A duration in the largest unit that divides it exactly: "30 seconds", or with ``every``
    "every 5 minutes" and "every minute" (whole phrases, since languages inflect "every")."""
    exact = [(unit, ms // size) for unit, size in enumerate(_UNITS) if ms % size == 0]
    if not exact:
        return (_("every %(count)d ms") if every else _("%(count)d ms")) % {"count": ms}
    unit, n = exact[0]
    if every:
        forms = (
            ngettext("every day", "every %(count)d days", n),
            ngettext("every hour", "every %(count)d hours", n),
            ngettext("every minute", "every %(count)d minutes", n),
            ngettext("every second", "every %(count)d seconds", n),
        )
    else:
        forms = (
            ngettext("%(count)d day", "%(count)d days", n),
            ngettext("%(count)d hour", "%(count)d hours", n),
            ngettext("%(count)d minute", "%(count)d minutes", n),
            ngettext("%(count)d second", "%(count)d seconds", n),
        )
    return forms[unit] % {"count": n}


def upcoming(schedule: dict[str, Any], after: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots strictly after ``after`` if every run were on time (for display)."""
    out: list[datetime] = []
    slot = first_slot(schedule, after)
    if schedule["type"] == "interval" and slot is not None and slot <= after:
        # Jump straight past ``after`` instead of stepping through years of missed slots.
        every = schedule["every_ms"]
        missed = (to_ms(after) - to_ms(slot)) // every + 1
        slot = add_ms(slot, missed * every)
    while slot is not None and len(out) < count:
        if slot > after:
            out.append(slot)
        nxt = next_slot({**schedule, "catch_up": True}, slot, slot)
        if nxt is None or nxt <= slot:
            break
        slot = nxt
    return out


def projected(schedule: dict[str, Any], first: datetime, now: datetime, count: int) -> list[datetime]:
    """The next ``count`` slots the runner will use, starting with ``first`` (the slot due next).

    Each later slot is what ``next_slot`` gives once the one before it finishes on time, or at
    ``now`` if it is already overdue: an overdue job without catch-up skips to slots after now;
    with catch-up the missed slots follow one by one.
    """
    out = [first]
    slot = first
    while len(out) < count:
        nxt = next_slot(schedule, slot, max(now, slot))
        if nxt is None or nxt <= slot:
            break
        out.append(nxt)
        slot = nxt
    return out
