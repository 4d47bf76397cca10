"""Django's generic admin and form classes, parametrised for the type checker.

Django's classes can't be subscripted at run time without patching them, and its stubs make them
generic: the checker sees ``ModelAdmin[Any]`` where Python gets the plain class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[Any]
    ModelForm = forms.ModelForm[Any]
    TabularInline = admin.TabularInline[Any, Any]
else:
    ModelAdmin = admin.ModelAdmin
    ModelForm = forms.ModelForm
    TabularInline = admin.TabularInline

__all__ = ["ModelAdmin", "ModelForm", "TabularInline"]
