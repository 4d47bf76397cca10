from django.apps import AppConfig


class RoutinesConfig(AppConfig):
    name = "routines"
    verbose_name = "Routines"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, signals, targets  # noqa: F401  (registers checks and built-in targets)

        signals.event_recorded.connect(signals.log_event, dispatch_uid="routines.log_event")
        targets.load_configured()
