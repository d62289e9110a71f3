"""Mail to the victim: receipts for every request, answers to her questions, the yearly continuation mail.

Nothing sent to her carries a URL or an image: she came to the desk so as not to look. A receipt says to
whom, when and under which law a request went; the text of the notice stays with the desk, and staff
read it to her if she asks. She chose how she hears from us (e-mail, staff, or nothing): ``Victim.receipt``.
Replies to these mails are threaded to her case by the code in the subject and by their Message-ID.
"""

import uuid

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..audit.services import log_action
from ..cases.models import Case, Victim
from ..cases.services import victim_details
from ..law import regimes
from ..lib.errors import UserError
from ..sites.models import Role
from . import mail, outbox
from .models import Notice, OutboxMessage

LANGUAGES = ("ja", "en")  # the languages the desk speaks with victims


def _language(case: Case) -> str:
    return case.victim.preferred_language if case.victim.preferred_language in LANGUAGES else "en"


def _address(actor, case: Case) -> str:
    email = victim_details(actor, case).contact.get("email", "")
    return mail.check_address(email) if email else ""


def _queue(case: Case, key: str, kind: str, subject: str, body: str, actor) -> OutboxMessage | None:
    address = _address(actor, case)
    if not address:
        return None
    message_id = mail.new_message_id(case.victim.code)
    data = mail.build(to=address, subject=subject, body=body, message_id=message_id, language=_language(case))
    message = outbox.queue(key=key, kind=kind, case=case, to=address, data=data, message_id=message_id)
    log_action(actor, f"victim.mail.{kind}", message, case_id=case.pk)
    return message


def queue_receipt(notice: Notice) -> OutboxMessage | None:
    """The receipt for a request that went out, in her language, if she wants receipts by e-mail."""
    case = notice.case
    if case.victim.receipt != Victim.Receipt.EMAIL:
        return None
    with translation.override(_language(case)):
        subject = _("[Kesu %(code)s] We sent a removal request") % {"code": case.victim.code}
        body = _(
            "Hello,\n\n"
            "on %(date)s we sent a request to remove your images to %(recipient)s (%(role)s), "
            "covering %(count)s address(es), under %(law)s.\n\n"
            "You do not need to do anything. We follow up until the content is gone and will tell you "
            "what happens. This e-mail contains no links or images on purpose.\n\n"
            "If you have a question, or no longer want these e-mails, simply reply to this message.\n\n"
            "%(org)s"
        ) % {
            "date": timezone.localtime(notice.sent_at).date().isoformat(),
            "recipient": notice.recipient.name,
            "role": Role(notice.role).label if notice.role in Role.values else notice.role,
            "count": notice.url_count,
            "law": regimes.label(notice.regime),
            "org": _org_name(),
        }
    return _queue(case, f"receipt:{notice.pk}", OutboxMessage.Kind.RECEIPT, subject, body, "system:notices")


def _org_name() -> str:
    return settings.KESU_ORG["name"]


def status_draft(case: Case) -> tuple[str, str]:
    """An answer to "where are we?", prepared from the case for staff to read and edit before it goes."""
    counts = case.notices.aggregate(
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        removed=Count("pk", filter=Q(outcome__in=("deleted", "partly_deleted"))),
        waiting=Count("pk", filter=Q(status=Notice.Status.SENT)),
    )
    hits = case.hits.filter(status="confirmed").count()
    with translation.override(_language(case)):
        subject = _("[Kesu %(code)s] Where your case stands") % {"code": case.victim.code}
        body = _(
            "Hello,\n\n"
            "here is where your case stands today (%(date)s):\n\n"
            "- copies we have confirmed: %(hits)s\n"
            "- removal requests sent: %(sent)s\n"
            "- requests answered with removal: %(removed)s\n"
            "- requests we are still following up: %(waiting)s\n\n"
            "We keep sending reminders and, where a site does not act, we turn to its host and to others "
            "who can remove the content.\n\n"
            "%(org)s"
        ) % {"date": timezone.localdate().isoformat(), "hits": hits, "org": _org_name(), **counts}
    return subject, body


def send_to_victim(actor, case: Case, subject: str, body: str) -> OutboxMessage:
    """Staff reviewed (and perhaps edited) a message to her: queue it."""
    if case.victim.receipt == Victim.Receipt.NONE:
        raise UserError("she asked not to receive e-mail from the desk")
    if not subject.strip() or not body.strip():
        raise UserError("a message needs a subject and a text")
    message = _queue(case, f"victim:{case.pk}:{uuid.uuid4().hex}", OutboxMessage.Kind.VICTIM, subject, body, actor)
    if message is None:
        raise UserError("no e-mail address on file for her")
    return message


def queue_continuation(case: Case) -> OutboxMessage | None:
    """The yearly question: shall we go on looking for and removing your images? (once per due date)"""
    if case.victim.receipt != Victim.Receipt.EMAIL or not case.continuation_due_on:
        return None
    with translation.override(_language(case)):
        subject = _("[Kesu %(code)s] Shall we continue?") % {"code": case.victim.code}
        body = _(
            "Hello,\n\n"
            "a year ago you asked us to find and remove your images. We are still watching for new copies.\n\n"
            "Please reply to this e-mail and tell us whether we should continue for another year. "
            "If we do not hear from you, we will call or write to you before we change anything.\n\n"
            "%(org)s"
        ) % {"org": _org_name()}
    key = f"continuation:{case.pk}:{case.continuation_due_on.isoformat()}"
    return _queue(case, key, OutboxMessage.Kind.VICTIM, subject, body, "system:continuation")


def continuation_mails(today=None) -> int:
    today = today or timezone.localdate()
    due = Case.objects.filter(continuation_due_on__lte=today).exclude(status=Case.Status.CLOSED)
    return sum(1 for case in due.select_related("victim", "data_key") if queue_continuation(case))
