"""The outbox: every e-mail Kesu sends is a row here first, and goes out exactly once.

- ``queue`` is idempotent by key: queueing the same thing twice returns the first row.
- ``deliver`` claims the row (one UPDATE from pending to sending with a fresh claim token), talks to the
  SMTP server, and records the code it answered. Only the worker holding the claim may settle the row.
- A temporary failure puts the row back with exponential back-off; a permanent one fails it.
- A worker can die after the server accepted the message but before the row says so. ``recover`` finds
  such claims once they are older than ``KESU_MAIL_CLAIM_SECONDS`` and settles them against the desk's
  archive copy (every message is also sent, Bcc, to ``KESU_MAIL_ARCHIVE``; the server delivers that copy
  before it answers 250): found means sent, not found means the server never took it and it may go again,
  with the same Message-ID. Without an archive the row becomes "uncertain" and staff decide: Kesu never
  guesses, because a second notice to a site is worse than a late one.
- Sending is limited per recipient domain (``KESU_MAIL_RATE_PER_DOMAIN`` a minute).
"""

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..audit.services import log_action
from ..lib import taskqueue, workrows
from ..vault import services as vault
from . import mail
from .models import OutboxMessage

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=6)
# Told of each message as it is settled, inside the settling transaction. The outbox sits below the notices
# that send through it, so they register here (NoticesConfig.ready) rather than the outbox importing them.
_settled_hooks: list[Callable[[OutboxMessage], None]] = []


def on_settled(hook: Callable[[OutboxMessage], None]) -> None:
    if hook not in _settled_hooks:
        _settled_hooks.append(hook)


def queue(*, key: str, kind: str, case, to: str, data: bytes, message_id: str, notice=None) -> OutboxMessage:
    """Store one message to send (sealed with the case key); the same key always gives the same row."""
    existing = OutboxMessage.objects.filter(key=key).first()
    if existing:
        return existing
    recipients = [mail.check_address(to)] + ([settings.KESU_MAIL_ARCHIVE] if settings.KESU_MAIL_ARCHIVE else [])
    data_key = _data_key(case)
    message = OutboxMessage.objects.create(
        key=key,
        kind=kind,
        case=case,
        notice=notice,
        message_id=message_id,
        to_domain=mail.domain_of(to) if kind in (OutboxMessage.Kind.NOTICE, OutboxMessage.Kind.REMINDER) else "",
        message_sealed=vault.seal_bytes(data_key, data, "outbox.message"),
        recipients_sealed=vault.seal_json(data_key, recipients, "outbox.recipients"),
        next_attempt_at=timezone.now(),
    )
    taskqueue.after_commit("notices.deliver", message.pk)
    return message


def _data_key(case):
    """Mail of a case is sealed with its key; mail to staff with the installation's mailbox key."""
    return case.data_key if case else vault.mailbox_key()


def _claim(message_id: int, now) -> str | None:
    due = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
    return workrows.take(due, message_id, now=now, status=OutboxMessage.Status.SENDING)


def _rate_limited(message: OutboxMessage, now) -> bool:
    if not message.to_domain:
        return False
    recent = OutboxMessage.objects.filter(
        to_domain=message.to_domain, status=OutboxMessage.Status.SENT, sent_at__gte=now - timedelta(minutes=1)
    ).count()
    return recent >= settings.KESU_MAIL_RATE_PER_DOMAIN


def deliver(message_id: int) -> str:
    """Send one queued message if it is due and nobody else holds it; returns the row's status after."""
    now = timezone.now()
    claim = _claim(message_id, now)
    if claim is None:
        return OutboxMessage.objects.filter(pk=message_id).values_list("status", flat=True).first() or "missing"
    message = OutboxMessage.objects.select_related("case__data_key").get(pk=message_id)
    if _rate_limited(message, now):
        _release(message, claim, now + timedelta(seconds=60), attempt_used=False)
        return OutboxMessage.Status.PENDING
    key = _data_key(message.case)
    data = vault.open_bytes(key, message.message_sealed, "outbox.message")
    recipients = vault.open_json(key, message.recipients_sealed, "outbox.recipients")
    try:
        code, reply = mail.smtp_send(data, settings.DEFAULT_FROM_EMAIL, recipients)
    except mail.TemporaryFailure as error:
        return _retry(message, claim, now, str(error))
    except mail.PermanentFailure as error:
        return _settle(message, claim, OutboxMessage.Status.FAILED, error.code, error.text)
    return _settle(message, claim, OutboxMessage.Status.SENT, code, reply)


