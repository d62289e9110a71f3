from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "kesu.evidence"
    label = "evidence"

    def ready(self):
        from . import timeline  # what this app adds to the case page (kesu/cases/timeline.py)

        timeline.register()
