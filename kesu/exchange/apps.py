from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "kesu.exchange"
    label = "exchange"

    def ready(self):
        from . import timeline  # her consents and shares on the case page (kesu/cases/timeline.py)

        timeline.register()
