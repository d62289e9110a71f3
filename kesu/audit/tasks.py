import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task(name="kesu.audit.tasks.verify_chain")
def verify_chain() -> bool:
    report = services.verify_chain()
    if report.ok:
        log.info("audit chain intact: %d entries", report.entries)
    else:
        log.error("audit chain BROKEN: %s", "; ".join(report.problems))
    return report.ok
