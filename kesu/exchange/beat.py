"""Her hashes taken back when her case closes or is deleted, and the exchange's part of the beat (issue 21).

``take_back_all`` is registered with ``cases.services.register_leaving`` (``ExchangeConfig.ready()``): inside
the closing or deleting transaction, partners' ledgers mark her hashes removed (their next delta says so, under
the opaque label they knew), and the hashes sent to StopNCII are marked ``withdraw_pending``. The "Withdrawn"
feedback goes out after the commit; a StopNCII that fails or is not configured blocks nothing: the rows stay
pending, the beat (``exchange.beat``, every few minutes; ``kesu exchange beat``) retries them, and
``kesu exchange pending`` shows them. The beat also reads StopNCII's new feedback from a stored checkpoint.
Both are idempotent, bounded, and touch nothing when StopNCII is not configured and nothing is pending.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..audit.services import log_action
from ..cases.models import Case
from ..lib.errors import UserError
from . import outbound, partners
from .models import STOPNCII, Checkpoint, SharedHash
from .services import record_feedback

ACTOR = "system:exchange"
BATCH = 500  # hashes per "Withdrawn" request, and per beat
PAGES = 5  # StopNCII feedback pages per beat (800 records each): the rest waits for the next beat
FEEDBACK_CHECKPOINT = "stopncii.feedback"


def take_back_all(actor, case: Case) -> None:
    """Her case closes or is deleted: take her hashes back everywhere (called in the caller's transaction)."""
    partners.take_back_all(actor, case)
    pending = SharedHash.objects.filter(case=case, destination=STOPNCII, removed_at__isnull=True)
    ids = list(pending.values_list("pk", flat=True))
    if ids:
        SharedHash.objects.filter(pk__in=ids).update(removed_at=timezone.now(), withdraw_pending=True)
        log_action(actor, "exchange.unshare", case, case_id=case.pk, destination=STOPNCII, hashes=len(ids))
        transaction.on_commit(lambda: retry_withdrawals(ids))


def retry_withdrawals(ids: list[int] | None = None) -> int:
    """Send "Withdrawn" on pending StopNCII hashes (these ``ids``, or the oldest ``BATCH``); returns how many
    StopNCII took. A failure is kept on the rows (attempts, what failed) and audited the first time."""
    rows = SharedHash.objects.filter(destination=STOPNCII, withdraw_pending=True)
    rows = list((rows.filter(pk__in=ids) if ids is not None else rows).order_by("pk")[:BATCH])
    if not rows:
        return 0
    try:
        outbound.withdraw([(row.signal_type, row.signal) for row in rows])
    except Exception as error:  # the far side down or Kesu not configured: nothing is lost, the beat tries again
        _failed(rows, error)
        return 0
    with transaction.atomic():
        SharedHash.objects.filter(pk__in=[row.pk for row in rows]).update(withdraw_pending=False, withdraw_error="")
        log_action(ACTOR, "exchange.withdrawn", None, destination=STOPNCII, hashes=len(rows),
                   retried=sum(1 for row in rows if row.withdraw_attempts))  # fmt: skip
    return len(rows)


def _failed(rows: list[SharedHash], error: Exception) -> None:
    what = (str(error) if isinstance(error, UserError) else type(error).__name__)[:200]
    first = [row for row in rows if not row.withdraw_attempts]
    with transaction.atomic():
        for row in rows:
            SharedHash.objects.filter(pk=row.pk).update(
                withdraw_attempts=row.withdraw_attempts + 1, withdraw_error=what
            )
        if first:
            log_action(ACTOR, "exchange.withdraw_failed", None, destination=STOPNCII, hashes=len(first), error=what)


def pending() -> list[SharedHash]:
    """The StopNCII withdrawals still owed, oldest first (for ``kesu exchange pending``)."""
    return list(SharedHash.objects.filter(destination=STOPNCII, withdraw_pending=True).order_by("pk")[:BATCH])


def stopncii_configured() -> bool:
    return bool(settings.KESU_STOPNCII_SUBSCRIPTION_KEY and settings.KESU_STOPNCII_FETCH_KEY)


def read_new_feedback() -> int:
    """StopNCII's feedback since the stored checkpoint, at most ``PAGES`` pages; returns the new opinions. Nothing
    is asked when StopNCII is not configured or no hash of a live case is shared there."""
    if not stopncii_configured() or not SharedHash.objects.filter(destination=STOPNCII, case__isnull=False).exists():
        return 0
    mark, _ = Checkpoint.objects.get_or_create(name=FEEDBACK_CHECKPOINT, defaults={"value": outbound.START})
    recorded = 0
    for opinions, checkpoint in outbound.feedback_pages(mark.value, PAGES):
        recorded += record_feedback(ACTOR, opinions)
        Checkpoint.objects.filter(pk=mark.pk).update(value=checkpoint)
    return recorded


def beat() -> dict:
    """What the exchange does on the beat: the withdrawals owed, then the feedback (each step on its own)."""
    withdrawn = retry_withdrawals() if SharedHash.objects.filter(withdraw_pending=True).exists() else 0
    done = {"withdrawn": withdrawn, "pending": SharedHash.objects.filter(withdraw_pending=True).count()}
    try:
        return {**done, "opinions": read_new_feedback()}
    except Exception as error:  # StopNCII down: read again on the next beat, from the same checkpoint
        return {**done, "opinions": 0, "feedback_error": type(error).__name__}
