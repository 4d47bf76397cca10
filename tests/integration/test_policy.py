"""routines.policy: the POLICY hook vetoes creates and updates (SPEC §10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from routines import api, signals
from routines.exceptions import InvalidInput, PolicyDenied
from routines.models import Event
from tests.support import policies
from tests.support.jobs import T0, events, make, once, snapshot

pytestmark = pytest.mark.django_db

CALLABLE = {"type": "callable", "path": "tests.support.callables.record"}


@pytest.fixture
def policy(settings: Any) -> Iterator[Any]:
    """Install ``tests.support.policies.<name>``: ``policy("no_callables")``."""

    def install(name: str) -> None:
        settings.ROUTINES = {**settings.ROUTINES, "POLICY": f"tests.support.policies.{name}"}

    policies.CALLS.clear()
    yield install
    policies.CALLS.clear()


def test_without_a_policy_everything_is_allowed() -> None:
    assert make("job", once(), CALLABLE).target_type == "callable"


def test_create_asks_the_policy_with_the_normalised_job(policy: Any) -> None:
    policy("no_callables")
    job = api.create({"schedule": once(), "target": {"type": "run"}, "payload": {"n": 1}, "metadata": {"team": "a"}})
    ((action, context),) = policies.CALLS
    assert action == "create"
    assert context == {
        "job_id": job.job_id,
        "schedule": {"type": "once", "at": T0},
        "target": job.target,
        "payload": {"n": 1},
        "metadata": {"team": "a"},
    }


def test_a_denied_create_raises_and_writes_only_the_denial_event(policy: Any) -> None:
    policy("no_callables")
    jobs, runs, count = snapshot()
    with pytest.raises(PolicyDenied) as exc:
        make("job", once(), CALLABLE)
    assert exc.value.reason == "callable targets are not allowed here"
    assert (exc.value.code, exc.value.field) == ("policy_denied", None)
    assert snapshot()[:2] == (jobs, runs)
    assert Event.objects.count() == count + 1
    assert events("job") == ["routine_policy_denied"]
    denial = Event.objects.get(job_id="job")
    assert denial.payload == {"action": "create", "reason": "callable targets are not allowed here"}
    assert denial.run_id is None


def test_the_denial_is_announced_as_a_signal(policy: Any) -> None:
    policy("no_callables")
    seen: list[str] = []

    def receiver(sender: Any, event: Event, **kwargs: Any) -> None:
        seen.append(event.event_type)

    signals.event_recorded.connect(receiver)
    try:
        with pytest.raises(PolicyDenied):
            make("job", once(), CALLABLE)
    finally:
        signals.event_recorded.disconnect(receiver)
    assert seen == ["routine_policy_denied"]


def test_invalid_input_is_refused_before_the_policy_is_asked(policy: Any) -> None:
    policy("no_callables")
    with pytest.raises(InvalidInput):
        api.create({"schedule": once(), "target": {"type": "run", "oops": 1}})
    assert policies.CALLS == []
    assert not Event.objects.exists()


def test_an_existing_idempotency_key_returns_the_job_without_asking(policy: Any) -> None:
    make("job", once(), idempotency_key="k")
    policy("no_callables")
    assert api.create({"schedule": once(), "target": CALLABLE, "idempotency_key": "k"}).job_id == "job"
    assert policies.CALLS == []


def test_update_asks_the_policy_with_the_job_as_it_would_be(policy: Any) -> None:
    make("job", once(), payload={"n": 1}, metadata={"team": "a"})
    policy("no_callables")
    api.update("job", {"payload": {"n": 2}})
    ((action, context),) = policies.CALLS
    assert action == "update"
    assert context == {
        "job_id": "job",
        "schedule": {"type": "once", "at": T0},
        "target": api.get("job").target,
        "payload": {"n": 2},
        "metadata": {"team": "a"},
    }


def test_a_denied_update_changes_nothing(policy: Any) -> None:
    make("job", once(), payload={"n": 1})
    policy("no_callables")
    jobs, runs, count = snapshot()
    with pytest.raises(PolicyDenied) as exc:
        api.update("job", {"payload": "forbidden"})
    assert exc.value.reason == "forbidden payload"
    assert snapshot()[:2] == (jobs, runs)
    assert Event.objects.count() == count + 1
    assert events("job")[-1] == "routine_policy_denied"
    assert Event.objects.filter(job_id="job").last().payload == {"action": "update", "reason": "forbidden payload"}


def test_pause_and_resume_are_updates_the_policy_sees(policy: Any) -> None:
    make("job", once())
    policy("no_callables")
    api.update("job", {"state": "paused"})
    api.update("job", {"state": "paused"})  # a no-op writes nothing, so nothing to ask
    api.update("job", {"state": "active"})
    assert [action for action, _ in policies.CALLS] == ["update", "update"]


@pytest.mark.parametrize(("name", "reason"), [("broken", "policy error (KeyError)"), ("returns_bool", "policy error")])
def test_a_broken_policy_fails_closed(policy: Any, name: str, reason: str) -> None:
    policy(name)
    with pytest.raises(PolicyDenied) as exc:
        make("job", once())
    assert exc.value.reason.startswith(reason)
    assert not api.list()
    assert events("job") == ["routine_policy_denied"]


def test_a_policy_that_does_not_import_fails_closed(settings: Any) -> None:
    settings.ROUTINES = {**settings.ROUTINES, "POLICY": "tests.no_such_module.policy"}
    with pytest.raises(PolicyDenied):
        make("job", once())
    assert not api.list()
