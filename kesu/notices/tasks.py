"""Celery tasks of the notices: thin, idempotent, by id. The beat runs the sweeps."""

from celery import shared_task
from django.conf import settings

from . import outbox, replies, services, victim


@shared_task(name="notices.dispatch", acks_late=True)
def dispatch(notice_id: int) -> str:
    """Evidence, exact text, outbox (a notice already past "queued" is left alone)."""
    return services.dispatch(notice_id).status


@shared_task(name="notices.deliver", acks_late=True)
def deliver(message_id: int) -> str:
    return outbox.deliver(message_id)


@shared_task(name="notices.flush_outbox")
def flush_outbox() -> dict:
    """Every minute: settle claims of workers that died, then send whatever is due (retries, rate-limited)."""
    recovered = outbox.recover()
    return {**recovered, **outbox.deliver_due()}


@shared_task(name="notices.fetch_replies")
def fetch_replies() -> dict:
    if not settings.KESU_IMAP["host"]:
        return {}
    return replies.fetch()


@shared_task(name="notices.follow_up")
def follow_up() -> dict:
    return services.follow_up()


@shared_task(name="notices.continuation_mails")
def continuation_mails() -> int:
    return victim.continuation_mails()
