"""``manage.py prune_routines``: delete old run history and journal entries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext, gettext_lazy

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
    help = gettext_lazy("Delete finished runs and events older than a retention, keeping each job's newest runs.")  # type: ignore[assignment]  # argparse takes any str

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--runs-older-than", help=gettext("delete finished runs started before this age, like 30d"))
        parser.add_argument("--events-older-than", help=gettext("delete journal events older than this age, like 90d"))
        parser.add_argument("--keep-last", help=gettext("always keep this many newest runs of each job"))
        parser.add_argument("--dry-run", action="store_true", help=gettext("only count what would be deleted"))

    def handle(self, *args: Any, **options: Any) -> None:
        runs_age = _duration("--runs-older-than", options["runs_older_than"])
        events_age = _duration("--events-older-than", options["events_older_than"])
        keep_last = options["keep_last"]
        if keep_last is not None:
            text = str(keep_last).strip()
            if not text.isascii() or not text.isdigit():
                raise CommandError(
                    gettext("--keep-last: %(value)s is not a non-negative integer") % {"value": repr(keep_last)}
                )
            keep_last = int(text)
        try:
            removed = api.prune(runs_age, events_age, keep_last, dry_run=options["dry_run"])
        except InvalidInput as exc:
            flag = FLAGS.get(exc.field or "", "prune_routines")
            raise CommandError(f"{flag}: {exc}") from None
        if options["dry_run"]:
            message = gettext("prune_routines: would remove %(runs)d runs and %(events)d events")
        else:
            message = gettext("prune_routines: removed %(runs)d runs and %(events)d events")
        self.stdout.write(message % {"runs": removed["runs"], "events": removed["events"]})