def _release(message: OutboxMessage, claim: str, when, *, attempt_used: bool = True, reply: str = "") -> None:
    replied = {"smtp_reply": reply[:300]} if reply else {}
    workrows.release(OutboxMessage, message.pk, claim, attempt_used=attempt_used, status=OutboxMessage.Status.PENDING,
                     next_attempt_at=when, **replied)  # fmt: skip


def _retry(message: OutboxMessage, claim: str, now, reply: str) -> str:
    message.refresh_from_db(fields=["attempts"])
    if message.attempts >= settings.KESU_MAIL_MAX_ATTEMPTS:
        return _settle(message, claim, OutboxMessage.Status.FAILED, None, f"gave up after {message.attempts}: {reply}")
    wait = min(timedelta(minutes=2 ** (message.attempts - 1)), MAX_BACKOFF)
    _release(message, claim, now + wait, reply=reply)
    log.info("outbox %s: temporary failure, next try in %s", message.pk, wait)
    return OutboxMessage.Status.PENDING


def _settle(message: OutboxMessage, claim: str, status: str, code: int | None, reply: str) -> str:
    try:
        with transaction.atomic():
            _settled(message, claim, status, code, reply)
    except workrows.LostClaim:  # someone recovered the claim meanwhile; they settle it
        return status
    log.info("outbox %s: %s (%s)", message.pk, status, code)
    return status


def _settled(message: OutboxMessage, claim: str, status: str, code: int | None, reply: str) -> None:
    workrows.settle(
        OutboxMessage, message.pk, claim, only={"status": OutboxMessage.Status.SENDING},
        status=status, smtp_code=code, smtp_reply=mail.clean(reply, single_line=True)[:300],
        sent_at=timezone.now() if status == OutboxMessage.Status.SENT else None,
    )  # fmt: skip
    message.refresh_from_db()
    log_action("system:outbox", f"outbox.{status}", message, case_id=message.case_id, kind=message.kind, code=code)
    for hook in _settled_hooks:
        hook(message)


def deliver_due(limit: int = 200) -> dict[str, int]:
    """Send what is due now (the beat's sweep, and ``kesu notice deliver``)."""
    counts: dict[str, int] = {}
    due = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=timezone.now())
    for pk in due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]:
        status = deliver(pk)
        counts[status] = counts.get(status, 0) + 1
    return counts


def recover(now=None) -> dict[str, int]:
    """Settle claims whose worker stopped mid-send (see the module docstring)."""
    now = now or timezone.now()
    sending = OutboxMessage.objects.filter(status=OutboxMessage.Status.SENDING)
    stale = list(workrows.stale(sending, timedelta(seconds=settings.KESU_MAIL_CLAIM_SECONDS), now))
    counts = {"sent": 0, "again": 0, "uncertain": 0}
    if not stale:
        return counts
    archived = _archived(message.message_id for message in stale) if settings.KESU_MAIL_ARCHIVE else None
    for message in stale:
        if archived is None:
            outcome, status = "uncertain", OutboxMessage.Status.UNCERTAIN
        elif message.message_id in archived:
            outcome, status = "sent", OutboxMessage.Status.SENT
        else:
            outcome = "again"
            _release(message, message.claim, now, reply="worker stopped before the server took it; sending again")
            counts[outcome] += 1
            continue
        _settle(message, message.claim, status, None, f"worker stopped mid-send; {outcome} (archive check)")
        counts[outcome] += 1
    return counts


def _archived(message_ids) -> set[str]:
    """Which of these Message-IDs have a copy in the archive mailbox."""
    found = set()
    imap = mail.imap_connect()
    try:
        imap.select(mail.imap_quote(settings.KESU_IMAP["archive_mailbox"]), readonly=True)
        for message_id in message_ids:
            status, data = imap.uid("SEARCH", None, "HEADER", "Message-ID", mail.imap_quote(message_id))
            if status == "OK" and data and data[0].split():
                found.add(message_id)
    finally:
        imap.logout()
    return found


def resolve_uncertain(actor, message: OutboxMessage, was_sent: bool) -> None:
    """Staff decide an uncertain row after checking the mail server's log: sent, or send it again."""
    uncertain = OutboxMessage.objects.filter(status=OutboxMessage.Status.UNCERTAIN)
    claim = workrows.take(uncertain, message.pk, attempt=False, status=OutboxMessage.Status.SENDING)
    if claim is None:  # not uncertain (any more): another decision came first
        return
    if was_sent:
        _settle(message, claim, OutboxMessage.Status.SENT, None, f"marked sent by {actor}")
    else:
        _release(message, claim, timezone.now(), reply=f"sent again by {actor}")
        taskqueue.after_commit("notices.deliver", message.pk)
    log_action(actor, "outbox.resolve", message, case_id=message.case_id, sent=was_sent)
