"""Translations: the French catalogue is complete, compiled, and used by the admin and the API errors."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

import routines
from routines import api, schedules
from routines.admin import display
from routines.exceptions import InvalidInput
from routines.models import Job

LOCALE = Path(routines.__file__).parent / "locale"
PO = LOCALE / "fr" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "fr" / "LC_MESSAGES" / "django.mo"


def _entries(text: str) -> list[tuple[str, list[str], bool]]:
    """(msgid, msgstrs, fuzzy) for each entry after the header, string continuations joined.

    A msgid with a context is given as the compiled catalogue keys it: context, EOT, msgid.
    """
    out = []
    for block in text.strip().split("\n\n")[1:]:
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if m:
                key = m.group(1)
                fields[key] = m.group(2)
            elif line.startswith('"') and key is not None:
                fields[key] += line[1:-1]
        msgstrs = [v for k, v in fields.items() if k.startswith("msgstr")]
        msgid = fields["msgid"] if "msgctxt" not in fields else f"{fields['msgctxt']}\x04{fields['msgid']}"
        out.append((msgid, msgstrs, "#, fuzzy" in block))
    return out


def test_the_french_catalogue_has_no_untranslated_or_fuzzy_entry() -> None:
    entries = _entries(PO.read_text(encoding="utf-8"))
    assert len(entries) > 300
    assert [msgid for msgid, _, fuzzy in entries if fuzzy] == []
    assert [msgid for msgid, msgstrs, _ in entries if not all(msgstrs)] == []


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs gettext's msgfmt")
def test_msgfmt_checks_the_catalogue_placeholders_and_all() -> None:
    done = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "untranslated" not in done.stderr and "fuzzy" not in done.stderr


def lookup(catalogue: gettext.GNUTranslations, msgid: str, plural: bool) -> str:
    """A plural entry is found by ngettext only before Python 3.11, so look it up as one."""
    return catalogue.ngettext(msgid, msgid, 1) if plural else catalogue.gettext(msgid)


def test_the_compiled_catalogue_matches_the_po() -> None:
    """The committed .mo holds every message of the .po: nobody forgot compilemessages."""
    with MO.open("rb") as f:
        catalogue = gettext.GNUTranslations(f)
    missing = [
        msgid
        for msgid, msgstrs, _ in _entries(PO.read_text(encoding="utf-8"))
        if msgid
        and lookup(catalogue, msgid.replace('\\"', '"').replace("\\\\", "\\"), len(msgstrs) > 1)
        != msgstrs[0].replace('\\"', '"')
    ]
    assert missing == []


@pytest.mark.django_db
def test_a_validation_error_comes_out_in_french() -> None:
    with translation.override("fr"):
        with pytest.raises(InvalidInput) as info:
            api.create({"schedule": {"type": "interval", "every_ms": 60_000}, "target": {"type": "run"}, "max_runs": 0})
    assert str(info.value) == "max_runs doit être null ou un entier de 1 à 2147483647"
    assert (info.value.code, info.value.field) == ("invalid_job", "max_runs")


@pytest.mark.django_db
def test_the_same_validation_error_stays_english_by_default() -> None:
    with pytest.raises(InvalidInput) as info:
        api.create({"schedule": {"type": "interval", "every_ms": 60_000}, "target": {"type": "run"}, "max_runs": 0})
    assert str(info.value) == "max_runs must be null or an integer from 1 to 2147483647"


def test_model_names_are_translated() -> None:
    with translation.override("fr"):
        assert str(Job._meta.verbose_name_plural) == "tâches"
        assert str(Job._meta.get_field("next_run_at").verbose_name) == "prochaine exécution à"


@pytest.mark.django_db
def test_the_job_list_page_comes_out_in_french(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    api.create({"schedule": {"type": "interval", "every_ms": 60_000}, "target": {"type": "run"}})
    with translation.override("fr"):
        page = client.get(reverse("admin:routines_job_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "objet tâche à changer" in text  # the model's verbose name, in Django's own phrase
    assert "Mettre en pause les tâches sélectionnées" in text
    assert "chaque minute" in text  # the schedule column
    assert "Pause selected jobs" not in text


def test_relative_times_in_the_admin_come_from_djangos_translated_timesince() -> None:
    now = timezone.now()
    assert display.until(now + timedelta(minutes=4, seconds=30), now) == "in 4\xa0minutes"
    with translation.override("fr"):
        assert display.until(now + timedelta(minutes=4, seconds=30), now) == "dans 4\xa0minutes"
        assert display.until(now - timedelta(minutes=3), now) == "en retard de 3\xa0minutes"
        assert display.ago(now - timedelta(seconds=20), now) == "il y a 20 secondes"


def test_schedule_summaries_come_out_in_french_with_plural_forms() -> None:
    every = {"type": "interval", "every_ms": 300_000, "misfire": "skip", "jitter_ms": 30_000}
    once = {"type": "once", "at": datetime(2026, 1, 1, 12, tzinfo=dt_timezone.utc)}
    with translation.override("fr"):
        assert schedules.describe(every, max_runs=1) == (
            "toutes les 5 minutes ± 30 secondes, en sautant les exécutions manquées, 1 exécution au plus"
        )
        assert schedules.describe({**every, "every_ms": 60_000, "jitter_ms": 0}) == (
            "chaque minute, en sautant les exécutions manquées"
        )
        assert schedules.describe(once, concurrency_key="mail", concurrency_limit=2) == (
            "une fois le 01 Jan 2026 12:00 UTC, 2 à la fois du groupe 'mail'"
        )
    assert schedules.describe(every, max_runs=2) == "every 5 minutes ± 30 seconds, skipping missed runs, 2 runs at most"


@pytest.mark.parametrize("name", ["run_due", "routines", "prune_routines"])
def test_every_commands_help_formats_in_english_and_in_french(name: str) -> None:
    from django.core.management import load_command_class

    english = load_command_class("routines", name).create_parser("manage.py", name).format_help()
    with translation.override("fr"):
        french = load_command_class("routines", name).create_parser("manage.py", name).format_help()
    assert english != french
