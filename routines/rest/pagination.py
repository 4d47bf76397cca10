"""``limit``/``offset`` pages whose bad values are refused, not silently replaced by defaults.

DRF's own ``LimitOffsetPagination`` falls back to the default for a limit it can't read and
clamps one that is too big, so a client asking for ``limit=5000`` would never learn it got 1000.
Here any value out of bounds is a 400 ``invalid_filter`` naming the parameter.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from routines.exceptions import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DUE_DEFAULT_LIMIT = 100
# Offsets beyond this would overflow the databases' 64-bit OFFSET; nothing lies there anyway.
MAX_OFFSET = 10**15
_DIGITS = re.compile(r"[0-9]{1,20}")


def bounded_int(request: Request, name: str, default: int, lowest: int, highest: int) -> int:
    """The query parameter ``name`` as an int within [lowest, highest]; absent: ``default``."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not lowest <= value <= highest:
        raise InvalidInput(f"{name} must be an integer from {lowest} to {highest}", code="invalid_filter", field=name)
    return value


def limit_parameter(default: int) -> dict[str, Any]:
    """The OpenAPI description of a ``limit`` with its real bounds."""
    return {
        "name": "limit",
        "required": False,
        "in": "query",
        "description": f"Number of results to return (1 to {MAX_LIMIT}, default {default}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": default},
    }


class Pagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return bounded_int(request, self.limit_query_param, DEFAULT_LIMIT, 1, MAX_LIMIT)

    def get_offset(self, request: Request) -> int:
        return bounded_int(request, self.offset_query_param, 0, 0, MAX_OFFSET)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            limit_parameter(DEFAULT_LIMIT),
            {
                "name": "offset",
                "required": False,
                "in": "query",
                "description": "The initial index from which to return the results.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
            },
        ]
