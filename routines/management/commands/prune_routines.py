"""``manage.py prune_routines``: delete old run history and journal entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser

from routines import api
from routines.exceptions import InvalidInput
from routines.management.base import OneLineCommand
from routines.pruning import parse_duration

FLAGS = {"runs_older_than": "--runs-older-than", "events_older_than": "--events-older-than", "keep_last": "--keep-last"}


def _duration(flag: str, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise CommandError(f"{flag}: {exc}") from None


class Command(OneLineCommand):
    help = "Delete finished runs and events older than a retention, keeping each job's newest runs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs-older-than", help="delete finished runs started before this age, like 30d")
        parser.add_argument("--events-older-than", help="delete journal events older than this age, like 90d")
        parser.add_argument("--keep-last", help="always keep this many newest runs of each job")
        parser.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    def handle(self, *args: Any, **options: Any) -> None:
        runs_age = _duration("--runs-older-than", options["runs_older_than"])
        events_age = _duration("--events-older-than", options["events_older_than"])
        keep_last = options["keep_last"]
        if keep_last is not None:
            text = str(keep_last).strip()
            if not text.isascii() or not text.isdigit():
                raise CommandError(f"--keep-last: {keep_last!r} is not a non-negative integer")
            keep_last = int(text)
        try:
            removed = api.prune(runs_age, events_age, keep_last, dry_run=options["dry_run"])
        except InvalidInput as exc:
            flag = FLAGS.get(exc.field or "", "prune_routines")
            raise CommandError(f"{flag}: {exc}") from None
        verb = "would remove" if options["dry_run"] else "removed"
        self.stdout.write(f"prune_routines: {verb} {removed['runs']} runs and {removed['events']} events")
