from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "kesu.cases"
    label = "cases"

    def ready(self):
        from . import providers  # what this app adds to the case page (kesu/cases/timeline.py)

        providers.register()
