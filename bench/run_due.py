"""Throughput and idle cost of ``run_due``, on a throwaway database this script creates and drops.

    .venv/bin/python bench/run_due.py --jobs 10000 --db sqlite|postgres --processes 1|4
        [--idle 10000,100000,1000000 | --idle none] [--create-compare | --no-create-compare] [--json]
        [--groups K --group-limit L]

Workload (the same as bench/compare_django_q2.py gives django-q2): N ``once`` jobs already due,
target ``run`` (no body), full history (one Run row and one ``routine_run_completed`` event each).
``--processes`` real OS processes call ``api.run_due()`` against the same database, released
together; jobs/s is N over the time from release to the last one finishing. Queries per job are
every SQL statement the runners sent (transaction control included), over N. Peak RSS is the
largest ``ru_maxrss`` of a runner process. ``--groups K`` puts the jobs in K concurrency groups
(job i in group i mod K) that each allow ``--group-limit`` running at once.

Idle cost: tables of 10^4, 10^5, 10^6 jobs none of which is due (bulk INSERT … SELECT), with
the time (median of 5) and query count of ``next_due_at()``, ``list_due({"limit": 100})`` and an
empty ``run_due()``. On PostgreSQL the plans of the due query and of next_due_at are printed.

It prints numbers and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG = {"HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres", "PASSWORD": ""}
DUE_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def configure(db: str, name: str) -> None:
    """Minimal Django settings for the bench database (no test settings, no DEBUG query log)."""
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    if db == "sqlite":
        database = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    else:
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name, **PG}
    settings.configure(
        USE_TZ=True,
        TIME_ZONE="UTC",
        SECRET_KEY="bench",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "routines"],
        DATABASES={"default": database},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        LOGGING_CONFIG=None,
    )
    django.setup()


class Counter:
    """Counts every statement sent on the default connection."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Runner processes ------------------------------------------------------------------------------


def worker(db: str, name: str, go: str) -> None:
    configure(db, name)
    from django.db import connection

    from routines import api

    connection.ensure_connection()
    while not os.path.exists(go):
        time.sleep(0.001)
    counter = Counter()
    began = time.time()
    profile = os.environ.get("ROUTINES_BENCH_PROFILE")
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with connection.execute_wrapper(counter):
        executed = len(api.run_due())
    if profile:
        profiler.disable()
        profiler.dump_stats(f"{profile}.{os.getpid()}")
    ended = time.time()
    # Commits are not statements Django's wrapper sees; count one per transaction the runner ran.
    print(
        json.dumps(
            {"executed": executed, "queries": counter.count, "began": began, "ended": ended, "rss_mb": peak_rss_mb()}
        )
    )


