"""Time coercion shared by schedules, validation and the shells.

Inputs may be aware or naive datetimes, integer epoch milliseconds (the seed's unit) or ISO 8601
strings; everything comes out as an aware UTC datetime. Stdlib only.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta, timezone, tzinfo

from .i18n import gettext as _

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 9999-12-31T23:59:59.999Z: the last millisecond Python's datetime can hold.
MAX_MS = 253402300799999


def coerce_time(value: object, tz: tzinfo) -> datetime:
    """Return ``value`` as an aware UTC datetime, or raise ValueError saying why not.

    Naive values are read in ``tz`` (the caller passes Django's current time zone).
    Floats and bools are refused: the seed's unit is integer milliseconds, and a float is
    almost always seconds passed by mistake.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(_("must be a datetime, an ISO 8601 string or integer epoch milliseconds"))
    if isinstance(value, int):
        if not 0 <= value <= MAX_MS:
            raise ValueError(_("epoch milliseconds must lie between 1970 and 9999"))
        return EPOCH + timedelta(milliseconds=value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            raise ValueError(_("is not an ISO 8601 datetime"))
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text if sys.version_info >= (3, 11) else _for_py310(text))
        except ValueError:
            raise ValueError(_("is not an ISO 8601 datetime")) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            value = value.replace(tzinfo=tz)
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError(_("is out of range")) from None
    raise ValueError(_("must be a datetime, an ISO 8601 string or integer epoch milliseconds"))


_FRACTION_AND_OFFSET = re.compile(r"^(.*T\d{2}:\d{2}:\d{2})(?:[.,](\d{1,9}))?(?:([+-]\d{2}):?(\d{2})?)?$")


def _for_py310(text: str) -> str:
    """Rewrite ISO forms Python 3.10's ``fromisoformat`` refuses (``.5``, ``+0100``) into ones it takes."""
    match = _FRACTION_AND_OFFSET.match(text.replace(" ", "T", 1) if "T" not in text else text)
    if match is None:
        return text
    head, fraction, hours, minutes = match.groups()
    fraction = f".{(fraction or '0')[:6]:0<6}" if fraction else ""
    offset = f"{hours}:{minutes or '00'}" if hours else ""
    return f"{head}{fraction}{offset}"


def to_ms(value: datetime) -> int:
    return (value - EPOCH) // timedelta(milliseconds=1)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, full precision; the form stored inside JSON fields."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def add_ms(value: datetime, ms: int) -> datetime | None:
    """``value + ms``, or None when the result would leave datetime's range."""
    try:
        return value + timedelta(milliseconds=ms)
    except OverflowError:
        return None


_DURATION = re.compile(r"([0-9]{1,15})(ms|s|m|h|d|w)?")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
# A century: longer than any lateness or retention anyone means, short of datetime's range.
MAX_DURATION_MS = 100 * 366 * _UNIT_MS["d"]


def parse_duration_ms(text: object) -> int:
    """``"90s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1w"``, ``"250ms"`` or a bare integer of milliseconds, as ms.

    The seed counts in milliseconds, so a number without a unit is milliseconds; people type units.
    Raises ValueError saying what is accepted.
    """
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            _("%(text)s is not a duration like 90s, 5m, 2h, 1d or a number of milliseconds") % {"text": repr(text)}
        )
    ms = int(match.group(1)) * _UNIT_MS[match.group(2) or "ms"]
    if ms > MAX_DURATION_MS:
        raise ValueError(_("%(text)s is longer than 100 years") % {"text": repr(text)})
    return ms
