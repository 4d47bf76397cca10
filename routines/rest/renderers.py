"""DRF's browsable API, fitted to an API that accepts JSON bodies only.

DRF's HTML forms post ``multipart/form-data``, which the routines views refuse (415), so only
the raw JSON form is offered; and rendering a page for a refused body must not read that body
again (DRF's renderer would raise the 415 a second time, a 500).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.views import APIView


class BrowsableRenderer(BrowsableAPIRenderer):
    def get_rendered_html_form(self, data: Any, view: APIView, method: str, request: Request) -> Any:
        if method not in ("DELETE", "OPTIONS"):
            return None  # the raw JSON form stands in for DRF's multipart form
        try:
            return super().get_rendered_html_form(data, view, method, request)
        except APIException:
            return None
