from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "kesu.notices"
    label = "notices"
    verbose_name = "Notices"

    def ready(self):
        from . import timeline  # what this app adds to the case page (kesu/cases/timeline.py)

        timeline.register()
