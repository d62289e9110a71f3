"""Staff pages for notices: write, check, send, follow and settle them.

Views parse and render; compose, services, replies, templates, victim and outbox do the work. Everything
that belongs to a case is reached through ``case_for``: staff see their own cases, supervisors all of them,
and anybody else gets 404 as if it did not exist.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..audit.services import log_action
from ..cases.models import Consent
from ..cases.services import visible_cases
from ..cases.views import case_or_404
from ..law import regimes
from ..lib.errors import UserError
from ..lib.web import private
from ..matching.models import Hit
from ..matching.services import source_url
from ..patrol.views import recheck_rows
from ..sites.domains import host_of, to_unicode
from ..sites.models import Contact, Decision, Outcome, Role
from ..sites.services import unseen_changes
from . import compose, formfields, milestones, outbox, replies, search, services, templates, victim
from . import timeline as notice_timeline
from .forms import SlotForm, SubmittedForm, TemplateForm, VictimMessageForm
from .models import Notice, NoticeTemplate, OutboxMessage, Reply

FINISHED = (Notice.Status.CLOSED, Notice.Status.CANCELLED, Notice.Status.FAILED)
SETTLE = (Outcome.DELETED, Outcome.PARTLY_DELETED, Outcome.STILL_ONLINE)


def _notice(request, notice_id) -> Notice:
    notice = Notice.objects.select_related("recipient", "template_version", "contact").filter(pk=notice_id).first()
    if notice is None:
        raise Http404
    notice.case = case_or_404(request, notice.case_id)
    return notice


def _reply(request, reply_id) -> Reply:
    """A reply of a visible case; replies nobody could thread are for supervisors only."""
    reply = Reply.objects.select_related("notice", "data_key").filter(pk=reply_id).first()
    if reply is None or (reply.case_id is None and not request.user.sees_all_cases):
        raise Http404
    if reply.case_id is not None:
        reply.case = case_or_404(request, reply.case_id)
    return reply


def _visible(queryset, user):
    """Rows of the user's cases; supervisors also get the rows that belong to no case."""
    return queryset if user.sees_all_cases else queryset.filter(case__in=visible_cases(user))


def _report(request, prepared: compose.Prepared) -> None:
    """One message line per thing staff should know after notices were prepared."""
    count = len(prepared.notices)
    if count:
        text = ngettext("%(n)d draft notice prepared.", "%(n)d draft notices prepared.", count)
        messages.success(request, text % {"n": count})
    for reason in prepared.unrouted:
        messages.warning(request, _("Not prepared: %(reason)s") % {"reason": reason})
    if prepared.already_open:
        text = ngettext(
            "%(n)d URL is already in an open notice to the same recipient.",
            "%(n)d URLs are already in an open notice to the same recipient.",
            prepared.already_open,
        )
        messages.info(request, text % {"n": prepared.already_open})


# --- a case's notices ---------------------------------------------------------------------------------------


@login_required
def case_notices(request, case_id):
    case = case_or_404(request, case_id)
    rows = [(notice, regimes.label(notice.regime)) for notice in services.notices_for(case)]
    return render(request, "notices/case.html", {"case": case, "rows": rows})


def _ids(values) -> list[int]:
    return [int(value) for value in values if value.isdigit()]


STEPS = (
    ("copies", gettext_lazy("Copies")),
    ("routing", gettext_lazy("Who and which law")),
    ("template", gettext_lazy("Template")),
    ("check", gettext_lazy("Check")),
    ("send", gettext_lazy("Send")),
)


def _stepper(current: str, finished: bool = False) -> list[tuple[int, str, str, str]]:
    """(number, key, label, state) for the composer's five steps; state is done, current or todo. A notice
    that left the desk (or was closed) shows every step done: the indicator stays, in every state."""
    at = len(STEPS) if finished else [key for key, _label in STEPS].index(current)
    states = ["done"] * at + ["current"] + ["todo"] * (len(STEPS) - at - 1)
    states = states[: len(STEPS)]
    return [(n, key, label, state) for n, ((key, label), state) in enumerate(zip(STEPS, states, strict=True), 1)]


def _host(url: str) -> str:
    try:
        return to_unicode(host_of(url))
    except UserError:  # a place that is no web address is still shown in full in its row
        return ""


