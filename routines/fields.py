"""A JSON field whose datetimes survive the round trip as aware datetimes.

Schedules hold times (``at``, ``start_at``); the API gives them as datetimes on the instance,
while the column stores ISO 8601 strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import DateTimeField, Func

from .schedules import TIME_KEYS
from .times import iso


class TimeJSONEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return iso(o)
        return super().default(o)


class ScheduleField(models.JSONField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["encoder"] = TimeJSONEncoder
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("encoder", None)
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decode_times(super().from_db_value(value, expression, connection))

    def to_python(self, value: Any) -> Any:
        return decode_times(super().to_python(value))


def decode_times(value: Any) -> Any:
    if isinstance(value, dict):
        for key in TIME_KEYS:
            if isinstance(value.get(key), str):
                try:
                    value[key] = datetime.fromisoformat(value[key].replace("Z", "+00:00"))
                except ValueError:
                    pass
    return value


class PlusMs(Func):
    """``datetime_expression + ms_expression`` milliseconds, in each database's own date arithmetic.

    Django's duration arithmetic does not take an integer column as the duration on SQLite and
    MariaDB; this is the one place the three dialects are spelled out.
    """

    output_field = DateTimeField()
    arity = 2

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:  # type: ignore[override]
        at, at_params = compiler.compile(self.source_expressions[0])
        ms, ms_params = compiler.compile(self.source_expressions[1])
        if connection.vendor == "postgresql":
            sql = f"({at} + ({ms}) * INTERVAL '1 millisecond')"
        elif connection.vendor == "mysql":
            sql = f"DATE_ADD({at}, INTERVAL ({ms}) * 1000 MICROSECOND)"
        else:  # SQLite keeps datetimes as ISO text, which sorts as time does
            sql = f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {at}, '+' || (({ms}) / 1000.0) || ' seconds')"
        return sql, (*at_params, *ms_params)
