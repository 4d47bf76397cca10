"""routines.checks: bad ROUTINES settings are reported as system checks (SPEC §1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks

from routines import targets
from routines.checks import check_settings


def ids(settings: Any) -> list[str]:
    return [error.id for error in check_settings()]


def test_the_test_settings_pass(settings: Any) -> None:
    assert check_settings() == []


def test_no_routines_setting_at_all_passes(settings: Any) -> None:
    del settings.ROUTINES
    assert check_settings() == []


@pytest.mark.parametrize("value", [[], "CLAIM_TTL_MS=5", None, 5])
def test_routines_that_is_not_a_dict_is_e001(settings: Any, value: object) -> None:
    settings.ROUTINES = value
    assert ids(settings) == ["routines.E001"]


def test_an_unknown_key_is_e002_and_names_it(settings: Any) -> None:
    settings.ROUTINES = {"CLAIM_TTL": 5}
    [error] = check_settings()
    assert error.id == "routines.E002"
    assert "CLAIM_TTL" in error.msg


@pytest.mark.parametrize(
    "routines",
    [
        {"CLAIM_TTL_MS": "60000"},
        {"CLAIM_TTL_MS": 1.5},
        {"CLAIM_TTL_MS": True},
        {"CLAIM_TTL_MS": 0},
        {"BATCH_SIZE": -1},
        {"USE_DB_CLOCK": "yes"},
        {"SQLITE_LOCK_RETRY_SECONDS": "30"},
        {"SQLITE_LOCK_RETRY_SECONDS": -1},
        {"LOOP_MAX_WAIT_SECONDS": -1},
        {"LOOP_MAX_WAIT_SECONDS": 0},
        {"LOOP_MAX_WAIT_SECONDS": float("nan")},
        {"LOOP_MAX_WAIT_SECONDS": float("inf")},
        {"LOOP_MAX_WAIT_SECONDS": 86_401},
        {"OPENAI_TIMEOUT_SECONDS": 0},
        {"PRUNE_KEEP_LAST": -1},
        {"PRUNE_RUNS_OLDER_THAN": "30x"},
        {"PRUNE_EVENTS_OLDER_THAN": "forever"},
        {"TARGETS": ["run"]},
        {"TARGETS": {"x": 5}},
        {"TARGETS": {"": "tests.support.targets.SleepExecutor"}},
        {"CALLABLE_ALLOWLIST": "app.*"},
        {"CALLABLE_ALLOWLIST": ["app.*", 5]},
        {"API_PERMISSION_CLASSES": "rest_framework.permissions.AllowAny"},
        {"POLICY": 5},
    ],
)
def test_a_wrong_type_or_value_is_e003(settings: Any, routines: dict[str, Any]) -> None:
    settings.ROUTINES = routines
    assert ids(settings) == ["routines.E003"]


@pytest.mark.parametrize(
    "routines",
    [
        {"SESSION_BACKEND": "no.such.Backend"},
        {"POLICY": "tests.nowhere.policy"},
        {"TARGETS": {"x": "tests.support.targets.Missing"}},
        {"SESSION_BACKEND": "tests.support.broken_module.Backend"},
        {"TARGETS": {"x": "tests.support.broken_module.Executor"}},
        {"API_PERMISSION_CLASSES": ["rest_framework.permissions.Nope"]},
    ],
)
def test_an_import_string_that_does_not_import_is_e004(settings: Any, routines: dict[str, Any]) -> None:
    settings.ROUTINES = routines
    assert ids(settings) == ["routines.E004"]


def test_a_module_that_raises_on_import_is_e004_saying_what_it_raised(settings: Any) -> None:
    settings.ROUTINES = {"POLICY": "tests.support.broken_module.policy"}
    [error] = check_settings()
    assert error.id == "routines.E004" and "RuntimeError: this module is broken on purpose" in error.msg


def test_a_broken_target_module_does_not_stop_the_others_loading(settings: Any) -> None:
    settings.ROUTINES = {
        "TARGETS": {"broken": "tests.support.broken_module.Executor", "later": "tests.support.targets.SleepExecutor"}
    }
    try:
        targets.load_configured()
        assert "later" in targets.types() and "broken" not in targets.types()
    finally:
        targets.unregister("later")


def test_a_batch_size_over_the_cap_is_w001(settings: Any) -> None:
    settings.ROUTINES = {"BATCH_SIZE": 5000}
    assert ids(settings) == ["routines.W001"]
    settings.ROUTINES = {"BATCH_SIZE": 1000}
    assert ids(settings) == []


def test_edges_of_the_ranges_pass(settings: Any) -> None:
    settings.ROUTINES = {
        "LOOP_MAX_WAIT_SECONDS": 86_400,
        "SQLITE_LOCK_RETRY_SECONDS": 0,
        "PRUNE_KEEP_LAST": 0,
        "PRUNE_RUNS_OLDER_THAN": "12h",
        "OPENAI_TIMEOUT_SECONDS": 0.5,
    }
    assert ids(settings) == []


def test_use_tz_false_is_e005(settings: Any) -> None:
    settings.USE_TZ = False
    assert ids(settings) == ["routines.E005"]


def test_every_problem_is_reported_at_once(settings: Any) -> None:
    settings.ROUTINES = {"NOPE": 1, "BATCH_SIZE": "x", "POLICY": "no.such.policy"}
    assert sorted(ids(settings)) == ["routines.E002", "routines.E003", "routines.E004"]


@pytest.mark.django_db  # Django 6.1's JSONField check asks the database whether it supports JSON
def test_the_check_is_registered_with_django(settings: Any) -> None:
    settings.ROUTINES = {"NOPE": 1}
    assert "routines.E002" in [e.id for e in checks.run_checks()]