def _hit_rows(case) -> list[tuple[Hit, str, str]]:
    """(hit, URL, host) for every hit a notice can name."""
    # Only hits staff confirmed as hers are named (kesu.matching.lifecycle); hits without a recorded place
    # cannot be named in a notice.
    hits = Hit.objects.filter(case=case, source_url_sealed__isnull=False, status=Hit.Status.CONFIRMED)
    rows = [(hit, source_url(hit)) for hit in hits.select_related("case__data_key")]
    return [(hit, url, _host(url)) for hit, url in rows]


def _chosen_hits(request) -> list[int]:
    """The hits ticked in the form; on arrival, those the review queue or the case page passed as ?hits=1,2,3."""
    if request.method == "POST":
        return _ids(request.POST.getlist("hits"))
    return _ids(",".join(request.GET.getlist("hits")).split(","))


def _labels(step) -> tuple[str, str]:
    """The step's role and channel as people read them."""
    roles, channels = dict(Role.choices), dict(Contact.Channel.choices)
    return roles.get(step.role, step.role), channels.get(step.channel, step.channel)


def _proposal_rows(plan: compose.Plan) -> list[dict]:
    return [
        {"proposal": p, "labels": _labels(p.step), "later": [(step, *_labels(step)) for step in p.later]}
        for p in plan.proposals
    ]


def _compose_context(request, case) -> dict:
    chosen = _chosen_hits(request)
    return {
        "case": case,
        "hits": _hit_rows(case),
        "chosen": chosen,
        "urls": request.POST.get("urls", ""),
        "copyright": request.POST.get("copyright") == "1",
    }


def _prepare(request, case, context):
    prepared = compose.prepare(
        request.user, case, urls=context["urls"].splitlines(), hit_ids=context["chosen"], copyright=context["copyright"]
    )
    _report(request, prepared)
    # From the composer, a single draft opens at its next step (template); several are listed on the case.
    if request.POST.get("stage") == "prepare" and len(prepared.notices) == 1:
        return redirect("notices:detail", notice_id=prepared.notices[0].pk)
    return redirect("notices:case", case_id=case.pk)


@login_required
def notice_new(request, case_id):
    """Steps 1 and 2 of the composer: choose the copies, then see who would get which notice under which law.

    A POST with ``stage=propose`` shows the routing proposal and writes nothing; ``stage=choose`` goes back
    to the copies; any other POST prepares the drafts.
    """
    case = case_or_404(request, case_id)
    context = _compose_context(request, case)
    stage = request.POST.get("stage", "") if request.method == "POST" else "choose"
    if stage != "choose":
        try:
            if stage != "propose":
                return _prepare(request, case, context)
            plan = compose.propose(
                case, urls=context["urls"].splitlines(), hit_ids=context["chosen"], copyright=context["copyright"]
            )
        except UserError as error:
            messages.error(request, str(error))
        else:
            context.update(plan=plan, proposals=_proposal_rows(plan), steps=_stepper("routing"))
            return private(render(request, "notices/new.html", context))
    context["steps"] = _stepper("copies")
    return private(render(request, "notices/new.html", context))


# --- one notice ----------------------------------------------------------------------------------------------


def _checklist(notice: Notice, result: compose.Check) -> list[tuple[str, str]]:
    """(label, why it is missing or "") for every element the regime needs, then any other problem."""
    why = {element: reason for element, _label, reason in result.missing}
    required = result.regime.required_for(notice.case.case_type)
    unchecked = "" if result.rendered else _("no template to check it against")
    rows = [(str(regimes.ELEMENTS[element]), why.get(element, unchecked)) for element in required]
    rows += [(label, reason) for element, label, reason in result.missing if element not in required]
    return rows


def _draft_context(request, notice: Notice) -> dict:
    result = compose.check(notice, actor=request.user)
    missing = {element for element, _label, _why in result.missing}
    checklist = _checklist(notice, result)
    address_changed, address_step = compose.address_now(notice)
    return {
        "address_changed": address_changed,
        "address_step": address_step,
        "can_readdress": address_step is not None and address_step.channel in compose.CHANNELS,
        "check": result,
        "checklist": checklist,
        "can_record_identity": "requester" in missing and Consent.NAME_IN_NOTICES in (notice.case.consent or []),
        "languages": templates.languages_for(notice.regime),
        "versions": compose.versions_for(notice),
        "version_chosen": notice.template_version_id,
        "missing_labels": [label for label, why in checklist if why],
        "steps": _stepper("template"),
    }


