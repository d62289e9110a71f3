import logging

from celery import shared_task

from . import services

log = logging.getLogger(__name__)


@shared_task(name="kesu.audit.tasks.verify_chain")
def verify_chain() -> bool:
    """Daily: check the log and, when it is intact, anchor its head outside the database."""
    report, anchor = services.verify_and_anchor()
    if report.ok:
        log.info("audit chain intact: %d entries; anchored at entry %d", report.entries, anchor.seq if anchor else 0)
    else:
        log.error("audit chain BROKEN: %s", "; ".join(report.problems))
    return report.ok
