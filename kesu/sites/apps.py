from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "kesu.sites"
    label = "sites"
    verbose_name = "Sites"
