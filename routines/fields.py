"""A JSON field whose datetimes survive the round trip as aware datetimes.

Schedules hold times (``at``, ``start_at``); the API gives them as datetimes on the instance,
while the column stores ISO 8601 strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import models

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
