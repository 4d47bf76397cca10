"""A child process for the many-runner tests and bench: ``python -m tests.support.process_driver [--go FILE] ARGS``.

Runs ``manage.py run_due ARGS`` with the test settings, after two optional test hooks:

* ``--go FILE``: set Django up and connect first, then wait until FILE exists, so that several
  children start claiming at the same moment (and a bench times claiming, not start-up).
* ``ROUTINES_TEST_CLOCK_SKEW_SECONDS``: this host's own clock runs that many seconds ahead.
  ``ROUTINES_TEST_LOCAL_CLOCK=1`` makes the runner trust it instead of the database's clock.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta


def skew_local_clock(seconds: float) -> None:
    from django.utils import timezone

    real_now = timezone.now

    def skewed_now() -> datetime:
        return real_now() + timedelta(seconds=seconds)

    timezone.now = skewed_now


def sleep_without_clock_nanosleep() -> None:
    """Under libfaketime with a real monotonic clock, ``time.sleep`` fails with EINVAL (its
    ``clock_nanosleep`` wrapper mangles the deadline): sleep through ``select`` instead."""
    import select

    time.sleep = lambda seconds: select.select([], [], [], seconds) and None


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    if os.environ.get("FAKETIME"):
        sleep_without_clock_nanosleep()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import execute_from_command_line
    from django.db import connection

    if os.environ.get("ROUTINES_TEST_CLOCK_SKEW_SECONDS"):
        skew_local_clock(float(os.environ["ROUTINES_TEST_CLOCK_SKEW_SECONDS"]))
    if os.environ.get("ROUTINES_TEST_LOCAL_CLOCK"):
        settings.ROUTINES = {**settings.ROUTINES, "USE_DB_CLOCK": False}
    if argv[:1] == ["--go"]:
        go = argv[1]
        argv = argv[2:]
        connection.ensure_connection()
        while not os.path.exists(go):
            time.sleep(0.002)
    execute_from_command_line(["manage.py", "run_due", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
