from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "kesu.matching"
    label = "matching"
