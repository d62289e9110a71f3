"""What notices add to the case page: each notice's events and outcomes, the replies, what is due (a message
that did not go out, escalations, replies to decide, drafts, web forms), its section, and the answers the page's
actions need (the hits to preselect for removal, the notices still open when closing). Registered in
``NoticesConfig.ready()``."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..cases import timeline
from ..cases.models import Case
from ..cases.timeline import Action, Event, bunched, by
from ..law.clocks import Standing
from ..law.regimes import REGIMES, get, label
from ..matching.models import Hit
from ..sites.models import Decision, Outcome
from .models import Notice, NoticeEvent, OutboxMessage, Reply

MAX_PRESELECTED = 200  # hit ids handed to the notice composer in its URL
FAILED_MAIL_DAYS = 14  # a failed message stays on the case's to-do list this long (nothing marks it seen)


def register() -> None:
    kinds = {"notice": gettext_lazy("Notices"), "outcome": gettext_lazy("Outcomes")}
    timeline.register_events(kinds, notice_events)
    timeline.register_events({"reply": gettext_lazy("Replies")}, replies)
    timeline.register_due(due)
    timeline.register_section(section)
    timeline.register_answer("removal_hit_ids", removal_hit_ids)
    timeline.register_answer("open_notices", open_notices)


@lru_cache(maxsize=4096)
def notice_link(notice_id: int) -> str:
    return reverse("notices:detail", args=[notice_id])


NOTICE_TITLES = {
    "prepared": gettext_lazy("Notice to %(recipient)s drafted"),
    "queued": gettext_lazy("Notice to %(recipient)s queued"),
    "evidence": gettext_lazy("Evidence kept for the notice to %(recipient)s"),
    "held": gettext_lazy("Notice to %(recipient)s held: something is missing"),
    "form_ready": gettext_lazy("Notice to %(recipient)s ready for its web form"),
    "form_submitted": gettext_lazy("Notice to %(recipient)s submitted through its web form"),
    "send_failed": gettext_lazy("Sending to %(recipient)s failed"),
    "reminder": gettext_lazy("Reminder to %(recipient)s queued"),
    "reminder_held": gettext_lazy("Reminder to %(recipient)s held: something is missing"),
    "escalated": gettext_lazy("Notice to %(recipient)s escalated"),
    "after_bounce": gettext_lazy("Notice to %(recipient)s written after a bounce"),
    "bounced": gettext_lazy("Notice to %(recipient)s bounced"),
    "cancelled": gettext_lazy("Notice to %(recipient)s cancelled"),
    "identity_consent": gettext_lazy("Her agreement to give her name to %(recipient)s recorded"),
    "language": gettext_lazy("Language of the notice to %(recipient)s changed"),
    "receipt_confirmed": gettext_lazy("%(recipient)s confirmed receipt of the notice"),
    "decision": gettext_lazy("%(recipient)s notified its decision"),
    "template": gettext_lazy("Template of the notice to %(recipient)s chosen"),
    "readdressed": gettext_lazy("Notice to %(recipient)s readdressed"),
    "clock_started": gettext_lazy("Legal clock of the notice to %(recipient)s started"),
    "reply": gettext_lazy("Reply about the notice to %(recipient)s"),
}
SENT_TITLES = {
    OutboxMessage.Kind.NOTICE: gettext_lazy("Notice to %(recipient)s sent"),
    OutboxMessage.Kind.REMINDER: gettext_lazy("Reminder to %(recipient)s sent"),
    OutboxMessage.Kind.RECEIPT: gettext_lazy("Receipt sent to her"),
}
WARN_EVENTS = {"held", "send_failed", "reminder_held", "bounced"}


# --- the timeline ---------------------------------------------------------------------------------------------


def notice_events(case: Case, limit: int) -> Iterable[Event]:
    """NoticeEvent rows (one query); outcomes become their own kind. Replies come from Reply rows instead."""
    rows = (
        NoticeEvent.objects.filter(notice__case=case)
        .exclude(kind="reply")
        .values("kind", "at", "actor", "detail", "notice_id", "notice__recipient__name")
    )

    def many(group):
        first = _notice_event(group[0])
        title = _("%(title)s (×%(n)d)") % {"title": first.title, "n": len(group)}
        return Event(max(r["at"] for r in group), first.kind, title, first.detail, first.link, first.tone)

    return bunched(rows, "at", lambda r: (r["notice_id"], r["kind"]), _notice_event, many)


def events_of(notice: Notice) -> list[Event]:
    """One notice's own events, worded as on the case's timeline (the notice page's history)."""
    rows = notice.events.values("kind", "at", "actor", "detail", "notice_id", "notice__recipient__name")
    return [_notice_event(row) for row in rows]


def _notice_event(row: dict) -> Event:
    names, kind, detail = {"recipient": row["notice__recipient__name"]}, row["kind"], row["detail"] or {}
    link, actor = notice_link(row["notice_id"]), by(row["actor"])
    if kind in ("outcome", "observed"):
        return _outcome_event(row, names, link, actor)
    if kind == "sent":
        title = SENT_TITLES.get(detail.get("message"), gettext_lazy("Message about %(recipient)s sent")) % names
        return Event(row["at"], "notice", title, "", link, "done")
    title = NOTICE_TITLES.get(kind, gettext_lazy("Notice to %(recipient)s: %(step)s")) % {**names, "step": kind}
    extra = ""
    if kind == "prepared":
        extra = _("step %(step)s, %(n)s URL(s)") % {"step": detail.get("step", "?"), "n": detail.get("urls", "?")}
    elif kind == "send_failed" and detail.get("code"):
        extra = _("server answered %(code)s") % {"code": detail["code"]}
    elif kind in LEGAL_EVENTS:
        extra = _legal_extra(detail)
    elif kind == "escalated":
        extra = ngettext("%(n)d new notice", "%(n)d new notices", detail.get("notices", 0)) % {
            "n": detail.get("notices", 0)
        }
    tone = "warn" if kind in WARN_EVENTS else ""
    return Event(row["at"], "notice", title, " · ".join(p for p in (extra, actor) if p), link, tone)


LEGAL_EVENTS = ("receipt_confirmed", "decision", "clock_started")


def _legal_extra(detail: dict) -> str:
    """The decision and the moment the provider or authority stated (not when staff typed it)."""
    parts = [str(Decision(detail["decision"]).label)] if detail.get("decision") in Decision.values else []
    if detail.get("on"):
        parts.append(_("on %(when)s") % {"when": _moment(detail["on"])})
    if detail.get("due"):
        parts.append(_("runs out %(when)s") % {"when": _moment(detail["due"])})
    return ", ".join(parts)


def _moment(iso: str) -> str:
    return date_format(timezone.localtime(datetime.fromisoformat(iso)), "SHORT_DATETIME_FORMAT")


def _outcome_event(row: dict, names: dict, link: str, actor: str) -> Event:
    outcome = (row["detail"] or {}).get("outcome", "")
    label = Outcome(outcome).label if outcome in Outcome.values else outcome
    if row["kind"] == "observed":
        title = _("Re-checks show %(outcome)s at %(recipient)s") % {**names, "outcome": label}
    else:
        title = _("%(recipient)s: %(outcome)s") % {**names, "outcome": label}
    tone = "done" if outcome in (Outcome.DELETED, Outcome.PARTLY_DELETED) else ""
    tone = "warn" if outcome == Outcome.STILL_ONLINE else tone
    return Event(row["at"], "outcome", title, actor, link, tone)


def replies(case: Case, limit: int) -> Iterable[Event]:
    rows = list(
        Reply.objects.filter(Q(case=case) | Q(notice__case=case)).values(
            "pk",
            "received_at",
            "proposal",
            "decision",
            "decided_at",
            "decided_by__username",
            "from_domain",
            "notice__recipient__name",
        )  # fmt: skip
    )
    yield from bunched(rows, "received_at", lambda r: r["proposal"], _reply_received, _replies_received)
    labels = dict(Reply.Proposal.choices)
    for row in rows:
        if row["decision"] and row["decided_at"]:
            title = _("Reply read as: %(decision)s") % {"decision": labels.get(row["decision"], row["decision"])}
            link = reverse("notices:reply", args=[row["pk"]])
            yield Event(row["decided_at"], "reply", title, by(row["decided_by__username"]), link, "")


def _reply_received(row: dict) -> Event:
    labels = dict(Reply.Proposal.choices)
    link = reverse("notices:reply", args=[row["pk"]])
    if row["proposal"] == Reply.Proposal.VICTIM:  # her address, even its domain, stays off the page
        return Event(row["received_at"], "reply", _("E-mail from her received"), "", link)
    # Only the recipient's name: a reply threaded to the case alone (a bounce of a receipt we sent her, her
    # mailbox's auto-reply) comes from her domain, which is part of her contact.
    sender = row["notice__recipient__name"] or _("a message not about a notice")
    title = _("Reply from %(sender)s") % {"sender": sender}
    detail = _("looks like: %(proposal)s") % {"proposal": labels.get(row["proposal"], row["proposal"])}
    tone = "warn" if row["proposal"] in (Reply.Proposal.BOUNCE, Reply.Proposal.REFUSED) else ""
    return Event(row["received_at"], "reply", title, detail, link, tone)


def _replies_received(group: list[dict]) -> Event:
    labels, n = dict(Reply.Proposal.choices), len(group)
    title = ngettext("%(n)d reply received", "%(n)d replies received", n) % {"n": n}
    detail = _("looks like: %(proposal)s") % {"proposal": labels.get(group[0]["proposal"], "")}
    return Event(max(r["received_at"] for r in group), "reply", title, detail, "")


# --- what is due ----------------------------------------------------------------------------------------------


def due(case: Case, user, now: datetime) -> list[Action]:
    """A message that did not go out, escalations due, replies to decide, drafts to send, web forms to fill."""
    counts = case.notices.aggregate(
        escalate=Count("pk", filter=Q(status=Notice.Status.SENT, escalate_at__lte=now)),
        drafts=Count("pk", filter=Q(status=Notice.Status.DRAFT)),
        forms=Count("pk", filter=Q(status=Notice.Status.FORM)),
    )
    found = _failed_mail(case, now)
    if counts["escalate"]:
        found += _escalations(case, now)
    found += _clocks(case, now)
    found += _replies_waiting(case)
    found += _waiting_notices(case, Notice.Status.DRAFT, counts["drafts"])
    found += _waiting_notices(case, Notice.Status.FORM, counts["forms"])
    return found


def _failed_mail(case: Case, now: datetime) -> list[Action]:
    failed = OutboxMessage.objects.filter(case=case).filter(
        Q(status=OutboxMessage.Status.UNCERTAIN)
        | Q(status=OutboxMessage.Status.FAILED, created_at__gte=now - timedelta(days=FAILED_MAIL_DAYS))
    )
    rows = list(failed.values("notice_id", "status")[:50])
    if not rows:
        return []
    n = len(rows)
    title = ngettext("%(n)d message did not go out", "%(n)d messages did not go out", n) % {"n": n}
    first = next((r["notice_id"] for r in rows if r["notice_id"]), None)
    link = notice_link(first) if first else reverse("notices:case", args=[case.pk])
    detail = _("Check the address or resend; an uncertain one must be settled first.")
    return [Action("failed_mail", title, detail, link)]


def _escalations(case: Case, now: datetime) -> list[Action]:
    overdue = case.notices.filter(status=Notice.Status.SENT, escalate_at__lte=now).order_by("escalate_at")
    return [
        Action(
            "escalate",
            _("Escalation due: %(recipient)s") % {"recipient": row["recipient__name"]},
            _("the deadline passed on %(date)s")
            % {"date": date_format(timezone.localtime(row["escalate_at"]), "SHORT_DATETIME_FORMAT")},
            notice_link(row["pk"]),
            notice_id=row["pk"],
        )  # fmt: skip
        for row in overdue.values("pk", "escalate_at", "recipient__name")[:5]
    ]


MAX_CLOCKS = 5


def clock_text(due: datetime, now: datetime) -> str:
    """ "clock: 31 h left" or "clock missed by 2 days" (hours under two days, else whole days)."""
    state = Standing.at(due, now)
    if state.unit == "h":
        amount = ngettext("%(n)d hour", "%(n)d hours", state.amount) % {"n": state.amount}
    else:
        amount = ngettext("%(n)d day", "%(n)d days", state.amount) % {"n": state.amount}
    if state.missed:
        return _("clock missed by %(amount)s") % {"amount": amount}
    return _("clock: %(amount)s left") % {"amount": amount}


def _clocks(case: Case, now: datetime) -> list[Action]:
    """Every clock still running on an open notice, soonest first, and those already missed."""
    running = case.notices.filter(status=Notice.Status.SENT, clock_due_at__isnull=False).order_by("clock_due_at")
    rows = running.values("pk", "clock_due_at", "regime", "role", "recipient__name")[:MAX_CLOCKS]
    return [_clock_action(case, row, now) for row in rows]


def _clock_action(case: Case, row: dict, now: datetime) -> Action:
    clock = get(row["regime"]).clock_for(case.case_type, row["role"]) if row["regime"] in REGIMES else None
    law = label(row["regime"])
    if clock is not None and not clock.statutory:  # the desk's own period, not the law's: say so
        law = _("%(law)s (desk practice, no statutory period)") % {"law": law}
    when = date_format(timezone.localtime(row["clock_due_at"]), "SHORT_DATETIME_FORMAT")
    return Action(
        "clock",
        _("%(clock)s: %(recipient)s")
        % {"clock": clock_text(row["clock_due_at"], now), "recipient": row["recipient__name"]},
        _("%(law)s; runs out %(date)s") % {"law": law, "date": when},
        notice_link(row["pk"]),
        tone="warn" if row["clock_due_at"] <= now else "info",
    )


def _replies_waiting(case: Case) -> list[Action]:
    waiting = Reply.objects.filter(Q(case=case) | Q(notice__case=case), decision="").order_by("received_at")
    ids = list(waiting.values_list("pk", flat=True)[:100])
    if not ids:
        return []
    n = len(ids)
    title = ngettext("%(n)d reply waits for your decision", "%(n)d replies wait for your decision", n) % {"n": n}
    return [Action("replies", title, "", reverse("notices:reply", args=[ids[0]]))]


def _waiting_notices(case: Case, status: str, count: int) -> list[Action]:
    if not count:
        return []
    if status == Notice.Status.DRAFT:
        title = ngettext("%(n)d draft notice waits to be sent", "%(n)d draft notices wait to be sent", count)
    else:
        title = ngettext(
            "%(n)d notice waits to be entered in a web form", "%(n)d notices wait to be entered in web forms", count
        )
    link = reverse("notices:case", args=[case.pk])
    if count == 1:
        first = case.notices.filter(status=status).values_list("pk", flat=True).first()
        link = reverse("notices:form" if status == Notice.Status.FORM else "notices:detail", args=[first])
    return [Action("drafts" if status == Notice.Status.DRAFT else "forms", title % {"n": count}, "", link)]


# --- the page's section and actions -----------------------------------------------------------------------------


def section(case: Case) -> dict:
    return {"notices": case.notices.select_related("recipient")[:10]}


def removal_hit_ids(case: Case) -> list[int]:
    """Confirmed hits not yet in a live notice: preselected when staff ask for removal."""
    hits = case.hits.filter(status=Hit.Status.CONFIRMED, source_url_sealed__isnull=False)  # a notice names a place
    hits = hits.exclude(notices__status__in=Notice.LIVE)
    return list(hits.order_by("pk").values_list("pk", flat=True).distinct()[:MAX_PRESELECTED])


def open_notices(case: Case) -> list[Notice]:
    """Drafts and notices still going (queued, waiting for a form, sent and not settled)."""
    return list(case.notices.filter(status__in=Notice.LIVE).select_related("recipient").order_by("-created_at"))
