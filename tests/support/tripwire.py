"""A module that records its own import: proves that refused paths are never imported.

Tests remove it from ``sys.modules`` before use, so importing it again records again.
"""

from __future__ import annotations

from typing import Any

from tests.support import callables

callables.IMPORTED.append(__name__)


def fire(context: Any, **kwargs: Any) -> str:
    return "fired"
