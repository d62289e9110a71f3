from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "kesu.exchange"
    label = "exchange"

    def ready(self):
        from ..cases import services as cases
        from . import beat, timeline  # her consents and shares on the case page (kesu/cases/timeline.py)

        timeline.register()
        cases.register_leaving(beat.take_back_all)  # a case closed or deleted takes her hashes back
