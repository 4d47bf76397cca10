"""Queries and time of the admin job list at a small and a large number of jobs (fresh SQLite file).

    .venv/bin/python bench/admin_changelist.py [SMALL] [LARGE]     (defaults 10 and 1000)

The query count should be the same at both sizes: the last run's outcome comes from one
annotated Subquery, not one query per row.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import django
from django.conf import settings

db = os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
settings.configure(
    USE_TZ=True,
    SECRET_KEY="bench",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF="tests.urls",
    STATIC_URL="/static/",
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
        "routines",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db}},
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    LOGGING_CONFIG=None,
)
django.setup()

from datetime import datetime, timezone  # noqa: E402

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from routines import api  # noqa: E402

T0 = datetime(2000, 1, 1, tzinfo=timezone.utc)
URL = "/admin/routines/job/"


def add_jobs(first: int, count: int) -> None:
    for i in range(first, first + count):
        target = {"type": "run"} if i % 2 else {"type": "run", "outcome": "failed"}
        api.create(
            {
                "job_id": f"job-{i:05d}",
                "schedule": {"type": "interval", "every_ms": 60_000, "start_at": T0},
                "target": target,
            }
        )
    api.run_due({"now": T0})  # every job gets a last run, half of them failed


def measure(client: Client, label: str) -> None:
    for params in ({}, {"state__exact": "active"}, {"q": "job-0"}):
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, params)
        ms = (time.perf_counter() - start) * 1000
        assert response.status_code == 200
        print(
            f"{label:>6} jobs  {URL}?{'&'.join(f'{k}={v}' for k, v in params.items()):<20} "
            f"{len(queries):>2} queries  {ms:6.1f} ms"
        )


def main(small: int, large: int) -> None:
    logging.getLogger("routines").setLevel(logging.ERROR)  # the failed demo runs are on purpose
    call_command("migrate", verbosity=0)
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    add_jobs(0, small)
    client.get(URL)  # warm caches (content types, templates)
    measure(client, str(small))
    add_jobs(small, large - small)
    measure(client, str(large))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
