"""Keep a runner's leases alive while one long target runs.

The runner renews its batch's leases between jobs, but a single target that runs longer than
half a lease would let it lapse mid-run: another runner would then rescue, and run again, a job
that is still running (SPEC §6.5: nothing runs twice at once). A daemon thread renews the leases
the runner holds whenever half a lease has passed since the last renewal, so a lease now
measures whether the runner's process is alive, not how long its target takes.

The runner's own writes to those rows take ``writing`` so that they never overlap a renewal
(two multi-row UPDATEs locking the same rows in different orders could deadlock).
Renewal is best effort on the thread's own database connection: a failed one is logged and
tried again at the next beat; if the database stays away the lease lapses as if the runner died.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from django.db import connection

logger = logging.getLogger("routines")


class Heartbeat:
    """Renews ``held`` run ids through ``renew`` once ``ttl_seconds / 2`` pass without a renewal.

    The thread starts with the first ``hold`` (an idle ``run_due`` starts none) and stops, closing
    its connection, when the ``with`` block ends.
    """

    def __init__(self, renew: Callable[[list[str]], object], ttl_seconds: float) -> None:
        self._renew = renew
        self._half = ttl_seconds / 2
        self._held: list[str] = []
        self._renewed_at = time.monotonic()
        self._cond = threading.Condition()
        self.writing = threading.Lock()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def renewed_at(self) -> float:
        with self._cond:
            return self._renewed_at

    def hold(self, run_ids: list[str]) -> None:
        """The leases to keep from now on (the runner just claimed them, renewing them too)."""
        with self._cond:
            self._held = list(run_ids)
            self._renewed_at = time.monotonic()
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._beat, name="routines-heartbeat", daemon=True)
                self._thread.start()
            self._cond.notify()

    def renewed(self) -> None:
        """The runner renewed its leases itself: the next beat is half a lease away again."""
        with self._cond:
            self._renewed_at = time.monotonic()

    def release(self) -> None:
        with self._cond:
            self._held = []

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
                    while not self._stopped:
                        wait = self._renewed_at + self._half - time.monotonic()
                        if self._held and wait <= 0:
                            break
                        self._cond.wait(timeout=wait if self._held else None)
                    if self._stopped:
                        return
                    held = list(self._held)
                    self._renewed_at = time.monotonic()
                try:
                    with self.writing:
                        self._renew(held)
                except Exception as exc:
                    logger.warning("could not renew the leases of %d running job(s): %s", len(held), exc)
                    connection.close()  # a broken connection is replaced at the next try
                    with self._cond:  # try again soon: the lease has only half its time left
                        self._renewed_at = time.monotonic() - self._half + min(1.0, self._half / 4)
        finally:
            connection.close()
