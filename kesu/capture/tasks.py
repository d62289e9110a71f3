"""Each worker process keeps one browser with warm contexts for the capture tasks it runs."""

from celery.signals import worker_process_init, worker_process_shutdown
from django.conf import settings

from . import services


@worker_process_init.connect
def _warm_browser(**_):
    if settings.KESU_CAPTURE_WARM_CONTEXTS:
        services.warm_up()


@worker_process_shutdown.connect
def _close_browser(**_):
    services.shutdown()
