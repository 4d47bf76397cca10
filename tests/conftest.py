"""Shared fixtures."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def t0() -> datetime:
    """A fixed instant tests schedule around (explicit clocks keep them deterministic)."""
    return T0
