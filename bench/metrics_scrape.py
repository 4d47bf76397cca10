"""The cost of one metrics scrape as the job table grows (a fresh database per size).

    .venv/bin/python bench/metrics_scrape.py [--db sqlite,postgres] [--sizes 10000,100000,1000000]

Each size holds the jobs a long-running project has: 90% finished (completed once-jobs), the rest
live (active), half of those due and late (an hour overdue): at 10^6, 100,000 live and 50,000
late. PostgreSQL is vacuumed first, as autovacuum would have. It prints the queries and the
median time of five scrapes of RoutinesCollector, and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def child(db: str, size: int) -> None:
    sys.path.insert(0, ROOT)
    import django
    from django.conf import settings

    if db == "sqlite":
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(tempfile.mkdtemp(), "m.sqlite3")}
    else:
        import psycopg

        name = f"bench_metrics_{os.getpid()}"
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": "127.0.0.1", "USER": "postgres"}
    settings.configure(
        USE_TZ=True,
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "routines"],
        DATABASES={"default": database},
        LOGGING_CONFIG=None,
    )
    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from prometheus_client import CollectorRegistry, generate_latest

    from routines import api
    from routines.metrics import RoutinesCollector
    from routines.models import Job

    call_command("migrate", verbosity=0)
    now = timezone.now()
    chunk = 10_000
    for start in range(0, size, chunk):
        inputs = []
        for i in range(start, min(size, start + chunk)):
            at = now - timedelta(hours=1) if i % 20 == 0 else now + timedelta(hours=1)
            inputs.append({"job_id": f"j{i}", "schedule": {"type": "once", "at": at}, "target": {"type": "run"}})
        api.create_many(inputs)
    # Every tenth job stays live, and every other live one is due (an hour late): 5% of the table.
    finished = [f"j{i}" for i in range(size) if i % 10 != 0]
    for start in range(0, len(finished), chunk):
        Job.objects.filter(job_id__in=finished[start : start + chunk]).update(state="completed", next_run_at=None)
    if db == "postgres":
        # What autovacuum does to a table that has lived a while: the bulk update above left a dead
        # tuple per finished job, which a real table would not keep, and index-only scans need the
        # visibility map VACUUM sets.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RoutinesCollector())
    generate_latest(registry)
    times = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            began = time.perf_counter()
            generate_latest(registry)
            times.append(time.perf_counter() - began)
    print(f"| {db} | {size:,} | {len(queries)} | {statistics.median(times) * 1000:.1f} |", flush=True)
    if os.environ.get("BENCH_SHOW_QUERIES"):
        for q in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:4]:
            print("   ", q["time"], q["sql"][:200], flush=True)
    if db == "postgres":
        connection.close()
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    print("| database | jobs (90% finished) | queries per scrape | scrape, ms (median of 5) |")
    print("|---|---:|---:|---:|")
    for db in args.db.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            subprocess.run([sys.executable, __file__, "--child", db, str(size)], check=True)


if __name__ == "__main__":
    main()
