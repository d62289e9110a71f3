import logging

from celery import shared_task

from ..accounts.principals import SystemPrincipal
from ..audit.services import log_action
from . import services

log = logging.getLogger(__name__)


@shared_task(name="kesu.cases.tasks.flag_due_continuations")
def flag_due_continuations() -> int:
    """Daily: note which cases need their yearly continuation check.

    Idempotent: it only reads and logs; the mail to the victim comes with notices.
    """
    actor = SystemPrincipal("scheduler")
    due = list(services.continuation_due(actor).values_list("pk", flat=True))
    if due:
        log_action(actor, "case.continuation_due", None, cases=due)
    log.info("%d cases due for their continuation check", len(due))
    return len(due)


@shared_task(name="cases.shred_references", acks_late=True)
def shred_references(reference_ids: list[int]) -> int:
    """Shred deleted references once their undo window has passed (idempotent: restored or early ones stay)."""
    from . import references

    return references.shred(SystemPrincipal("scheduler"), reference_ids)


@shared_task(name="cases.shred_due_references")
def shred_due_references() -> int:
    """Every few minutes: deleted references whose window passed and whose own message was lost."""
    from . import references

    return references.shred_due(SystemPrincipal("scheduler"))
