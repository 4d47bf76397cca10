"""A Swagger UI page for the routines schema (the example project's; no extra app needed).

The page loads Swagger UI from a CDN and points it at the schema the app serves at
``api/routines/schema/``; log in through /admin/ first, the API is staff-only.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>routines API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>
const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
SwaggerUIBundle({url: "%s", dom_id: "#ui",
  requestInterceptor: (r) => { if (csrf) r.headers["X-CSRFToken"] = csrf; return r; }});
</script></body></html>"""


def swagger_ui(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE % (reverse("routines:schema") + "?format=json"))
