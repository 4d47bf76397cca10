"""Invalid input writes nothing: the database side of tests/unit/test_validation.py."""

from __future__ import annotations

import pytest

from routines.exceptions import InvalidInput
from tests.unit.test_validation import BAD_VALUES, ONCE, RUN, UNKNOWN_KEYS, job

# Nothing is written ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_invalid_input_writes_anything() -> None:
    from routines import api
    from routines.models import Event, Job, Run

    api.create({"job_id": "keep", "schedule": ONCE, "target": RUN})
    before = Event.objects.count()
    for field, value in BAD_VALUES:
        with pytest.raises(InvalidInput):
            api.create(job(**{field: value}))
        if field != "job_id":
            with pytest.raises(InvalidInput):
                api.update("keep", {field: value})
    for raw, _, _ in UNKNOWN_KEYS:
        with pytest.raises(InvalidInput):
            api.create(raw)
    assert list(Job.objects.values_list("job_id", flat=True)) == ["keep"]
    assert Event.objects.count() == before
    assert not Run.objects.exists()
    assert api.get("keep").version == 0
