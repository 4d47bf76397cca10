"""The sdist and the wheel, built for real: what users download holds the app and its data, never the tests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from routines import __version__

ROOT = Path(__file__).resolve().parents[2]
DIST = "django_durable_routines"
VERSION = __version__  # the metadata must carry the version the package reports

pytestmark = [
    pytest.mark.processes,
    pytest.mark.db_independent,  # builds files; no database involved
    pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs `build` (the test extra)"),
]

DATA_FILES = {
    "routines/py.typed",
    "routines/migrations/__init__.py",
    "routines/migrations/0001_initial.py",
    "routines/templates/admin/routines/job/change_form.html",
    "routines/templates/admin/routines/job/change_list.html",
    "routines/static/routines/admin.css",
    "routines/static/routines/editor.js",
    "routines/locale/fr/LC_MESSAGES/django.po",
    "routines/locale/fr/LC_MESSAGES/django.mo",
}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sdist and one wheel (built from that sdist, as pip would), in a temporary directory."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def wheel_names(dist: Path) -> set[str]:
    [wheel] = dist.glob(f"{DIST}-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def sdist_names(dist: Path) -> set[str]:
    [sdist] = dist.glob(f"{DIST}-*.tar.gz")
    with tarfile.open(sdist) as tf:
        return {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}


def test_the_wheel_ships_the_package_with_its_data(dist: Path) -> None:
    names = wheel_names(dist)
    assert DATA_FILES <= names
    assert "routines/api.py" in names
    assert {n.split("/")[0] for n in names} == {"routines", f"{DIST}-{VERSION}.dist-info"}
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_sdist_ships_the_package_license_and_changelog(dist: Path) -> None:
    names = sdist_names(dist)
    assert DATA_FILES <= names
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"} <= names


@pytest.mark.parametrize("names_of", [wheel_names, sdist_names])
def test_no_tests_examples_or_benchmarks_are_shipped(dist: Path, names_of: Callable[[Path], set[str]]) -> None:
    names = names_of(dist)
    leaked = {n for n in names if n.split("/")[0] in {"tests", "example_project", "bench", "docs", "scripts"}}
    assert leaked == set()
    assert not any("/test_" in n or n.startswith("test_") for n in names)


def test_the_metadata_names_the_distribution_and_requires_cronsim(dist: Path) -> None:
    [wheel] = dist.glob(f"{DIST}-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(f"{DIST}-{VERSION}.dist-info/METADATA").decode()
    assert "Name: django-durable-routines\n" in metadata
    assert "Requires-Dist: cronsim>=2.6\n" in metadata
    assert "Classifier: Framework :: Django :: 6.1\n" in metadata
    assert "Classifier: Programming Language :: Python :: 3.13\n" in metadata


@pytest.mark.skipif(importlib.util.find_spec("twine") is None, reason="needs `twine` (the test extra)")
def test_twine_check_strict_passes(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
