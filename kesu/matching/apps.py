from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "kesu.matching"
    label = "matching"

    def ready(self):
        from ..lib import threads

        threads.cap()  # every process: web, workers, commands, tests (kesu/lib/threads.py)
