from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "kesu.reports"
    label = "reports"
    verbose_name = "Reports"