@login_required
def notice_detail(request, notice_id):
    notice = _notice(request, notice_id)
    regime = regimes.REGIMES.get(notice.regime)
    context = {
        "notice": notice,
        "case": notice.case,
        "regime": regime,
        "regime_label": regimes.label(notice.regime),
        "outcomes": [(value, label) for value, label in Outcome.choices if value in SETTLE],
        "events": notice_timeline.events_of(notice),
        "outbox": notice.messages.all(),
        "replies": notice.replies.all(),
        "proposals": Reply.Proposal.choices,
        "rechecks": recheck_rows(notice),
        "legal_events": milestones.recordable(notice),
        "decisions": Decision.choices,
    }
    context["steps"] = _stepper("send", finished=notice.was_sent or notice.status in FINISHED)
    context["back_to_copies"] = ",".join(str(pk) for pk in notice.hits.values_list("pk", flat=True))
    if notice.status == Notice.Status.DRAFT:
        context.update(_draft_context(request, notice))
    elif notice.subject_sealed is not None:
        context["subject"], context["body"] = services.text_of(notice)
        log_action(request.user, "notice.view", notice, case_id=notice.case_id)
    return private(render(request, "notices/detail.html", context))


def _send(request, notice):
    services.send(request.user, notice)
    if notice.channel == Notice.Channel.FORM:
        return _("Queued: once the evidence is preserved, the text is ready for the web form.")
    return _("Queued: the evidence is preserved, then the notice goes out.")


def _cancel(request, notice):
    services.cancel(request.user, notice)
    return _("Notice cancelled.")


def _language(request, notice):
    services.change_language(request.user, notice, request.POST.get("language", ""))
    return _("Language changed.")


def _template(request, notice):
    chosen = request.POST.get("version", "")
    compose.choose_version(request.user, notice, int(chosen) if chosen.isdigit() else None)
    return _("Template changed: the preview below uses it.")


def _readdress(request, notice):
    compose.readdress(request.user, notice)
    return _("The draft now goes to the recipient's current confirmed address.")


def _identity(request, notice):
    compose.record_identity_consent(request.user, notice)
    return _("Her agreement to give her name to this recipient was recorded.")


def _outcome(request, notice):
    outcome = request.POST.get("outcome", "")
    if outcome not in SETTLE:
        raise UserError(_("Choose an outcome."))
    services.set_outcome(request.user, notice, outcome)
    return _("Outcome recorded.")


def _legal_event(request, notice):
    post = request.POST
    when = milestones.parse_local(post.get("at", ""))
    milestones.record(request.user, notice, post.get("kind", ""), when, post.get("decision", ""))
    return _("Recorded on the notice and its case's timeline.")


def _escalate(request, notice):
    prepared = services.escalate(request.user, notice)
    _report(request, prepared)
    return "" if prepared.notices or prepared.unrouted else _("Nobody further up the ladder for these URLs.")


ACTIONS = {
    "send": _send,
    "cancel": _cancel,
    "language": _language,
    "template": _template,
    "identity": _identity,
    "readdress": _readdress,
    "outcome": _outcome,
    "escalate": _escalate,
    "legal-event": _legal_event,
}


@login_required
@require_POST
def notice_action(request, notice_id, action):
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404
    notice = _notice(request, notice_id)
    try:
        text = handler(request, notice)
    except UserError as error:
        messages.error(request, str(error))
    else:
        if text:
            messages.success(request, text)
    return redirect("notices:detail", notice_id=notice.pk)


@login_required
def notice_form(request, notice_id):
    """Helper for a recipient that takes notices only through its web form: copy each field, then confirm."""
    notice = _notice(request, notice_id)
    if notice.status != Notice.Status.FORM:
        messages.error(request, _("This notice is not waiting for a web form."))
        return redirect("notices:detail", notice_id=notice.pk)
    form = SubmittedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.form_submitted(request.user, notice, form.cleaned_data["reference"])
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Recorded as submitted: reminders and the deadline start now."))
        return redirect("notices:detail", notice_id=notice.pk)
    log_action(request.user, "notice.view", notice, case_id=notice.case_id)
    fields = formfields.fields_for(notice, get_language() or "en")
    context = {"notice": notice, "fields": fields, "webform": formfields.engine_form(notice), "form": form}
    return private(render(request, "notices/form.html", context))


# --- replies ---------------------------------------------------------------------------------------------------


@login_required
def reply_read(request, reply_id):
    reply = _reply(request, reply_id)
    content = replies.content_of(request.user, reply)
    return private(render(request, "notices/reply.html", {"reply": reply, "content": content}))


