"""``manage.py routines SUBCOMMAND``: inspect and operate jobs from a shell, cron or a probe.

Every subcommand is a thin call into ``routines.api``; ``--json`` prints the records the REST API
returns. Errors are one line, ``routines: error: FIELD: what is wrong``, with exit status 1, so a
cron log or a probe shows the reason; ``check`` exits 2 (not 1) when something is late.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser, handle_default_options
from django.db import connections
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from routines import api
from routines.exceptions import RoutineError
from routines.management import cli
from routines.management.base import OneLineCommand
from routines.records import job_record, run_record
from routines.states import STATES
from routines.times import iso, parse_duration_ms

DEFAULT_LIMIT = 100
LATE_SHOWN = 100  # check names at most this many late jobs, like health/; its counts stop at late.COUNT_CAP
EXIT_ERROR = 1
EXIT_LATE = 2
SCHEDULE_TYPES = ("once", "interval", "cron")


class Parser(CommandParser):
    """Usage mistakes become CommandErrors, so they print as one line and exit 1 like any error."""

    def error(self, message: str) -> Any:
        raise CommandError(f"{message} (see {self.prog} --help)")


def duration_ms(text: str) -> int:
    try:
        return parse_duration_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    if not text.strip().isascii() or not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(_("%(value)r is not a positive integer") % {"value": text})
    return int(text)


class Command(OneLineCommand):
    help = gettext_lazy(  # type: ignore[assignment]  # argparse takes any str
        "Inspect and operate routines: list, show, pause, resume, cancel, run now, create, check lateness."
    )
    exit_code = 0
    stealth_options = ("stdin",)  # call_command(..., stdin=StringIO(...)) feeds ``create``

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = Parser.error.__get__(parser)  # type: ignore[method-assign]
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="action", metavar="SUBCOMMAND", required=True, parser_class=Parser, title=_("subcommands")
        )

        def command(name: str, text: str) -> CommandParser:
            p: CommandParser = sub.add_parser(name, help=str(text), description=str(text))
            p.add_argument("--json", action="store_true", help=_("print one JSON document instead of a table"))
            return p

        def limit(p: CommandParser) -> None:
            p.add_argument(
                "--limit",
                type=positive_int,
                default=DEFAULT_LIMIT,
                metavar="N",
                help=_("at most N jobs (default: %(default)s)"),
            )

        p = command("list", _("List jobs, most recently changed first."))
        p.add_argument("--state", choices=STATES, help=_("only jobs in this state"))
        p.add_argument("--schedule-type", choices=SCHEDULE_TYPES, help=_("only jobs with this schedule type"))
        limit(p)
        p = command("show", _("Show one job and its latest runs."))
        p.add_argument("job_id", help=_("the job's id"))
        p = command("due", _("List the jobs due now (or at --at), the earliest first."))
        p.add_argument("--at", help=_("as of this time: ISO 8601 or epoch milliseconds (default: now)"))
        limit(p)
        command("next-due", _("Print when the next job falls due."))
        p = command("late", _("List the late jobs (due longer ago than their late_after_ms) and journal them."))
        limit(p)
        for name, text in (
            ("pause", _("Pause jobs: they keep their schedule but do not run until resumed.")),
            ("resume", _("Resume paused jobs (timed pauses too).")),
            ("cancel", _("Cancel jobs for good (a run in progress is marked cancelled).")),
        ):
            p = command(name, text)
            p.add_argument("job_ids", nargs="+", metavar="JOB_ID", help=_("one or more job ids"))
            if name == "pause":
                p.add_argument("--until", help=_("resume by itself after this time: ISO 8601 or epoch milliseconds"))
        p = command("pause-all", _("Hold every runner: run_due claims nothing until resume-all (incidents, deploys)."))
        p.add_argument("reason", nargs="?", default="", help=_("why, shown by run_due and the admin"))
        command("resume-all", _("Let every runner claim due jobs again."))
        p = command("run-now", _("Run a job's target once now, as a manual run; its schedule is unchanged."))
        p.add_argument("job_id", help=_("the job's id"))
        p = command("create", _("Create a job from a JSON job input (the keys of the Python API and REST API)."))
        p.add_argument("--file", metavar="PATH", help=_("read the JSON from this file (default: standard input)"))
        p = command("check", _("Exit 0 when no job is late, 2 when one is, 1 on error: for cron monitors and probes."))
        p.add_argument(
            "--max-late",
            type=duration_ms,
            metavar="DURATION",
            help=_("only count jobs late by more than this, like 90s, 5m, 2h, 1d or milliseconds (default: 0)"),
        )

    def run_from_argv(self, argv: list[str]) -> None:
        """Like Django's, but every error is ``routines: error: …`` and the exit status is this command's."""
        self._called_from_command_line = True
        options: dict[str, Any] = {}
        try:
            parser = self.create_parser(argv[0], argv[1])
            namespace = parser.parse_args(argv[2:])
            handle_default_options(namespace)
            options = vars(namespace)
            args = options.pop("args", ())
            self.execute(*args, **options)
        except CommandError as exc:
            if options.get("traceback"):
                raise
            self.stderr.write(f"routines: error: {exc}")
            sys.exit(EXIT_ERROR)
        finally:
            connections.close_all()
        sys.exit(self.exit_code)

    def handle(self, *args: Any, **options: Any) -> None:
        self.exit_code = 0
        action: Callable[[dict[str, Any]], Any] = getattr(self, "do_" + options["action"].replace("-", "_"))
        try:
            action(options)
        except RoutineError as exc:
            raise cli.error(exc, "job_id" if "job_id" in options else None) from None

    def emit(self, options: dict[str, Any], document: Any, human: str) -> None:
        self.stdout.write(json.dumps(document, ensure_ascii=False) if options["json"] else human)

    # Reading -------------------------------------------------------------------------------------

    def do_list(self, options: dict[str, Any]) -> None:
        flt: dict[str, Any] = {"limit": options["limit"]}
        for key in ("state", "schedule_type"):
            if options[key] is not None:
                flt[key] = options[key]
        jobs = api.list(flt)
        self.emit(options, [job_record(j) for j in jobs], cli.jobs_table(jobs) if jobs else _("no jobs"))

    def do_show(self, options: dict[str, Any]) -> None:
        job = api.get(options["job_id"])
        runs = list(api.filter_runs({"job_id": job.job_id})[:5])
        self.emit(options, job_record(job), cli.job_detail(job, runs))

    def do_due(self, options: dict[str, Any]) -> None:
        flt: dict[str, Any] = {"limit": options["limit"]}
        if options["at"] is not None:
            flt["at"] = cli.parse_time("--at", options["at"])
        jobs = api.list_due(flt)
        self.emit(options, [job_record(j) for j in jobs], cli.jobs_table(jobs) if jobs else _("nothing is due"))

    def do_next_due(self, options: dict[str, Any]) -> None:
        at = api.next_due_at()
        human = cli.when(at) if at is not None else _("nothing is scheduled")
        self.emit(options, {"next_due_at": iso(at)}, human)

    # Writing -------------------------------------------------------------------------------------

    def do_pause(self, options: dict[str, Any]) -> None:
        until = options.get("until")
        self.each(options, _("paused"), lambda job_id: api.pause(job_id, until, actor=cli.actor()))

    def do_pause_all(self, options: dict[str, Any]) -> None:
        api.pause_all(options["reason"], actor=cli.actor())
        self.emit_switch(options)

    def do_resume_all(self, options: dict[str, Any]) -> None:
        api.resume_all(actor=cli.actor())
        self.emit_switch(options)

    def emit_switch(self, options: dict[str, Any]) -> None:
        reason = api.paused_all()
        human = _("every runner is paused") + f" ({reason})" if reason is not None else _("runners claim due jobs")
        self.emit(options, {"paused": reason is not None, "reason": reason}, human)

    def do_resume(self, options: dict[str, Any]) -> None:
        self.each(options, _("resumed"), lambda job_id: api.update(job_id, {"state": "active"}, actor=cli.actor()))

    def do_cancel(self, options: dict[str, Any]) -> None:
        def cancel(job_id: str) -> Any:
            api.cancel(job_id, actor=cli.actor())
            return api.get(job_id)

        self.each(options, _("cancelled"), cancel)

    def each(self, options: dict[str, Any], done: str, apply: Callable[[str], Any]) -> None:
        """Apply to every id given; a failed one is reported on stderr and the others still go ahead."""
        jobs, failures = [], []
        for job_id in dict.fromkeys(options["job_ids"]):
            try:
                jobs.append(apply(job_id))
            except RoutineError as exc:
                failures.append(str(cli.error(exc, "job_id")))
        human = "\n".join(f"{done} {job.job_id} ({job.state})" for job in jobs)
        if jobs or options["json"]:
            self.emit(options, [job_record(j) for j in jobs], human)
        if failures:
            raise CommandError("; ".join(failures))

    def do_run_now(self, options: dict[str, Any]) -> None:
        run = api.run_now(options["job_id"], actor=cli.actor())
        self.emit(options, run_record(run), cli.run_summary(run))

    def do_create(self, options: dict[str, Any]) -> None:
        job_input = cli.read_job_input(options["file"], options.get("stdin"))
        job, created = api.create_or_get(job_input, actor=cli.actor())
        verb = _("created") if created else _("exists")
        human = f"{verb} {job.job_id} ({job.state}, {_('next run')} {cli.when(job.next_run_at)})"
        self.emit(options, job_record(job), human)

    # Lateness ------------------------------------------------------------------------------------

    def do_late(self, options: dict[str, Any]) -> None:
        at, jobs, count = cli.seen_late(options["limit"])
        human = cli.late_table(jobs, at) if jobs else _("nothing is late")
        if count > len(jobs):
            human += "\n" + _("… and %(n)d more (--limit shows more)") % {"n": count - len(jobs)}
        self.emit(options, [job_record(j) for j in jobs], human)

    def do_check(self, options: dict[str, Any]) -> None:
        at, late, count = cli.seen_late(LATE_SHOWN, options["max_late"] or 0)
        due = cli.due_count(at)
        document = {
            "status": "late" if late else "ok",
            "due": due,
            "late": count,
            "late_jobs": [
                {"job_id": j.job_id, "next_run_at": iso(j.next_run_at), "late_by_ms": cli.late_by_ms(j, at)}
                for j in late
            ],
        }
        if late:
            human = _("late: %(n)d job(s) late: %(ids)s") % {
                "n": count,
                "ids": ", ".join(j.job_id for j in late[:10]),
            }
        else:
            human = _("ok: nothing is late (%(due)d due)") % {"due": due}
        self.emit(options, document, human)
        self.exit_code = EXIT_LATE if late else 0
