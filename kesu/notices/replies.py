"""Replies: fetch the desk's mailbox over IMAP, thread each message to its notice, propose an outcome.

Threading, in order: In-Reply-To and References against the Message-IDs Kesu sent; for a bounce, the
Message-ID of the returned message inside the delivery report; the notice token (``KS-XXXXXX``) or the
victim's code in the subject. The proposal (removed, needs more information, refused, automatic reply,
bounce, from the victim) is only a proposal: staff confirm it, and only then does the notice change.

The mailbox is read without changing it (``BODY.PEEK``, read-only select): staff may read it in their
own client too. Each fetch asks only for UIDs after the last one seen; a changed UIDVALIDITY starts over
and the unique (mailbox, uid) key drops what was already taken. Messages over ``KESU_MAIL_MAX_MB`` are
recorded without their text.
"""

import email
import logging
import re
from datetime import UTC
from email import policy
from email.utils import getaddresses, parsedate_to_datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..audit.services import log_action
from ..cases.models import Case, ContactEntry
from ..cases.services import add_contact
from ..lib.errors import UserError
from ..sites.models import Outcome
from ..vault import services as vault
from . import mail, services
from .compose import event
from .models import MailboxState, Notice, OutboxMessage, Reply

log = logging.getLogger(__name__)
TOKEN = re.compile(r"\bKS-[A-Z2-9]{6}\b")
MAX_TEXT = 100_000

# Words that suggest what a reply says, in the languages notices go out in. Order matters: a refusal
# often also says "removed" ("we have not removed"), so refusals and requests for more are tried first.
CUES = {
    Reply.Proposal.REFUSED: (
        "not remove", "won't remove", "will not remove", "cannot remove", "can't remove", "unable to remove",
        "decline", "not able to", "no action", "not violate", "does not violate", "対応いたしかねます",
        "削除できません", "削除いたしかねます", "応じかねます", "nicht entfernen", "lehnen", "ne pouvons pas",
        "refusons", "no podemos", "rechazamos", "não podemos", "niet verwijderen", "не можем", "отказ",
        "无法删除", "不予删除", "삭제할 수 없", "거부",
    ),
    Reply.Proposal.MORE_INFO: (
        "more information", "additional information", "please provide", "please send", "identity", "proof",
        "power of attorney", "身分証", "本人確認", "委任状", "追加の情報", "ご提出", "weitere informationen",
        "vollmacht", "informations complémentaires", "pièce d'identité", "más información", "mais informações",
        "meer informatie", "дополнительн", "更多信息", "추가 정보",
    ),
    Reply.Proposal.REMOVED: (
        "removed", "deleted", "taken down", "disabled access", "no longer available", "has been suspended",
        "削除しました", "削除いたしました", "削除済", "送信防止措置を講じました", "非公開", "entfernt", "gelöscht",
        "supprimé", "retiré", "eliminado", "retirado", "removido", "verwijderd", "удален", "удалён",
        "已删除", "已移除", "삭제되었", "삭제했",
    ),
}  # fmt: skip


