"""The exchange's beat task: thin, the work is in ``beat.py``."""

from celery import shared_task

from . import beat as exchange_beat


@shared_task(name="exchange.beat")
def beat() -> dict:
    return exchange_beat.beat()
