"""A JSON parser that refuses oversized bodies before reading them whole.

DRF's own parser reads any size and lets a deeply nested document raise RecursionError (a 500);
this one answers 413 beyond ``ROUTINES["MAX_PAYLOAD_BYTES"]`` and 400 for anything unparsable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from routines.conf import routines_settings

from .exceptions import PayloadTooLarge


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def check_content_length(meta: dict[str, Any]) -> None:
    limit = routines_settings.MAX_PAYLOAD_BYTES
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError("Content-Length is not a number") from None
    if length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = routines_settings.MAX_PAYLOAD_BYTES
        request = (parser_context or {}).get("request")
        if request is not None:
            check_content_length(request.META)
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
