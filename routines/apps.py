from django.apps import AppConfig


class RoutinesConfig(AppConfig):
    name = "routines"
    verbose_name = "Routines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, targets  # noqa: F401  (registers checks and built-in targets)

        targets.load_configured()