def run_workers(db: str, name: str, processes: int) -> dict[str, Any]:
    go = Path(tempfile.mkdtemp()) / "go"
    cmd = [sys.executable, __file__, "--worker", "--db", db, "--name", name, "--go", str(go)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    time.sleep(1.5 + 0.5 * processes)  # let every process import Django and connect
    go.touch()
    reports = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"runner process failed:\n{err}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    seconds = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    executed = sum(r["executed"] for r in reports)
    return {
        "executed": executed,
        "seconds": seconds,
        "jobs_per_s": executed / seconds,
        "queries": sum(r["queries"] for r in reports),
        "queries_per_job": sum(r["queries"] for r in reports) / max(executed, 1),
        "rss_mb": max(r["rss_mb"] for r in reports),
    }


# Database --------------------------------------------------------------------------------------


def create_database(db: str) -> str:
    if db == "sqlite":
        return str(Path(tempfile.mkdtemp(prefix="routines-bench-")) / "bench.sqlite3")
    import psycopg

    name = f"bench_routines_{os.getpid()}"
    with psycopg.connect(host=PG["HOST"], port=PG["PORT"], user=PG["USER"], dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(db: str, name: str) -> None:
    if db == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
        Path(name).parent.rmdir()
        return
    from django.db import connections

    connections.close_all()
    import psycopg

    with psycopg.connect(host=PG["HOST"], port=PG["PORT"], user=PG["USER"], dbname="postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def due_inputs(n: int, prefix: str = "bench", groups: int = 0, limit: int = 1) -> list[dict[str, Any]]:
    inputs: list[dict[str, Any]] = [
        {"job_id": f"{prefix}-{i:07d}", "schedule": {"type": "once", "at": DUE_AT}, "target": {"type": "run"}}
        for i in range(n)
    ]
    if groups:
        for i, job_input in enumerate(inputs):
            job_input.update(concurrency_key=f"group-{i % groups}", concurrency_limit=limit)
    return inputs


def compare_create(n: int) -> dict[str, float]:
    """Seconds for N calls of ``create`` and for one ``create_many`` of N (tables emptied after)."""
    from routines import api

    api.clear()
    began = time.perf_counter()
    for job_input in due_inputs(n, "single"):
        api.create(job_input)
    single = time.perf_counter() - began
    api.clear()
    began = time.perf_counter()
    api.create_many(due_inputs(n, "many"))
    many = time.perf_counter() - began
    api.clear()
    return {"create": single, "create_many": many, "speedup": single / many}


# Idle cost -------------------------------------------------------------------------------------

INSERT_COLUMNS = (
    "job_id, schedule, target, payload, metadata, routing_policy, retry_policy, idempotency_key, state,"
    " schedule_type, target_type, attempt_count, next_run_at, version, created_at, updated_at, completed_at"
)


def fill_idle(db: str, start: int, stop: int) -> None:
    """Add jobs ``start``..``stop-1``, none due: half wait far in the future, half are completed."""
    from django.db import connection

    schedule = '{"type": "interval", "every_ms": 3600000, "start_at": "2999-01-01T00:00:00Z", "catch_up": false}'
    target = '{"type": "run", "scope": {}, "outcome": "completed"}'
    retry = '{"max_attempts": 1, "backoff_ms": 0}'
    with connection.cursor() as cursor:
        if db == "postgres":
            cursor.execute(
                f"INSERT INTO routines_job ({INSERT_COLUMNS}) SELECT"
                " 'idle-' || lpad(i::text, 8, '0'), %s::jsonb, %s::jsonb, NULL, '{}'::jsonb, '{}'::jsonb, %s::jsonb,"
                " 'routine:idle-' || lpad(i::text, 8, '0'),"
                " CASE WHEN (i & 1) = 0 THEN 'active' ELSE 'completed' END, 'interval', 'run', 0,"
                " CASE WHEN (i & 1) = 0 THEN timestamptz '2999-01-01' + (i || ' seconds')::interval END,"
                " 0, now(), now(), CASE WHEN (i & 1) = 1 THEN now() END"
                " FROM generate_series(%s, %s) AS i",
                [schedule, target, retry, start, stop - 1],
            )
            cursor.execute("ANALYZE routines_job")
        else:
            cursor.execute(
                f"WITH RECURSIVE s(i) AS (SELECT %s UNION ALL SELECT i + 1 FROM s WHERE i + 1 < %s)"
                f" INSERT INTO routines_job ({INSERT_COLUMNS}) SELECT"
                " 'idle-' || printf('%%08d', i), %s, %s, NULL, '{}', '{}', %s, 'routine:idle-' || printf('%%08d', i),"
                " CASE WHEN (i & 1) = 0 THEN 'active' ELSE 'completed' END, 'interval', 'run', 0,"
                " CASE WHEN (i & 1) = 0"
                " THEN strftime('%%Y-%%m-%%d %%H:%%M:%%f', '2999-01-01', '+' || i || ' seconds') END,"
                " 0, datetime('now'), datetime('now'), CASE WHEN (i & 1) = 1 THEN datetime('now') END FROM s",
                [start, stop, schedule, target, retry],
            )
            cursor.execute("ANALYZE")


def measure(fn: Any) -> tuple[float, int]:
    """Median milliseconds of 5 calls (after one warm-up) and the statements of one call."""
    from django.db import connection

    fn()
    times = []
    for _ in range(5):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    counter = Counter()
    with connection.execute_wrapper(counter):
        fn()
    return statistics.median(times), counter.count


def idle_table(db: str, sizes: list[int]) -> list[dict[str, Any]]:
    from routines import api
    from routines.models import Job

    api.clear()
    rows = []
    have = 0
    for size in sizes:
        began = time.perf_counter()
        fill_idle(db, have, size)
        have = size
        fill = time.perf_counter() - began
        assert Job.objects.count() == size
        row: dict[str, Any] = {"jobs": size, "fill_s": fill}
        for label, fn in (
            ("next_due_at", api.next_due_at),
            ("list_due", lambda: api.list_due({"limit": 100})),
            ("run_due", api.run_due),
        ):
            row[label] = measure(fn)
        rows.append(row)
    return rows


def explain() -> list[tuple[str, str]]:
    from django.utils import timezone as dj_timezone

    from routines import api
    from routines.models import Job
    from routines.states import CLAIM_FIELDS
    from routines.validation import DUE_STATES

    now = dj_timezone.now()
    claim = (
        Job.objects.filter(next_run_at__lte=now, state__in=DUE_STATES)
        .order_by("next_run_at", "job_id")
        .values(*CLAIM_FIELDS)[:100]
    )
    nxt = Job.objects.filter(state__in=DUE_STATES, next_run_at__isnull=False).order_by("next_run_at")[:1]
    return [
        ("run_due's claim query", claim.explain()),
        ("list_due", api.due_jobs({"limit": 100}).explain()),
        ("next_due_at", nxt.explain()),
    ]


# Main ------------------------------------------------------------------------------------------


def bench(args: argparse.Namespace) -> dict[str, Any]:
    name = create_database(args.db)
    configure(args.db, name)
    from django.core.management import call_command
    from django.db import connection

    from routines import api
    from routines.models import Event, Run

    out: dict[str, Any] = {"db": args.db, "jobs": args.jobs, "processes": args.processes, "groups": args.groups}
    try:
        call_command("migrate", verbosity=0, interactive=False)
        if args.db == "postgres":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                out["server"] = "PostgreSQL " + cursor.fetchone()[0]
        else:
            import sqlite3

            out["server"] = "SQLite " + sqlite3.sqlite_version
        if args.create_compare:
            out["create"] = compare_create(args.jobs)
        api.create_many(due_inputs(args.jobs, groups=args.groups, limit=args.group_limit))
        connection.close()
        out["run"] = run_workers(args.db, name, args.processes)
        out["history"] = {"runs": Run.objects.count(), "events": Event.objects.count()}
        if args.idle:
            out["idle"] = idle_table(args.db, args.idle)
            if args.db == "postgres":
                out["explain"] = explain()
    finally:
        drop_database(args.db, name)
    return out


def report(out: dict[str, Any]) -> None:
    run = out["run"]
    grouped = f" in {out['groups']} concurrency groups" if out.get("groups") else ""
    print(f"# run_due on {out['server']}, {out['processes']} process(es), {out['jobs']} due jobs{grouped}")
    print(f"# machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(
        f"jobs/s: {run['jobs_per_s']:.0f}  ({run['executed']} executed in {run['seconds']:.2f} s)\n"
        f"SQL queries per job: {run['queries_per_job']:.2f}  ({run['queries']} statements)\n"
        f"peak RSS per runner process: {run['rss_mb']:.0f} MB\n"
        f"history written: {out['history']['runs']} runs, {out['history']['events']} events"
    )
    if "create" in out:
        c = out["create"]
        print(
            f"create x {out['jobs']}: {c['create']:.2f} s; create_many: {c['create_many']:.2f} s"
            f" -> {c['speedup']:.1f}x faster"
        )
    if "idle" in out:
        print("\n# idle cost (none due): median ms of 5 / SQL queries per call")
        print(f"{'jobs':>9} | {'next_due_at()':>15} | {'list_due(limit=100)':>19} | {'empty run_due()':>15}")
        for row in out["idle"]:
            cells = [f"{row[k][0]:8.2f} ms / {row[k][1]}" for k in ("next_due_at", "list_due", "run_due")]
            print(f"{row['jobs']:>9} | {cells[0]:>15} | {cells[1]:>19} | {cells[2]:>15}")
        fills = ", ".join(f"{r['fill_s']:.1f} s" for r in out["idle"])
        print(f"(table fill times: {fills})")
    for label, plan in out.get("explain", []):
        print(f"\n# EXPLAIN {label}\n{plan}")
    print(f"\nbench driver peak RSS: {peak_rss_mb():.0f} MB")


def sizes(text: str) -> list[int]:
    return [] if text == "none" else [int(x) for x in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--idle", type=sizes, default=[10**4, 10**5, 10**6])
    parser.add_argument("--create-compare", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--groups", type=int, default=0, help="concurrency groups (0: none)")
    parser.add_argument("--group-limit", type=int, default=1, help="jobs of a group running at once")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--go", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.db, args.name, args.go)
        return
    out = bench(args)
    if args.json:
        print(json.dumps(out, default=str))
    else:
        report(out)


if __name__ == "__main__":
    main()
