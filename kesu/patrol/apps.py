from django.apps import AppConfig


class PatrolConfig(AppConfig):
    name = "kesu.patrol"
    label = "patrol"
    verbose_name = "Patrol"
