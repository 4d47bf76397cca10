"""DRF's generic base classes, parametrised for the type checker.

DRF's classes can't be subscripted at run time, and its stubs make them generic: the checker sees
``Serializer[Any]`` where Python gets the plain class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import serializers

if TYPE_CHECKING:
    Field = serializers.Field[Any, Any, Any, Any]
    Serializer = serializers.Serializer[Any]
else:
    Field = serializers.Field
    Serializer = serializers.Serializer

__all__ = ["Field", "Serializer"]
