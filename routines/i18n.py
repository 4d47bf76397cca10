"""Translation for the pure core, which imports no Django.

``validation``, ``filters``, ``schedules`` and the other pure modules mark their messages with
``_()`` (this module's ``gettext``) so ``makemessages`` collects them. ``RoutinesConfig.ready``
installs Django's ``gettext`` here, after which they come out in the active language; until then
(the pure core used on its own, its unit tests) they stay English. Messages use named
``%(placeholder)s`` arguments so a translation may reorder them.
"""

from __future__ import annotations

from collections.abc import Callable

_translate: Callable[[str], str] = str


def install(translate: Callable[[str], str]) -> None:
    """Route the pure core's messages through ``translate`` (Django's ``gettext``)."""
    global _translate
    _translate = translate


def gettext(message: str) -> str:
    return _translate(message)
