from django.apps import AppConfig
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _


class RoutinesConfig(AppConfig):
    name = "routines"
    verbose_name = _("Routines")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, i18n, targets  # noqa: F401  (registers checks and built-in targets)

        i18n.install(gettext, ngettext)  # the pure core's messages in the active language
        targets.load_configured()
