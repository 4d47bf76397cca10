"""Cron schedules in an IANA time zone, with explicit rules for daylight-saving changes.

``cronsim`` parses the expression and answers one question only: which *naive* local times
match. Turning local times into instants is done here, because that is where libraries differ
and where the DST rules live:

* A matching local time that does not exist (spring forward) runs once, at the first instant
  after the gap.
* A matching local time that occurs twice (fall back) runs once, at its first occurrence.
* An expression that fires in every hour of the day (hour field ``*``) follows the real clock
  instead: it fires at every instant whose wall time matches, so "every hour" stays every real
  hour (a skipped hour has nothing to fire, a repeated hour fires again).

The time line is cut into segments of constant UTC offset; inside a segment local time and UTC
move together, so each segment is searched with one naive cron lookup. Pure: no Django, no clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .exceptions import InvalidInput
from .i18n import gettext as _

UTC = timezone.utc
KEYS = {"type", "expr", "timezone", "catch_up"}
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MAX_EXPR_LENGTH = 200
ZONE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*", re.ASCII)
INSTALL_HINT = "cron schedules need the cronsim package, a dependency of django-durable-routines: pip install cronsim"

# Offsets are sampled this far apart and bisected where they differ; real zones change offset
# at most a few times a year, never twice within this step.
_SAMPLE = timedelta(hours=12)
_BEFORE = timedelta(days=1)  # look this far back so a gap or fold just before ``t`` is seen
_WINDOW = timedelta(days=3)
_SECOND = timedelta(seconds=1)
_TINY = timedelta(microseconds=1)


def _invalid(message: str, code: str) -> InvalidInput:
    return InvalidInput(_("schedule: %(problem)s") % {"problem": message}, code=code, field="schedule")


def _cronsim() -> Any:
    try:
        import cronsim
    except ImportError:
        return None
    return cronsim


def normalize(raw: dict[str, Any], *, tz: tzinfo, code: str = "invalid_job") -> dict[str, Any]:
    """Check a cron schedule (keys already checked by the caller) and fill in its defaults.

    ``tz`` is the current Django time zone; its IANA name is stored when no ``timezone`` is
    given, so the schedule keeps its meaning if the project's TIME_ZONE changes later.
    """
    for key in raw:
        if key not in KEYS:
            raise InvalidInput(
                f"schedule: unsupported key {key!r} for a cron schedule",
                code="unsupported_schedule_key",
                field=str(key),
            )
    expr = raw.get("expr")
    if not isinstance(expr, str) or not expr.strip() or len(expr) > MAX_EXPR_LENGTH:
        raise _invalid(
            _("expr must be a cron expression of at most %(max)s characters") % {"max": MAX_EXPR_LENGTH}, code
        )
    expr = " ".join(expr.split())
    if "timezone" in raw and raw["timezone"] is not None:
        zone = raw["timezone"]
        if not isinstance(zone, str) or zone_info(zone) is None:
            raise _invalid(
                _("timezone %(zone)s is not a known IANA time zone (like 'Europe/Paris')") % {"zone": repr(zone)}, code
            )
    else:
        zone = zone_name(tz)
        if zone is None:
            raise _invalid(_("timezone is required: the current time zone has no IANA name"), code)
    catch_up = raw.get("catch_up", False)
    if not isinstance(catch_up, bool):
        raise _invalid(_("catch_up must be true or false"), code)
    cronsim = _cronsim()
    if cronsim is None:
        raise _invalid(INSTALL_HINT, code)
    fields = expand(expr)
    if fields is None:
        raise _invalid(
            _("expr %(expr)s must have 5 fields (minute hour day month weekday) or be one of %(aliases)s")
            % {"expr": repr(expr), "aliases": ", ".join(ALIASES)},
            code,
        )
    try:
        it = cronsim.CronSim(fields, datetime(2000, 1, 1))
        next(it)
    except StopIteration:
        raise _invalid(_("expr %(expr)s never matches") % {"expr": repr(expr)}, code) from None
    except Exception as exc:
        raise _invalid(
            _("expr %(expr)s is not a valid cron expression (%(problem)s)") % {"expr": repr(expr), "problem": exc}, code
        ) from None
    return {"type": "cron", "expr": expr, "timezone": zone, "catch_up": catch_up}


def expand(expr: str) -> str | None:
    """The 5-field form of ``expr`` (aliases expanded), or None when it has another shape."""
    alias = ALIASES.get(expr.lower())
    if alias is not None:
        return alias
    if expr.startswith("@") or len(expr.split()) != 5:
        return None
    return expr


def zone_name(tz: tzinfo) -> str | None:
    key = getattr(tz, "key", None)
    if isinstance(key, str):
        return key
    if tz is UTC:
        return "UTC"
    return None


def zone_info(name: str) -> ZoneInfo | None:
    if len(name) > 100 or not ZONE_RE.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, or a key zoneinfo refuses
        return None


# Slots ------------------------------------------------------------------------------------------


def first_slot(schedule: dict[str, Any], now: datetime) -> datetime | None:
    """The first slot at or after ``now`` (the job's creation)."""
    return _Cron(schedule).first_at_or_after(now)


def next_slot(schedule: dict[str, Any], slot_at: datetime, now: datetime) -> datetime | None:
    """The slot after ``slot_at``: the next one with ``catch_up``, else the next one after ``now``.

    Always strictly later than ``slot_at``; checked again here rather than trusted.
    """
    cron = _Cron(schedule)
    base = slot_at if schedule.get("catch_up") else max(now, slot_at)
    slot = cron.first_at_or_after(base + _TINY)
    while slot is not None and slot <= slot_at:
        slot = cron.first_at_or_after(slot + _SECOND)
    return slot


class _Cron:
    def __init__(self, schedule: dict[str, Any]) -> None:
        cronsim = _cronsim()
        if cronsim is None:
            raise RuntimeError(INSTALL_HINT)
        self.cronsim = cronsim
        self.fields = expand(schedule["expr"]) or schedule["expr"]
        self.tz = zone_info(schedule["timezone"]) or UTC
        probe = cronsim.CronSim(self.fields, datetime(2000, 1, 1))
        # Fires in every hour of the day: follows the real clock (see the module docstring).
        self.real_clock = set(probe.hours) >= set(range(24))

    def match(self, at_or_after: datetime) -> datetime | None:
        """The first naive local time >= ``at_or_after`` (naive) that the expression matches."""
        try:
            found: datetime = next(self.cronsim.CronSim(self.fields, at_or_after - _TINY))
            return found
        except (StopIteration, OverflowError, ValueError):
            return None

    def offset(self, instant: datetime) -> timedelta:
        return instant.astimezone(self.tz).utcoffset() or timedelta(0)

    def segments(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime, timedelta]]:
        """``(a, b, offset)`` pieces of [start, end) with a constant UTC offset, in order."""
        out = []
        a, off = start, self.offset(start)
        probe = start
        while probe < end:
            nxt = min(probe + _SAMPLE, end)
            if self.offset(nxt) != off:
                # offset(lo) == off != offset(hi): bisect on whole seconds (transitions fall on one).
                lo, hi = int(probe.timestamp()), int(nxt.timestamp())
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if self.offset(datetime.fromtimestamp(mid, UTC)) == off:
                        lo = mid
                    else:
                        hi = mid
                cut = datetime.fromtimestamp(hi, UTC)
                out.append((a, cut, off))
                a, off = cut, self.offset(cut)
            probe = nxt
        out.append((a, end, off))
        return out

    def first_at_or_after(self, t: datetime) -> datetime | None:
        t = t.astimezone(UTC)
        start = t.replace(microsecond=0) - _BEFORE
        prev_wall_end: datetime | None = None
        try:
            while True:
                end = start + _WINDOW
                found: datetime | None = None
                for a, b, off in self.segments(start, end):
                    wall_start, wall_end = _naive(a + off), _naive(b + off)
                    lower = wall_start
                    if not self.real_clock and prev_wall_end is not None:
                        # Below: a gap's local times (they run at ``a``); above: a fold's repeats (skipped).
                        lower = prev_wall_end
                    if a < t:
                        lower = max(lower, _naive(t + off))
                    prev_wall_end = wall_end
                    n = self.match(lower)
                    if n is None:
                        return None
                    if n < wall_end:
                        return max(a, n.replace(tzinfo=UTC) - off)
                    found = n
                if found is None:
                    return None
                # Nothing in this window: jump close to the next naive match (no local time in
                # between matches, so no gap or fold there can add a slot).
                start = max(end, found.replace(tzinfo=UTC) - off - _BEFORE)
                if start > end:
                    prev_wall_end = None
        except OverflowError:
            return None


def _naive(instant: datetime) -> datetime:
    return instant.replace(tzinfo=None)


# Display ----------------------------------------------------------------------------------------

_DAY_OR_MONTH = re.compile(
    r"^At ([0-9:, and]+?) on ((?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|"
    r"March|April|May|June|July|August|September|October|November|December).*)$"
)


def describe(schedule: dict[str, Any]) -> str:
    """ "At 09:00, Monday through Friday (Europe/Paris)"; the expression itself when unexplainable."""
    expr = schedule.get("expr", "")
    zone = schedule.get("timezone", "")
    text = expr
    cronsim = _cronsim()
    fields = expand(expr) if isinstance(expr, str) else None
    if cronsim is not None and fields is not None:
        try:
            text = cronsim.CronSim(fields, datetime(2000, 1, 1)).explain()
        except Exception:
            text = expr
        m = _DAY_OR_MONTH.match(text)
        if m:
            text = f"At {m.group(1)}, {m.group(2)}"
    return f"{text} ({zone})" if zone else text
