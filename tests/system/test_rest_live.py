"""schemathesis ``--checks all`` against a live server process: the schema matches behaviour.

The server is ``manage.py runserver`` on 127.0.0.1 over its own SQLite file (a separate process
cannot share the test transaction); schemathesis' command line logs in with HTTP Basic as a
staff user. tests/system/schemathesis.toml says which checks are narrowed, and why.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is not installed (the `test` extra)")

# The server has its own SQLite file whatever ROUTINES_TEST_DB says.
pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 4  # per operation and phase: the whole run stays well under a minute
SEED = 20261207


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def django(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": f"{tmp}:{ROOT}", "DJANGO_SETTINGS_MODULE": "live_settings", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def live_server_url(tmp_path: Path) -> Iterator[str]:
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}
    (tmp_path / "live_settings.py").write_text(
        f"from tests.settings import *  # noqa: F403\nDATABASES = {{'default': {database!r}}}\n"
    )
    assert django(tmp_path, "migrate", "-v0").returncode == 0
    make_staff = (
        "from django.contrib.auth.models import User; User.objects.create_user('st', password='pw', is_staff=True)"
    )
    assert django(tmp_path, "shell", "-c", make_staff).returncode == 0
    port = free_port()
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "DJANGO_SETTINGS_MODULE": "live_settings", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/routines/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=2)
            except urllib.error.HTTPError:
                break  # 403 without a login: the server answers
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_schemathesis_finds_no_violation(live_server_url: str, tmp_path: Path) -> None:
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis' st command is missing"
    command = [
        st, "--config-file", str(CONFIG), "run", live_server_url + "schema/?format=json",
        "--auth", "st:pw", "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--workers", "1", "--no-color",
    ]  # fmt: skip
    # In tmp_path: the command line keeps a .schemathesis cache in its working directory.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    summary = result.stdout[-3000:]
    print(summary)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) == 20, summary  # every operation was tested