@login_required
@require_POST
def reply_decide(request, reply_id):
    reply = _reply(request, reply_id)
    try:
        replies.decide(request.user, reply, request.POST.get("decision", ""))
    except UserError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Decision recorded."))
    if reply.notice_id and request.POST.get("back") != "queue":
        return redirect("notices:detail", notice_id=reply.notice_id)
    return redirect("notices:queue")


# --- the desk's queue ---------------------------------------------------------------------------------------------


QUEUE_SHOWN = 25


def _section(request, name: str, rows):
    """One list of the queue, a page at a time (``?<name>=N``): a desk with hundreds of drafts still gets its
    page at once, newest first."""
    return Paginator(rows.order_by("-pk"), QUEUE_SHOWN).get_page(request.GET.get(name))


@login_required
def queue(request):
    user = request.user
    notices = _visible(Notice.objects.select_related("recipient", "case__victim"), user)
    context = {
        "drafts": _section(request, "drafts", notices.filter(status=Notice.Status.DRAFT)),
        "forms": _section(request, "forms", notices.filter(status=Notice.Status.FORM)),
        "failed": _section(request, "failed", notices.filter(status=Notice.Status.FAILED)),
        "replies": _section(
            request, "replies", _visible(Reply.objects.filter(decision="").select_related("notice", "case"), user)
        ),
        "uncertain": _visible(OutboxMessage.objects.filter(status=OutboxMessage.Status.UNCERTAIN), user),
        "proposals": Reply.Proposal.choices,
        "site_changes": unseen_changes(user).count(),
    }
    if request.method == "POST":  # a search: posted, so a URL searched for stays out of logs and history
        context["found"] = search.find(notices, request.POST.get("q", ""))[:QUEUE_SHOWN]
        context["searched"] = True
    return render(request, "notices/queue.html", context)


@login_required
@require_POST
def outbox_resolve(request, message_id):
    """A supervisor checked the mail server's log: the message was sent, or it goes again."""
    if not request.user.sees_all_cases:
        raise Http404
    message = get_object_or_404(OutboxMessage, pk=message_id, status=OutboxMessage.Status.UNCERTAIN)
    was_sent = request.POST.get("sent") == "1"
    outbox.resolve_uncertain(request.user, message, was_sent=was_sent)
    messages.success(request, _("Marked as sent.") if was_sent else _("It will be sent again."))
    return redirect("notices:queue")


# --- templates ---------------------------------------------------------------------------------------------------


@login_required
def template_list(request):
    slots = NoticeTemplate.objects.prefetch_related("versions")
    rows = [(slot, next(iter(slot.versions.all()), None), regimes.label(slot.regime)) for slot in slots]
    return render(request, "notices/templates.html", {"rows": rows, "slot_form": SlotForm()})


@login_required
@require_POST
def template_new(request):
    if not request.user.sees_all_cases:
        raise Http404
    form = SlotForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a regime and a language."))
        return redirect("notices:templates")
    try:
        slot = templates.new_slot(request.user, **form.cleaned_data)
    except UserError as error:
        messages.error(request, str(error))
        return redirect("notices:templates")
    messages.success(request, _("Template slot ready: edit its text below."))
    return redirect("notices:template", template_id=slot.pk)


@login_required
def template_detail(request, template_id):
    slot = get_object_or_404(NoticeTemplate, pk=template_id)
    if request.method == "POST" and not request.user.sees_all_cases:
        raise Http404
    versions = list(slot.versions.all())
    latest = versions[0] if versions else None
    initial = {"subject": latest.subject, "body": latest.body} if latest else {}
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            version = templates.save_version(request.user, slot, data["subject"], data["body"])
        except UserError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, _("Saved as version %(n)d.") % {"n": version.number})
            return redirect("notices:template", template_id=slot.pk)
    context = {
        "slot": slot,
        "regime_label": regimes.label(slot.regime),
        "versions": versions,
        "latest": latest,
        "form": form if request.user.sees_all_cases else None,
    }
    return render(request, "notices/template.html", context)


# --- messages to her ------------------------------------------------------------------------------------------------


@login_required
def victim_message(request, case_id):
    case = case_or_404(request, case_id)
    if request.method == "POST":
        form = VictimMessageForm(request.POST)
        if form.is_valid():
            try:
                victim.send_to_victim(request.user, case, form.cleaned_data["subject"], form.cleaned_data["body"])
            except UserError as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("The message to her is queued."))
                return redirect("notices:case", case_id=case.pk)
    else:
        subject, body = victim.status_draft(case)
        form = VictimMessageForm(initial={"subject": subject, "body": body})
    return private(render(request, "notices/victim_message.html", {"case": case, "form": form}))
