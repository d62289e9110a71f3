from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "kesu.notices"
    label = "notices"
    verbose_name = "Notices"

    def ready(self):
        from . import outbox, timeline

        timeline.register()  # what this app adds to the case page (kesu/cases/timeline.py)
        outbox.on_settled(_after_delivery)


def _after_delivery(message) -> None:
    """A notice hears how its messages went (sent, failed). Imported when first needed: services pull in
    evidence and capture, which every other command can do without."""
    from .services import after_delivery

    after_delivery(message)
