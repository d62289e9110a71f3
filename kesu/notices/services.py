"""The life of a notice: send, hear back, remind, escalate, settle.

draft → queued (evidence is being preserved, the text fixed) → sent (the server took it) or form (staff
paste it into the site's web form, then say it was submitted) → closed (removed or refused) / failed
(bounced or refused by the server). Every step is a NoticeEvent on the case timeline and an audit entry.
Reminders go every ``KESU_RESEND_HOURS`` until the content is gone; once the step's deadline has passed,
the next step of the ladder gets a notice of its own.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit.services import log_action
from ..evidence.models import EvidenceBundle
from ..evidence.services import preserve, url_of
from ..lib import taskqueue
from ..lib.errors import UserError
from ..sites.models import Contact, Outcome, TakedownRequest
from ..sites.services import set_bounced
from ..vault import services as vault
from . import mail, outbox
from .compose import Prepared, check, due_times, event, prepare, urls_of
from .models import Notice, OutboxMessage

log = logging.getLogger(__name__)
SETTLED_OUTCOMES = (Outcome.DELETED, Outcome.PARTLY_DELETED, Outcome.STILL_ONLINE)


def notices_for(case) -> list[Notice]:
    return list(case.notices.select_related("recipient").order_by("-created_at"))


def send(actor, notice: Notice) -> Notice:
    """Staff press "send": refused unless complete; the rest (evidence, text, outbox) runs on a worker."""
    if notice.status != Notice.Status.DRAFT:
        raise UserError(f"notice {notice.token} is {notice.get_status_display().lower()}, not a draft")
    result = check(notice, actor=actor)
    if not result.complete:
        names = ", ".join(element for element, _, _ in result.missing)
        raise UserError(f"notice {notice.token} cannot be sent: missing {names}")
    with transaction.atomic():
        notice.status = Notice.Status.QUEUED
        notice.save(update_fields=["status"])
        event(notice, "queued", actor)
        log_action(actor, "notice.send", notice, case_id=notice.case_id, regime=notice.regime)
    taskqueue.after_commit("notices.dispatch", notice.pk)
    return notice


def _fresh_evidence(notice: Notice) -> dict[str, EvidenceBundle]:
    """URL -> a preserved bundle of the case younger than KESU_NOTICE_EVIDENCE_HOURS (each URL opened once)."""
    since = timezone.now() - timedelta(hours=settings.KESU_NOTICE_EVIDENCE_HOURS)
    bundles = EvidenceBundle.objects.filter(
        case=notice.case, status=EvidenceBundle.Status.DONE, finished_at__gte=since
    ).select_related("case__data_key")
    return {url_of(bundle): bundle for bundle in bundles.order_by("finished_at")}


def ensure_evidence(notice: Notice) -> list[str]:
    """Preserve every URL of the notice, or reuse a fresh bundle of the same page."""
    fresh = _fresh_evidence(notice)
    kept = []
    for url in urls_of(notice):
        bundle = fresh.get(url) or preserve(url, notice.case, EvidenceBundle.Reason.NOTICE, actor="system:notices")
        kept.append(str(bundle.pk))
        event(notice, "evidence", "system:notices", bundle=str(bundle.pk), outcome=bundle.outcome or bundle.status)
    return kept


def dispatch(notice_id: int) -> Notice:
    """Worker side of "send" (idempotent): evidence, the exact text and version, then the outbox."""
    notice = Notice.objects.select_related("case__data_key", "recipient").get(pk=notice_id)
    if notice.status != Notice.Status.QUEUED:
        return notice
    if not notice.evidence:
        notice.evidence = ensure_evidence(notice)
        notice.save(update_fields=["evidence"])
    result = check(notice)
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice_id)
        if notice.status != Notice.Status.QUEUED:
            return notice
        if not result.complete:  # something changed since staff pressed send (consent withdrawn, mandate)
            notice.status = Notice.Status.DRAFT
            notice.save(update_fields=["status"])
            event(notice, "held", "system:notices", missing=[m[0] for m in result.missing])
            return notice
        _fix_text(notice, result)
        if notice.channel == Notice.Channel.FORM:
            notice.status = Notice.Status.FORM
            notice.save()
            event(notice, "form_ready", "system:notices")
            return notice
        notice.save()
        _queue_mail(notice, 0, result.rendered.subject, result.rendered.body)
    return notice


def _fix_text(notice: Notice, result) -> None:
    key = notice.case.data_key
    notice.template_version = result.version
    notice.subject_sealed = vault.seal_text(key, result.rendered.subject, "notice.subject")
    notice.body_sealed = vault.seal_text(key, result.rendered.body, "notice.body")
    notice.identity_included = result.identity


def text_of(notice: Notice) -> tuple[str, str]:
    key = notice.case.data_key
    return vault.open_text(key, notice.subject_sealed, "notice.subject"), vault.open_text(
        key, notice.body_sealed, "notice.body"
    )


def _queue_mail(notice: Notice, number: int, subject: str, body: str) -> OutboxMessage:
    first = notice.messages.filter(kind=OutboxMessage.Kind.NOTICE).first()
    references = (first.message_id,) if first and number else ()
    message_id = mail.new_message_id(notice.token)
    data = mail.build(
        to=notice.address,
        subject=subject,
        body=body,
        message_id=message_id,
        language=notice.language,
        references=references,
    )
    return outbox.queue(
        key=f"notice:{notice.pk}:{number}",
        kind=OutboxMessage.Kind.REMINDER if number else OutboxMessage.Kind.NOTICE,
        case=notice.case,
        notice=notice,
        to=notice.address,
        data=data,
        message_id=message_id,
    )


def after_delivery(message: OutboxMessage) -> None:
    """Called by the outbox in the transaction that settles a message."""
    if message.notice_id is None:
        return
    notice = Notice.objects.select_related("case", "recipient", "site").get(pk=message.notice_id)
    sent = message.status == OutboxMessage.Status.SENT
    event(notice, "sent" if sent else "send_failed", "system:outbox", message=message.kind, code=message.smtp_code)
    if message.kind == OutboxMessage.Kind.NOTICE:
        if sent:
            _mark_sent(notice, message.sent_at)
        elif notice.status == Notice.Status.QUEUED:
            notice.status = Notice.Status.FAILED
            notice.save(update_fields=["status"])


def _mark_sent(notice: Notice, when) -> None:
    """First delivery (or form submission): the history row, reminders and the escalation clock start."""
    if notice.sent_at is not None:
        return
    notice.status, notice.sent_at = Notice.Status.SENT, when
    notice.resend_at, notice.escalate_at = due_times(notice, when)
    if notice.site_id:
        notice.request = TakedownRequest.objects.create(
            site=notice.site,
            recipient=notice.recipient,
            role=notice.role,
            channel=notice.channel,
            case_type=notice.case.case_type,
            case_id=notice.case_id,
            legal_basis=notice.regime,
            url_count=notice.url_count,
            sent_at=when,
            clock_due_at=notice.clock_due_at,
            reference=f"kesu-notice:{notice.pk}",
        )
    notice.save()
    from .victim import queue_receipt

    queue_receipt(notice)


def form_submitted(actor, notice: Notice, reference: str = "") -> Notice:
    """Staff pasted the notice into the recipient's web form and submitted it."""
    if notice.status != Notice.Status.FORM:
        raise UserError(f"notice {notice.token} is not waiting for a web form")
    with transaction.atomic():
        notice.form_reference = mail.clean(reference, single_line=True)[:120]
        _mark_sent(notice, timezone.now())
        event(notice, "form_submitted", actor, reference=bool(reference))
        log_action(actor, "notice.form_submitted", notice, case_id=notice.case_id)
    return notice


