from django.apps import AppConfig


class HashingConfig(AppConfig):
    name = "kesu.hashing"
    label = "hashing"

    def ready(self):
        from . import timeline  # the links section of the case page (kesu/cases/timeline.py)

        timeline.register()
