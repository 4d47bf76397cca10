"""A runner's second thread: it looks after the batch while a target runs.

The runner's own thread is inside a target for as long as the target takes, so someone else
must notice when that is long: keep the job in hand's lease alive, give back the batch's other
claims so that other runners can execute them, and write the outcomes already finished. The
runner supplies what to do as ``tick``; this module only calls it on time.

Work is best effort on the thread's own database connection: a failed tick is logged and the
connection replaced, and the next tick tries again. If the database stays away the lease
lapses as if the runner had died.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from django.db import connection

logger = logging.getLogger("routines")


class Heartbeat:
    """Calls ``tick`` every ``interval`` seconds while armed, on a daemon thread.

    The thread starts at the first ``arm`` (an idle ``run_due`` starts none) and ends, closing its
    connection, at ``stop``.
    """

    def __init__(self, tick: Callable[[], object], interval: float) -> None:
        self._tick = tick
        self._interval = interval
        self._armed = False
        self._stopped = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def arm(self) -> None:
        with self._cond:
            self._armed = True
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._beat, name="routines-heartbeat", daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._armed = False

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _beat(self) -> None:
        try:
            while True:
                with self._cond:
                    if not self._stopped:
                        self._cond.wait(timeout=self._interval if self._armed else None)
                    while not self._armed and not self._stopped:
                        self._cond.wait()
                    if self._stopped:
                        return
                try:
                    self._tick()
                except Exception as exc:
                    logger.warning("the runner's heartbeat failed: %s", exc)
                    connection.close()  # a broken connection is replaced at the next tick
        finally:
            connection.close()