def set_outcome(actor, notice: Notice, outcome: str) -> Notice:
    """Removed, partly removed, still online (refused), or still going; settled outcomes stop the reminders."""
    if outcome not in Outcome.values:
        raise UserError(f"unknown outcome {outcome!r} (one of {', '.join(Outcome.values)})")
    if not notice.was_sent:
        raise UserError(
            _("Notice %(token)s was never sent: it has no outcome. Close the draft instead.") % {"token": notice.token}
        )
    now = timezone.now()
    with transaction.atomic():
        notice.outcome = outcome
        if outcome in (Outcome.DELETED, Outcome.PARTLY_DELETED):
            notice.status, notice.resolved_at, notice.resend_at, notice.escalate_at = (
                Notice.Status.CLOSED,
                now,
                None,
                None,
            )
        elif outcome == Outcome.STILL_ONLINE:  # refused: no point reminding; the next step is due now
            notice.resend_at, notice.escalate_at = None, now
        notice.save()
        if notice.request_id:
            TakedownRequest.objects.filter(pk=notice.request_id).update(
                outcome=outcome, resolved_at=now if outcome in SETTLED_OUTCOMES else None
            )
        event(notice, "outcome", actor, outcome=outcome)
        log_action(actor, "notice.outcome", notice, case_id=notice.case_id, outcome=outcome)
    return notice


