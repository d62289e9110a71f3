from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "kesu.notices"
    label = "notices"
    verbose_name = "Notices"
