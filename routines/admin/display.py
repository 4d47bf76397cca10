"""Small HTML pieces the admin pages share: state badges, relative times, time stamps, links.

Kept apart from the ModelAdmins so both the job pages and the history pages render a state or a
time the same way, and so the wording ("in 4 minutes", "3 minutes overdue") is defined once. Relative
times come from Django's translated ``timesince``, to the largest unit.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.contrib.admin.utils import quote
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext

EMPTY = "—"
# Colour classes live in routines/static/routines/admin.css; unknown values fall back to grey.
BADGE_KINDS = {
    "active": "ok",
    "completed": "ok",
    "running": "busy",
    "retry_waiting": "warn",
    "failed": "bad",
    "exhausted": "bad",
    "paused": "idle",
    "cancelled": "off",
}


def change_url(model_name: str, pk: str) -> str:
    """The admin page of one job, run or thread, with its id quoted as the admin's own links are.

    The admin unquotes ids in its URLs ("_24" reads as "$"), so an unquoted run_24… or
    digest_40 names no object and the admin redirects to its index.
    """
    return reverse(f"admin:routines_{model_name}_change", args=[quote(pk)])


def badge(value: str | None) -> SafeString | str:
    if not value:
        return EMPTY
    return format_html(
        '<span class="routines-badge routines-badge-{}" data-value="{}">{}</span>',
        BADGE_KINDS.get(value, "off"),
        value,
        value.replace("_", " "),
    )


def span(seconds: float) -> str:
    """A rounded duration in the largest unit that keeps it readable."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    if seconds < 730 * 86400:
        return f"{int(seconds // 86400)} days"
    return f"{int(seconds // (365.25 * 86400))} years"


def between(earlier: datetime, later: datetime) -> str:
    """The time from ``earlier`` to ``later`` in its largest unit ("4 minutes"), seconds under a minute."""
    seconds = int((later - earlier).total_seconds())
    if seconds < 60:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    return timesince(earlier, later, depth=1)


def until(at: datetime, now: datetime) -> str:
    """ "in 4 minutes" for the future, "3 minutes overdue" for the past."""
    seconds = (at - now).total_seconds()
    if abs(seconds) < 1:
        return gettext("now")
    if seconds > 0:
        return gettext("in %(time)s") % {"time": between(now, at)}
    return gettext("%(time)s overdue") % {"time": between(at, now)}


def ago(at: datetime, now: datetime) -> str:
    seconds = (now - at).total_seconds()
    if 0 <= seconds < 5:
        return gettext("just now")
    if seconds >= 0:
        return gettext("%(time)s ago") % {"time": between(at, now)}
    return gettext("in %(time)s") % {"time": between(now, at)}


def stamp(at: datetime | None, *, short: bool = False, zone: str | None = None) -> str:
    """The instant in the current time zone, the one format of every routines page.

    ``short`` drops seconds, and the year when it is this year. ``zone`` (a cron job's own IANA
    zone) adds the local time there when it differs from the current zone's.
    """
    if at is None:
        return EMPTY
    local = timezone.localtime(at)
    text = _format(local, short)
    if zone:
        try:
            there = at.astimezone(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return text
        if there.utcoffset() != local.utcoffset() or there.tzname() != local.tzname():
            text += f" ({there.strftime('%H:%M')} {there.tzname() or zone})"
    return text


def _format(local: datetime, short: bool) -> str:
    if short:
        pattern = "%d %b %H:%M" if local.year == timezone.localtime().year else "%d %b %Y %H:%M"
    else:
        pattern = "%d %b %Y %H:%M:%S"
    return f"{local.strftime(pattern)} {local.tzname() or ''}".strip()


def when(at: datetime | None, relative: str, zone: str | None = None) -> SafeString | str:
    """A relative time with the instant underneath (the exact one in the tooltip)."""
    if at is None:
        return EMPTY
    return format_html(
        '<span class="routines-when" title="{}">{}</span><br><small class="routines-stamp">{}</small>',
        stamp(at, zone=zone),
        relative,
        stamp(at, short=True, zone=zone),
    )


def duration(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return gettext("running") if finished is None and started is not None else EMPTY
    seconds = (finished - started).total_seconds()
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s" if seconds < 60 else span(seconds)
