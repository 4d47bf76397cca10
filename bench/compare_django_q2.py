"""Our ``run_due`` against django-q2's scheduler on the same workload, side by side.

    .venv/bin/python bench/compare_django_q2.py [--jobs 10000] [--repeat 3] [--db sqlite,postgres]
        [--idle 10000,100000,1000000 | --idle none]

django-q2 goes into its own virtualenv under ~/.cache/routines-bench/dq2-venv (or
$ROUTINES_BENCH_CACHE), created and filled with pip on first use; nothing of it is committed or
imported here. The workload on both sides: N schedules/jobs already due, a no-op body, history
written. django-q2: N ``Schedule`` rows (type ONCE, one repeat) calling a no-op function, one
``scheduler()`` pass with ``sync: True`` (the task runs inline and its ``Task`` row is saved,
``save_limit: 0`` keeps all), on a fresh database. Ours: bench/run_due.py with 1 and 4 processes
(its first run on each database also times N calls of ``create`` against one ``create_many``).
Each figure is the median of ``--repeat`` runs; queries per job count every statement sent.
It prints numbers and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("ROUTINES_BENCH_CACHE", Path.home() / ".cache" / "routines-bench"))
VENV = CACHE / "dq2-venv"
REQUIREMENTS = ["django-q2", "Django>=5.2,<6", "psycopg[binary]"]

DQ2_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys, tempfile, time
    from datetime import timedelta

    db, jobs = sys.argv[1], int(sys.argv[2])
    sys.path.insert(0, os.path.dirname(__file__))
    import django
    from django.conf import settings

    if db == "sqlite":
        name = os.path.join(tempfile.mkdtemp(), "dq2.sqlite3")
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": name,
                    "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20,
                                "init_command": "PRAGMA journal_mode=WAL;"}}
    else:
        import psycopg
        name = f"bench_dq2_{os.getpid()}"
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": "127.0.0.1",
                    "USER": "postgres"}
    settings.configure(
        USE_TZ=True, TIME_ZONE="UTC", SECRET_KEY="bench", DATABASES={"default": database},
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_q"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField", LOGGING_CONFIG=None,
        Q_CLUSTER={"name": "bench", "orm": "default", "sync": True, "save_limit": 0, "catch_up": False},
    )
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_q.models import Schedule, Success, Task
    from django_q.scheduler import scheduler

    try:
        call_command("migrate", verbosity=0)
        due = timezone.now() - timedelta(hours=1)
        Schedule.objects.bulk_create(
            [Schedule(name=f"s{i}", func="dq2_noop.noop", schedule_type=Schedule.ONCE, repeats=1, next_run=due)
             for i in range(jobs)], batch_size=500)
        count = 0
        def counter(execute, sql, params, many, context):
            global count
            count += 1
            return execute(sql, params, many, context)
        began = time.perf_counter()
        with connection.execute_wrapper(counter):
            while Schedule.objects.exclude(repeats=0).filter(next_run__lt=timezone.now()).exists():
                scheduler()
        seconds = time.perf_counter() - began
        print(json.dumps({"executed": Task.objects.count(), "succeeded": Success.objects.count(),
                          "seconds": seconds, "jobs_per_s": jobs / seconds, "queries": count,
                          "queries_per_job": count / jobs,
                          "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    finally:
        connection.close()
        if db == "postgres":
            with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    """
)


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import django_q, psycopg"], capture_output=True)
    if probe.returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return python


def run_dq2(python: Path, db: str, jobs: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="dq2-bench-"))
    (work / "dq2_noop.py").write_text("def noop():\n    return None\n")
    (work / "bench_dq2.py").write_text(DQ2_SCRIPT)
    proc = subprocess.run([str(python), str(work / "bench_dq2.py"), db, str(jobs)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"django-q2 run failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["executed"] != jobs:
        raise SystemExit(f"django-q2 ran {out['executed']} tasks for {jobs} schedules")
    return out


def run_ours(db: str, jobs: int, processes: int, idle: str = "none", create: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "run_due.py"), "--jobs", str(jobs), "--db", db]
    cmd += ["--processes", str(processes), "--idle", idle, "--json"]
    cmd += ["--create-compare" if create else "--no-create-compare"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"run_due bench failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["jobs_per_s"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--idle", default="10000,100000,1000000")
    args = parser.parse_args()
    python = ensure_venv()
    version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('django-q2'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"# {args.jobs} due jobs, median of {args.repeat}; {os.cpu_count()} CPUs; django-q2 {version}", flush=True)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    first_runs: dict[str, Any] = {}
    for db in args.db.split(","):
        theirs = median_run([run_dq2(python, db, args.jobs) for _ in range(args.repeat)])
        rows.append((db, "django-q2 (sync, history)", theirs))
        for processes in (1, 4):
            runs = []
            for i in range(args.repeat):
                first = processes == 1 and i == 0  # also times create against create_many, once per database
                want_idle = first and args.idle != "none"
                out = run_ours(db, args.jobs, processes, args.idle if want_idle else "none", create=first)
                if first:
                    first_runs[db] = out
                runs.append(out["run"])
            rows.append((db, f"routines, {processes} process{'es' if processes > 1 else ''}", median_run(runs)))
    print_table(rows)
    print(f"\n# load average at the end: {os.getloadavg()[0]:.1f} (other work on this machine adds noise)")
    for out in first_runs.values():
        c = out["create"]
        print(
            f"\n# {out['server']}: create x {args.jobs}: {c['create']:.2f} s; create_many: {c['create_many']:.2f} s"
            f" -> {c['speedup']:.1f}x faster"
        )
        if "idle" not in out:
            continue
        print(f"\n# idle cost on {out['server']} (none due): median ms of 5 / SQL queries per call")
        print(f"{'jobs':>9} | {'next_due_at()':>15} | {'list_due(limit=100)':>19} | {'empty run_due()':>15}")
        for row in out["idle"]:
            cells = [f"{row[k][0]:8.2f} ms / {row[k][1]}" for k in ("next_due_at", "list_due", "run_due")]
            print(f"{row['jobs']:>9} | {cells[0]:>15} | {cells[1]:>19} | {cells[2]:>15}")
        for label, plan in out.get("explain", []):
            print(f"\n# EXPLAIN {label}\n{plan}")


def print_table(rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    print("\n| DB | runner | jobs/s | SQL queries/job | peak RSS MB | vs django-q2 |\n|---|---|---:|---:|---:|---:|")
    base: dict[str, float] = {}
    for db, label, r in rows:
        base.setdefault(db, r["jobs_per_s"])
        ratio = r["jobs_per_s"] / base[db]
        print(
            f"| {db} | {label} | {r['jobs_per_s']:.0f} | {r['queries_per_job']:.2f} | {r['rss_mb']:.0f}"
            f" | {ratio:.1f}x |",
            flush=True,
        )
    by = {(db, label): r["jobs_per_s"] for db, label, r in rows}
    if ("postgres", "routines, 4 processes") in by:
        speedup = by[("postgres", "routines, 4 processes")] / by[("postgres", "routines, 1 process")]
        print(f"PostgreSQL: 4 processes / 1 process = {speedup:.2f}x")


if __name__ == "__main__":
    main()
