from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "kesu.review"
    label = "review"
    verbose_name = "Review"

    def ready(self):
        from . import timeline  # what this app adds to the case page (kesu/cases/timeline.py)

        timeline.register()
