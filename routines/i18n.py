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


def _english_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


_translate_plural: Callable[[str, str, int], str] = _english_plural


def install(translate: Callable[[str], str], translate_plural: Callable[[str, str, int], str] | None = None) -> None:
    """Route the pure core's messages through ``translate`` and ``translate_plural`` (Django's
    ``gettext`` and ``ngettext``)."""
    global _translate, _translate_plural
    _translate = translate
    if translate_plural is not None:
        _translate_plural = translate_plural


def gettext(message: str) -> str:
    return _translate(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for a count ``n``: languages differ in how many forms they have."""
    return _translate_plural(singular, plural, n)
