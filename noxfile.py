"""The Django/Python test matrix: ``nox -s django5.2`` (Python 3.11), ``nox -s django5.2-py3.10``
(the oldest Python the project supports) and ``nox -s django6`` (3.12).

The databases come from ROUTINES_NOX_DBS (comma-separated ``sqlite,postgres,mysql``; default
``sqlite``), named as in CONTRIBUTING.md's Testing section. Arguments after ``--`` go to pytest. The
everyday ``bash scripts/test.sh`` stays on the project's own .venv; .ci/run calls these sessions.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["django5.2", "django6"]

DBS = ("sqlite", "postgres", "mysql")
UNIT = "tests/unit"
ROOT = Path(__file__).parent


def install(session: nox.Session, extras: str, django: str) -> None:
    """Install the project (editable) and Django, unless this reused virtualenv has them already.

    As scripts/venv.sh does for .venv: a stamp names the extras, the Django range and pyproject.toml's
    checksum, so a changed dependency reinstalls; the code itself is editable and needs no reinstall.
    Resolving and building the editable wheel again costs the session tens of seconds otherwise.
    """
    digest = hashlib.sha256(f"{extras}|{django}|".encode() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()
    location = getattr(session.virtualenv, "location", None)
    stamp = Path(location, f".installed-{digest[:16]}") if location else None
    if stamp is not None and stamp.exists():
        session.log(f"{extras} and {django} are installed already ({stamp.name})")
        return
    session.install("--quiet", "-e", f".[{extras}]", django)
    if stamp is not None:
        for old in stamp.parent.glob(".installed-*"):
            old.unlink()
        stamp.touch()


def run_suite(session: nox.Session, django: str) -> None:
    dbs = [db.strip() for db in os.environ.get("ROUTINES_NOX_DBS", "sqlite").split(",") if db.strip()]
    unknown = sorted(set(dbs) - set(DBS))
    if unknown:
        session.error(f"ROUTINES_NOX_DBS: unknown database {', '.join(unknown)} (use {', '.join(DBS)})")
    extras = "test,postgres" + (",mysql" if "mysql" in dbs else "")
    install(session, extras, django)
    session.run("python", "-c", "import django, sys; print('Django', django.get_version(), 'on Python', sys.version)")
    failed = []
    for i, db in enumerate(dbs):
        args = list(session.posargs)
        if i and UNIT in args and len(args) > 1:
            args.remove(UNIT)  # the unit tests use no database: once is enough
        try:
            session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, env={"ROUTINES_TEST_DB": db})
        except nox.command.CommandFailed:
            failed.append(db)
    if failed:
        session.error(f"the suite failed on {', '.join(failed)}")


@nox.session(name="django5.2", python="3.11")
def django52(session: nox.Session) -> None:
    run_suite(session, "Django>=5.2,<5.3")


@nox.session(name="django5.2-py3.10", python="3.10")
def django52_py310(session: nox.Session) -> None:
    run_suite(session, "Django>=5.2,<5.3")


@nox.session(name="django6", python="3.12")
def django6(session: nox.Session) -> None:
    run_suite(session, "Django>=6.0,<7")