def observed_outcome(actor, notice: Notice, outcome: str) -> Notice:
    """What the patrol's re-checks saw. Deleted and still online settle the notice as staff would;
    partly deleted, on hold and ongoing are recorded while it stays open (reminders go on for the rest).
    A notice closed as deleted whose copy came back is opened again, and the recipient reminded now."""
    if outcome in (Outcome.DELETED, Outcome.STILL_ONLINE):
        return set_outcome(actor, notice, outcome)
    now = timezone.now()
    with transaction.atomic():
        notice.outcome = outcome
        if notice.status == Notice.Status.CLOSED:
            notice.status, notice.resolved_at, notice.resend_at = Notice.Status.SENT, None, now
        notice.save()
        if notice.request_id:
            TakedownRequest.objects.filter(pk=notice.request_id).update(outcome=outcome, resolved_at=None)
        event(notice, "observed", actor, outcome=outcome)
        log_action(actor, "notice.observed", notice, case_id=notice.case_id, outcome=outcome)
    return notice


def bounced(actor, notice: Notice) -> Prepared | None:
    """The address bounced: mark the contact, and write the same notice to the recipient's next contact."""
    contact = Contact.objects.filter(organisation=notice.recipient, address=notice.address).first()
    with transaction.atomic():
        if contact:
            set_bounced(actor, contact, site=notice.site)
        notice.status, notice.resend_at, notice.escalate_at = Notice.Status.FAILED, None, None
        notice.save()
        event(notice, "bounced", actor)
    retry = prepare(actor, notice.case, urls=urls_of(notice), hit_ids=list(notice.hits.values_list("pk", flat=True)))
    for new in retry.notices:
        event(new, "after_bounce", actor, previous=notice.token)
    return retry


def cancel(actor, notice: Notice) -> None:
    if notice.status not in (Notice.Status.DRAFT, Notice.Status.FORM):
        raise UserError("only drafts and notices waiting for a web form can be cancelled")
    notice.status = Notice.Status.CANCELLED
    notice.save(update_fields=["status"])
    event(notice, "cancelled", actor)
    log_action(actor, "notice.cancel", notice, case_id=notice.case_id)


def change_language(actor, notice: Notice, language: str) -> None:
    from .templates import languages_for

    if notice.status != Notice.Status.DRAFT:
        raise UserError("only a draft's language can change")
    if language not in languages_for(notice.regime):
        raise UserError(f"no {notice.regime} template in {language!r}")
    notice.language = language
    notice.save(update_fields=["language"])
    event(notice, "language", actor, language=language)


# --- follow-up -----------------------------------------------------------------------------------------


def follow_up(now=None) -> dict[str, int]:
    """Remind what is due, escalate what is past its deadline (the beat runs this every quarter hour)."""
    now = now or timezone.now()
    counts = {"reminded": 0, "escalated": 0}
    open_sent = Notice.objects.filter(status=Notice.Status.SENT).select_related("case__data_key", "recipient")
    for notice in open_sent.filter(resend_at__lte=now, channel=Notice.Channel.EMAIL):
        counts["reminded"] += remind(notice, now)
    for notice in open_sent.filter(escalate_at__lte=now):
        counts["escalated"] += len(escalate("system:follow-up", notice).notices)
    return counts


def remind(notice: Notice, now) -> int:
    """Send the notice again, marked as reminder n, threaded to the first one (idempotent per n)."""
    number = notice.messages.filter(kind=OutboxMessage.Kind.REMINDER).count() + 1
    result = check(notice, reminder=number, now=now)
    with transaction.atomic():
        notice.resend_at = now + timedelta(hours=settings.KESU_RESEND_HOURS)
        notice.save(update_fields=["resend_at"])
        if not result.complete:
            event(notice, "reminder_held", "system:follow-up", missing=[m[0] for m in result.missing])
            return 0
        _queue_mail(notice, number, result.rendered.subject, result.rendered.body)
        event(notice, "reminder", "system:follow-up", number=number)
    return 1


def escalate(actor, notice: Notice):
    """Draft (and, with KESU_AUTO_ESCALATE, send) notices to the next step of the ladder for these URLs."""
    with transaction.atomic():
        notice.escalate_at = None
        notice.save(update_fields=["escalate_at"])
        result = prepare(actor, notice.case, urls=urls_of(notice), after=notice)
        event(notice, "escalated", actor, notices=len(result.notices), unrouted=len(result.unrouted))
    for new in result.notices:
        if settings.KESU_AUTO_ESCALATE and check(new).complete:
            send(actor, new)
    return result