def fetch(limit: int = 500) -> dict[str, int]:
    """Fetch new messages from the configured mailbox; returns counts (for the CLI and the beat)."""
    mailbox = settings.KESU_IMAP["mailbox"]
    counts = {"fetched": 0, "threaded": 0, "unthreaded": 0, "own": 0, "too_big": 0}
    imap = mail.imap_connect()
    try:
        status, _ = imap.select(mail.imap_quote(mailbox), readonly=True)
        if status != "OK":
            raise UserError(f"mailbox {mailbox!r} cannot be opened")
        validity = int((imap.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
        state, _ = MailboxState.objects.get_or_create(mailbox=f"{settings.KESU_IMAP['host']}/{mailbox}")
        if state.uidvalidity != validity:
            state.uidvalidity, state.last_uid = validity, 0
        status, data = imap.uid("SEARCH", None, f"UID {state.last_uid + 1}:*")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > state.last_uid)[:limit]
        for uid in uids:
            kind = _take(imap, validity, uid)
            counts[kind] += 1
            counts["fetched"] += kind in ("threaded", "unthreaded")
            state.last_uid = uid
        state.fetched_at = timezone.now()
        state.save()
    finally:
        try:
            imap.logout()
        except OSError:
            pass
    if counts["fetched"]:
        log_action("system:mailbox", "notice.replies.fetch", None, **counts)
    return counts


def _take(imap, validity: int, uid: int) -> str:
    status, data = imap.uid("FETCH", str(uid), "(RFC822.SIZE)")
    size = int(re.search(rb"RFC822\.SIZE (\d+)", data[0] or b"").group(1)) if status == "OK" and data[0] else 0
    if size > settings.KESU_MAIL_MAX_MB * 1024 * 1024:
        status, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
        raw, big = data[0][1], True
    else:
        status, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        raw, big = data[0][1], False
    message = email.message_from_bytes(raw, policy=policy.default)
    message_id = _header(message, "Message-ID")
    if message_id and OutboxMessage.objects.filter(message_id=message_id).exists():
        return "own"  # the archive copy of something Kesu sent
    return record(message, f"{validity}:{uid}", too_big=big)


def _header(message, name: str) -> str:
    try:
        return mail.clean(str(message.get(name, "") or ""), single_line=True)[:250]
    except (ValueError, TypeError):
        return ""


def _ids(text: str) -> list[str]:
    return re.findall(r"<[^<>\s]+>", text or "")


def _text(message) -> str:
    """The readable text of a message: its plain part, or its HTML part stripped of tags."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
        if part is not None and part.get_content_type() == "text/html":
            content = re.sub(r"<[^>]+>", " ", content)
    except (KeyError, LookupError, ValueError, AttributeError):
        content = ""
    return mail.clean(content)[:MAX_TEXT]


def _returned_ids(message) -> list[str]:
    """Message-IDs of the message a delivery report returns (the bounce's original)."""
    ids = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            text = str(inner) if inner is not None else part.get_payload(decode=True) or b""
            text = text.decode(errors="replace") if isinstance(text, bytes) else text
            found = re.search(r"(?im)^message-id:\s*(<[^>]+>)", text)
            if found:
                ids.append(found.group(1))
    return ids


def is_bounce(message) -> bool:
    sender = _header(message, "From").lower()
    return message.get_content_type() == "multipart/report" or any(
        word in sender for word in ("mailer-daemon", "postmaster")
    )


def is_auto_reply(message) -> bool:
    auto = _header(message, "Auto-Submitted").lower()
    subject = _header(message, "Subject").lower()
    return (
        (auto and auto != "no")
        or bool(message.get("X-Autoreply") or message.get("X-Autorespond"))
        or _header(message, "Precedence").lower() in ("auto_reply", "bulk", "junk")
        or any(word in subject for word in ("out of office", "automatic reply", "auto-reply", "自動返信", "不在"))
    )


def propose(message, text: str) -> str:
    if is_bounce(message):
        return Reply.Proposal.BOUNCE
    if is_auto_reply(message):
        return Reply.Proposal.AUTO_REPLY
    lowered = text.lower()
    for proposal, cues in CUES.items():
        if any(cue in lowered for cue in cues):
            return proposal
    return Reply.Proposal.UNKNOWN


def thread(message) -> tuple[Notice | None, Case | None, str]:
    """The notice (or victim case) this message answers, and how we know."""
    references = _ids(_header(message, "In-Reply-To")) + list(reversed(_ids(_header(message, "References"))))
    for how, ids in (("reply", references), ("bounce", _returned_ids(message) if is_bounce(message) else [])):
        sent = OutboxMessage.objects.filter(message_id__in=ids).select_related("notice", "case").first()
        if sent:
            return sent.notice, sent.case, how
    subject = _header(message, "Subject")
    token = TOKEN.search(subject)
    if token and (notice := Notice.objects.filter(token=token.group(0)).select_related("case").first()):
        return notice, notice.case, "token"
    for code in re.findall(r"\bKesu ([A-Z2-9]{8,16})\]", subject):
        case = Case.objects.filter(victim__code=code).order_by("-created_at").first()
        if case:
            return None, case, "code"
    return None, None, ""


def record(message, mailbox_uid: str, *, too_big: bool = False) -> str:
    notice, case, how = thread(message)
    text = "" if too_big else _text(message)
    proposal = propose(message, text)
    if case is not None and notice is None and proposal not in (Reply.Proposal.BOUNCE, Reply.Proposal.AUTO_REPLY):
        proposal = Reply.Proposal.VICTIM
    key = case.data_key if case else vault.mailbox_key()
    sender = getaddresses([_header(message, "From")])
    try:
        received = parsedate_to_datetime(_header(message, "Date")) or timezone.now()
    except (TypeError, ValueError, IndexError):
        received = timezone.now()
    if timezone.is_naive(received):
        received = received.replace(tzinfo=UTC)
    content = {"from": _header(message, "From"), "subject": _header(message, "Subject"), "text": text}
    if too_big:
        content["note"] = f"larger than {settings.KESU_MAIL_MAX_MB} MB: read it in the mailbox"
    try:
        with transaction.atomic():
            reply = Reply.objects.create(
                mailbox_uid=mailbox_uid,
                message_id=_header(message, "Message-ID"),
                notice=notice,
                case=case,
                threaded_by=how,
                from_domain=mail.domain_of(sender[0][1]) if sender and "@" in sender[0][1] else "",
                received_at=received,
                data_key=key,
                sealed=vault.seal_json(key, content, "reply.content"),
                proposal=proposal,
            )
            if notice:
                event(notice, "reply", "system:mailbox", reply=reply.pk, proposal=proposal)
    except IntegrityError:
        return "own"  # already taken in an earlier fetch
    return "threaded" if case else "unthreaded"


def content_of(actor, reply: Reply) -> dict:
    """The reply's sender, subject and text (audited: a site's answer can quote her URLs)."""
    log_action(actor, "notice.reply.view", reply, case_id=reply.case_id)
    return vault.open_json(reply.data_key, reply.sealed, "reply.content", default={})


OUTCOME_OF = {
    Reply.Proposal.REMOVED: Outcome.DELETED,
    Reply.Proposal.REFUSED: Outcome.STILL_ONLINE,
    Reply.Proposal.MORE_INFO: Outcome.ONGOING,
}


def decide(actor, reply: Reply, decision: str) -> Reply:
    """Staff confirm (or correct) what a reply says; the notice follows."""
    if decision not in Reply.Proposal.values:
        raise UserError(f"unknown decision {decision!r}")
    if reply.decision:
        raise UserError("this reply was already decided")
    with transaction.atomic():
        reply.decision, reply.decided_by, reply.decided_at = decision, _user(actor), timezone.now()
        reply.save()
        log_action(actor, "notice.reply.decide", reply, case_id=reply.case_id, decision=decision)
        notice = reply.notice
        if notice and decision in OUTCOME_OF:
            services.set_outcome(actor, notice, OUTCOME_OF[decision])
            if decision == Reply.Proposal.MORE_INFO:  # wait for staff to answer them, no automatic reminders
                Notice.objects.filter(pk=notice.pk).update(resend_at=None)
        elif notice and decision == Reply.Proposal.BOUNCE:
            services.bounced(actor, notice)
        elif reply.case and decision == Reply.Proposal.VICTIM:
            text = vault.open_json(reply.data_key, reply.sealed, "reply.content", default={}).get("text", "")
            add_contact(actor, reply.case, ContactEntry.Direction.IN, ContactEntry.Channel.EMAIL, text)
    return reply


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
