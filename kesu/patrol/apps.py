from django.apps import AppConfig


class PatrolConfig(AppConfig):
    name = "kesu.patrol"
    label = "patrol"
    verbose_name = "Patrol"

    def ready(self):
        from . import timeline  # what this app adds to the case page (kesu/cases/timeline.py)

        timeline.register()
