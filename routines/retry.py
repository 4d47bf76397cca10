"""Transactions that the database gave up for another's sake, tried again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

from .conf import routines_settings

T = TypeVar("T")
logger = logging.getLogger("routines")


def with_retry(fn: Callable[[], T]) -> T:
    """Run ``fn`` (a whole transaction) again when the database gives it up for another's sake.

    SQLite answers "database is locked" at once, without waiting, when two transactions would
    deadlock on the lock; the remedy is to roll back and retry after a short pause. InnoDB
    rolls a deadlock's victim back whole (error 1213) and asks for the same.
    """
    if connection.vendor == "mysql":
        return _retry_deadlocks(fn)
    if connection.vendor != "sqlite":
        return fn()
    deadline = time.monotonic() + float(routines_settings.SQLITE_LOCK_RETRY_SECONDS)
    pause = 0.005
    while True:
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


MYSQL_DEADLOCK = 1213
DEADLOCK_ATTEMPTS = 5


def _retry_deadlocks(fn: Callable[[], T]) -> T:
    # Inside a caller's transaction the deadlock rolled that back too: only the caller can start over.
    if connection.in_atomic_block:
        return fn()
    attempt = 1
    while True:
        try:
            return fn()
        except OperationalError as exc:
            if not exc.args or exc.args[0] != MYSQL_DEADLOCK or attempt == DEADLOCK_ATTEMPTS:
                raise
        time.sleep(0.01 * attempt)
        attempt += 1


RECONNECT_ATTEMPTS = 3


def reconnecting(fn: Callable[[], T]) -> T:
    """Run ``fn`` again on a new connection when the one it had was lost (a database restart).

    Only outside a transaction: inside one, the work done so far went with the connection.
    """
    attempt = 1
    while True:
        try:
            return fn()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or attempt == RECONNECT_ATTEMPTS or connection.is_usable():
                raise
            logger.warning(
                "database connection lost (%s); reconnecting",
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
        connection.close()
        time.sleep(0.1 * attempt)
        attempt += 1
