"""``manage.py run_due``: execute due routines once, or keep doing so with ``--loop``."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from routines import api
from routines.batches import DueResult
from routines.clock import db_now
from routines.conf import MAX_LOOP_WAIT_SECONDS, routines_settings
from routines.exceptions import InvalidInput
from routines.execution import default_runner_id
from routines.management.base import OneLineCommand, database_error
from routines.models import Job
from routines.times import coerce_time, iso

logger = logging.getLogger("routines")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and SIGINT ask the runner to stop after the job in hand; a second one stops at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield stop
        return

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        logger.info("run_due: signal %s received, stopping after the job in hand", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def parse_now(value: str) -> datetime:
    text = value.strip()
    try:
        return coerce_time(int(text) if text.lstrip("-").isdigit() else text, timezone.get_current_timezone())
    except ValueError as exc:
        raise CommandError(f"--now {exc}") from None


HELD_BACK_WAIT_SECONDS = 0.5


class Command(OneLineCommand):
    help = gettext_lazy("Execute the routines that are due, then exit (or keep going with --loop).")  # type: ignore[assignment]  # argparse takes any str
    verbosity = 1

    def add_arguments(self, parser: CommandParser) -> None:
        ttl = routines_settings.CLAIM_TTL_MS
        wait = routines_settings.LOOP_MAX_WAIT_SECONDS
        parser.add_argument(
            "--limit", type=int, help=gettext("execute at most this many runs per pass (default: no limit)")
        )
        parser.add_argument("--runner-id", help=gettext("name this runner in claims and runs (default: host:pid)"))
        parser.add_argument(
            "--claim-ttl-ms",
            type=int,
            help=gettext("lease length of a claim in milliseconds (default: ROUTINES['CLAIM_TTL_MS'], now %(ttl)s)")
            % {"ttl": ttl},
        )
        parser.add_argument(
            "--now",
            help=gettext("run as of this time (ISO 8601 or epoch ms); for tests and replays (default: the clock)"),
        )
        parser.add_argument(
            "--json", action="store_true", help=gettext("print the results as a JSON array (default: a summary line)")
        )
        parser.add_argument(
            "--loop",
            action="store_true",
            help=gettext("keep running, sleeping until the next due time (default: one pass, then exit)"),
        )
        parser.add_argument(
            "--max-wait",
            type=float,
            help=gettext(
                "with --loop: sleep at most this many seconds "
                "(default: ROUTINES['LOOP_MAX_WAIT_SECONDS'], now %(wait)s)"
            )
            % {"wait": f"{wait:g}"},
        )

    def handle(self, *args: Any, **options: Any) -> None:
        opts: dict[str, Any] = {}
        if options["limit"] is not None:
            if options["limit"] < 1:
                raise CommandError(gettext("--limit must be a positive integer"))
            opts["limit"] = options["limit"]
        if options["claim_ttl_ms"] is not None:
            if options["claim_ttl_ms"] < 1:
                raise CommandError(gettext("--claim-ttl-ms must be a positive integer"))
            opts["claim_ttl_ms"] = options["claim_ttl_ms"]
        if options["runner_id"] is not None:
            opts["runner_id"] = options["runner_id"]
        if options["now"] is not None:
            opts["now"] = parse_now(options["now"])
        max_wait = options["max_wait"]
        if max_wait is not None and not 0 < max_wait <= MAX_LOOP_WAIT_SECONDS:
            raise CommandError(
                gettext("--max-wait must be more than 0 and at most %(max)s seconds") % {"max": MAX_LOOP_WAIT_SECONDS}
            )
        if max_wait is not None and not options["loop"]:
            raise CommandError(gettext("--max-wait only applies with --loop"))
        self.verbosity = int(options.get("verbosity", 1))
        with stop_on_signals() as stop:
            if options["loop"]:
                if "runner_id" not in opts:  # one id for every pass, so the start-up line names it truly
                    opts["runner_id"] = default_runner_id()
                wait = max_wait if max_wait is not None else float(routines_settings.LOOP_MAX_WAIT_SECONDS)
                self.loop(opts, wait, options["json"], stop)
            else:
                self.report(self.once(opts, stop.is_set), options["json"])

    def announce(self, opts: dict[str, Any], max_wait: float) -> None:
        """Say at start-up what the loop will do, on stderr so stdout stays the results only."""
        if self.verbosity < 1:
            return
        self.stderr.write(
            f"run_due: looping as runner {opts['runner_id']}, waking at the next due time or every {max_wait:g} s "
            "at most; SIGTERM or Ctrl-C stops it after the job in hand"
        )

    def once(self, opts: dict[str, Any], should_stop: Any = None) -> list[DueResult]:
        try:
            return api.run_due(opts, should_stop=should_stop)
        except InvalidInput as exc:
            raise CommandError(f"{exc.field}: {exc.detail}") from None

    def report(self, results: list[DueResult], as_json: bool) -> None:
        """Verbosity 0 prints nothing when nothing ran (cron mails stay empty); 2 adds a line per run."""
        if not results and self.verbosity < 1:
            return
        if as_json:
            rows = [
                {
                    "job_id": r.job_id,
                    "slot_at": iso(r.slot_at),
                    "run_id": r.run.run_id,
                    "status": r.status,
                    "outcome": r.outcome,
                }
                for r in results
            ]
            self.stdout.write(json.dumps(rows))
            return
        if not results and (reason := api.paused_all()) is not None:
            self.stdout.write(paused_line(reason))
            return
        counts: dict[str, int] = {}
        for r in results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        self.stdout.write(f"run_due: {len(results)} executed" + (f" ({detail})" if detail else ""))
        if self.verbosity >= 2:
            for r in results:
                slot = iso(r.slot_at) if r.slot_at is not None else "manual"
                self.stdout.write(f"  {r.job_id}  slot {slot}  run {r.run.run_id}  {r.status}  {r.outcome}")

    def loop(self, opts: dict[str, Any], max_wait: float, as_json: bool, stop: threading.Event) -> None:
        """Run passes until SIGTERM/SIGINT; the job in hand always finishes first."""
        try:
            connection.ensure_connection()  # a database never reached is an error; a later outage is ridden out
        except DatabaseError as exc:
            raise database_error(exc) from None
        self.announce(opts, max_wait)
        backoff = 1.0
        said_paused: str | None = None
        while not stop.is_set():
            if not connection.in_atomic_block:  # e.g. call_command() inside a test's transaction
                close_old_connections()
            try:
                results = api.run_due(opts, should_stop=stop.is_set)
                wait = self.seconds_to_next(max_wait) if not stop.is_set() else 0
                backoff = 1.0
            except InvalidInput as exc:
                raise CommandError(f"{exc.field}: {exc.detail}") from None
            except DatabaseError as exc:
                logger.error(
                    "run_due: database unavailable (%s); retrying in %.0f s",
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                    backoff,
                )
                self.stderr.write(
                    gettext("run_due: database unavailable, retrying in %(seconds)s s") % {"seconds": f"{backoff:.0f}"}
                )
                if not connection.in_atomic_block:
                    connection.close()
                stop.wait(backoff)
                backoff = min(backoff * 2, max_wait)
                continue
            if results:
                self.report(results, as_json)
                said_paused = None
            elif (reason := api.paused_all()) is not None:
                if reason != said_paused and not as_json:
                    self.stdout.write(paused_line(reason))
                said_paused = reason
                wait = max_wait  # nothing will be claimed before someone resumes: no busy loop
            elif wait == 0:
                # Due jobs that no pass could take (their concurrency group is full, or another
                # runner holds them): look again soon rather than at once, over and over.
                wait = min(max_wait, HELD_BACK_WAIT_SECONDS)
            if "now" in opts:
                break  # a frozen clock never moves on: one pass is all there is
            stop.wait(wait)

    def seconds_to_next(self, max_wait: float) -> float:
        """Sleep until the next due time or lease expiry, at most ``max_wait``."""
        nxt = api.next_due_at()
        lease = (
            Job.objects.filter(state="running", lease_expires_at__isnull=False)
            .order_by("lease_expires_at")
            .values_list("lease_expires_at", flat=True)
            .first()
        )
        times = [t for t in (nxt, lease) if t is not None]
        if not times:
            return max_wait
        seconds = (min(times) - db_now()).total_seconds()
        return max(0.0, min(max_wait, seconds + 0.001))


def paused_line(reason: str) -> str:
    return f"run_due: every runner is paused ({reason or 'no reason given'}); nothing was claimed"
