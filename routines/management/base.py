"""What the app's management commands share: every error is one line, for cron and CI logs.

argparse prints the whole usage before a bad argument's message, and an unreachable database
surfaces as a traceback; a scheduler's log wants neither.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError


def database_error(exc: DatabaseError) -> CommandError:
    return CommandError(f"database error: {exc}".splitlines()[0])


class OneLineCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # The help is translatable (lazy); argparse formats only real strings, in the active language.
        self.help = str(self.help)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        default_error = parser.error

        def error(message: str) -> None:
            if parser.called_from_command_line:
                parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
            default_error(message)

        parser.error = error  # type: ignore[method-assign]
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except DatabaseError as exc:
            raise database_error(exc) from None
