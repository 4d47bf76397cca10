"""Which clock a runner reads: the database server's where it has one worth trusting, else ours."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from .conf import routines_settings
from .times import UTC


def uses_db_clock() -> bool:
    return connection.vendor in ("postgresql", "mysql") and bool(routines_settings.USE_DB_CLOCK)


def db_now() -> datetime:
    """The time by the database server's clock where it has one worth trusting over ours.

    Every runner host then agrees on due times and lease expiry, however skewed its own clock.
    """
    if not uses_db_clock():
        return timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT statement_timestamp()")
        else:
            cursor.execute("SELECT UTC_TIMESTAMP(6)")
        value: datetime = cursor.fetchone()[0]
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Clock:
    """A call's clock: frozen for schedule math, moving (from the same origin) for leases.

    ``now`` is the call's clock: due comparisons and next slots use it, so
    one call cannot chase a schedule forever. ``wall()`` adds the real time elapsed since, for
    leases and run timestamps, so a long call never hands out leases that are already spent.
    """

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now if now is not None else db_now()
        self._origin = time.monotonic()

    def wall(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self._origin)
