"""Writing notices: which URLs go to whom (one notice per recipient), and the text for each.

``prepare`` routes every chosen URL (``sites.routing``), takes the first step of its ladder that a notice
can serve, and batches the URLs by recipient, channel and regime: mirrors of one operator land in one
notice. ``propose`` is the same routing as a dry run (the composer's step 2 shows it before anything is
written); ``prepare`` drafts what it proposes. ``check`` renders the notice from its template (the
version staff chose for a draft, else the newest) and says which required element is missing and why.
Her name and address go in only where the regime needs them, the case records her consent to name her,
and she agreed for this very recipient (``IdentityConsent``).
"""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..audit.services import Actor, log_action
from ..cases.models import Consent
from ..cases.services import CODE_ALPHABET, victim_details
from ..law import regimes
from ..lib.errors import UserError
from ..matching import lifecycle
from ..matching.models import Hit
from ..matching.services import source_url
from ..sites.models import Contact, Site
from ..sites.routing import Step, route
from ..vault import services as vault
from . import clocks, render, templates
from .models import IdentityConsent, Notice, NoticeEvent, NoticeTemplate, NoticeUrl, TemplateVersion

CHANNELS = (Contact.Channel.EMAIL, Contact.Channel.FORM)
OPEN = (Notice.Status.DRAFT, Notice.Status.QUEUED, Notice.Status.FORM, Notice.Status.SENT)


@dataclass
class Prepared:
    notices: list[Notice] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)  # reasons, one per URL that found no recipient
    already_open: int = 0


@dataclass
class Check:
    rendered: render.Rendered | None
    version: object | None
    missing: list[tuple[str, str, str]]  # (element, what it is, why it is missing)
    identity: bool
    regime: regimes.Regime

    @property
    def complete(self) -> bool:
        return self.rendered is not None and not self.missing


def new_token() -> str:
    while True:
        token = "KS-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if not Notice.objects.filter(token=token).exists():
            return token


def urls_of(notice: Notice) -> list[str]:
    return vault.open_json(notice.case.data_key, notice.urls_sealed, "notice.urls", default=[])


def _notice_step(ladder, after: int = 0, not_to=()):
    for step in ladder.active:
        if step.order <= after or step.recipient is None or step.recipient.pk in not_to:
            continue
        if step.channel in CHANNELS and regimes.for_notice(step.legal_basis):
            return step
    return None


def _open_urls(case, recipient_id) -> set[str]:
    taken = set()
    for notice in case.notices.filter(recipient_id=recipient_id, status__in=OPEN):
        taken.update(urls_of(notice))
    return taken


@dataclass
class Proposal:
    """One notice ``prepare`` would write: the rung of the ladder it serves and the URLs it would carry.

    ``later`` are the rungs after this one (for people: who is asked if this recipient does not act);
    ``already_open`` the URLs left out because an open notice to the same recipient names them.
    """

    step: Step
    regime: regimes.Regime
    site: Site | None
    language: str
    urls: list[str] = field(default_factory=list)
    later: list[Step] = field(default_factory=list)
    already_open: int = 0

    @property
    def recipient(self):
        return self.step.recipient

    @property
    def fresh(self) -> int:
        return len(self.urls) - self.already_open

    @property
    def deadline_hours(self) -> int | None:
        """Hours the recipient gets before the next rung is due (None: open-ended)."""
        return int(self.step.deadline.total_seconds() // 3600) if self.step.deadline else None


@dataclass
class Plan:
    """What ``prepare`` would do for a choice of URLs, computed without writing anything."""

    proposals: list[Proposal] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)  # reasons, one per URL that found no recipient
    by_url: dict[str, list[Hit]] = field(default_factory=dict)


def _wanted(case, urls, hit_ids) -> tuple[list[str], dict[str, list[Hit]]]:
    """The chosen URLs in order (hits first, duplicates once) and the hits behind each."""
    hits = list(Hit.objects.filter(case=case, pk__in=hit_ids).select_related("case__data_key"))
    missing = sorted(set(map(int, hit_ids)) - {hit.pk for hit in hits})
    if missing:
        raise UserError(_("No hit #%(id)d in this case.") % {"id": missing[0]})
    lifecycle.check_all(hits, lifecycle.Event.NAME)
    by_url: dict[str, list[Hit]] = {}
    for hit in hits:
        by_url.setdefault(source_url(hit), []).append(hit)
    wanted = list(dict.fromkeys([*by_url, *(u.strip() for u in urls if u.strip())]))
    if not wanted:
        raise UserError("choose at least one URL or hit")
    return wanted, by_url


def _later(ladder, step, into: list[Step]) -> None:
    """Add the ladder's active rungs after ``step`` that ``into`` does not list yet (mirrors share rungs)."""
    seen = {(s.role, s.recipient_name) for s in into}
    for rung in ladder.active:
        if rung.order > step.order and (rung.role, rung.recipient_name) not in seen:
            into.append(rung)
            seen.add((rung.role, rung.recipient_name))


def propose(case, *, urls=(), hit_ids=(), copyright=False, after: Notice | None = None) -> Plan:
    """The routing proposal: per recipient, the rung, the law and the URLs ``prepare`` would draft for.

    Reads only (routing, the case's open notices); raises UserError when nothing was chosen.
    """
    wanted, by_url = _wanted(case, urls, hit_ids)
    plan, groups = Plan(by_url=by_url), {}
    not_to = {after.recipient_id} if after else set()
    for n, url in enumerate(wanted, 1):
        try:
            ladder = route(url, case.case_type, victim_holds_copyright=copyright)
        except UserError as error:
            plan.unrouted.append(f"URL {n}: {error}")
            continue
        step = _notice_step(ladder, after.step if after else 0, not_to)
        if step is None:
            reasons = "; ".join(s.skip_reason for s in ladder.steps if s.skip and s.skip_reason)[:200]
            plan.unrouted.append(f"URL {n} ({ladder.domain}): nobody to send a notice to ({reasons or 'no contact'})")
            continue
        regime = regimes.for_notice(step.legal_basis)
        key = (step.recipient.pk, step.channel, step.address, regime.key)
        if key not in groups:
            org = step.recipient
            language = templates.choose_language(org.languages, org.country, regime.key)
            groups[key] = Proposal(step, regime, ladder.site, language)
        groups[key].urls.append(url)
        _later(ladder, step, groups[key].later)
    plan.proposals = list(groups.values())
    for proposal in plan.proposals:
        taken = _open_urls(case, proposal.recipient.pk)
        proposal.already_open = sum(1 for u in proposal.urls if u in taken)
    return plan


def prepare(actor, case, *, urls=(), hit_ids=(), copyright=False, after: Notice | None = None) -> Prepared:
    """Draft one notice per recipient for these URLs (and the URLs of these hits of the case)."""
    plan = propose(case, urls=urls, hit_ids=hit_ids, copyright=copyright, after=after)
    result = Prepared(unrouted=plan.unrouted)
    with transaction.atomic():
        for proposal in plan.proposals:
            # Read again inside the transaction: the proposal may be older than another draft.
            taken = _open_urls(case, proposal.recipient.pk)
            fresh = [u for u in proposal.urls if u not in taken]
            result.already_open += len(proposal.urls) - len(fresh)
            if fresh:
                notice = _create(actor, case, proposal, fresh, after)
                notice.hits.set([h for u in fresh for h in plan.by_url.get(u, [])])
                result.notices.append(notice)
    return result


def _create(actor, case, proposal: Proposal, urls, after) -> Notice:
    step, regime = proposal.step, proposal.regime
    notice = Notice.objects.create(
        case=case,
        recipient=step.recipient,
        site=proposal.site,
        role=step.role,
        channel=step.channel,
        address=step.address,
        contact=step.contact,
        regime=regime.key,
        language=proposal.language,
        step=step.order,
        deadline_hours=proposal.deadline_hours,
        flags=sorted(step.flags),
        token=new_token(),
        urls_sealed=vault.seal_json(case.data_key, urls, "notice.urls"),
        url_count=len(urls),
        escalated_from=after,
        created_by=Actor.of(actor).label,
    )
    NoticeUrl.objects.bulk_create([NoticeUrl(notice=notice, key=vault.blind_index(url)) for url in urls])
    event(notice, "prepared", actor, urls=len(urls), regime=regime.key, step=step.order)
    log_action(actor, "notice.prepare", notice, case_id=case.pk, regime=regime.key, urls=len(urls))
    return notice


# --- the address ------------------------------------------------------------------------------------------


def address_now(notice: Notice) -> tuple[bool, Step | None]:
    """(changed, step): the rung that reaches the notice's recipient today (None: none does), and whether its
    address differs from the one the notice was composed with. Sending never uses it: only staff, on a draft."""
    urls = urls_of(notice)
    try:
        ladder = route(urls[0], notice.case.case_type) if urls else None
    except UserError:  # the URL no longer routes at all: nobody reaches the recipient through it
        ladder = None
    steps = ladder.active if ladder else []
    step = next((s for s in steps if s.recipient is not None and s.recipient.pk == notice.recipient_id), None)
    changed = step is None or (step.channel, step.address) != (notice.channel, notice.address)
    return changed, step


def readdress(actor, notice: Notice) -> Notice:
    """Staff move a draft to the address its recipient's confirmed contacts give today (audited)."""
    if notice.status != Notice.Status.DRAFT:
        raise UserError("only a draft's address can change")
    changed, step = address_now(notice)
    if step is None or step.channel not in CHANNELS:
        raise UserError(f"{notice.recipient.name} cannot be reached by e-mail or web form now; cancel this draft")
    if not changed:
        return notice
    previous = notice.contact_id
    notice.channel, notice.address, notice.contact = step.channel, step.address, step.contact
    notice.save(update_fields=["channel", "address", "contact"])
    now_id = step.contact.pk if step.contact else None
    event(notice, "readdressed", actor, contact=now_id, previous=previous)
    log_action(actor, "notice.readdress", notice, case_id=notice.case_id, contact=now_id, previous=previous)
    return notice


def event(notice: Notice, kind: str, actor, **detail) -> NoticeEvent:
    return NoticeEvent.objects.create(notice=notice, kind=kind, actor=Actor.of(actor).label, detail=detail)


# --- the text ---------------------------------------------------------------------------------------------


def identity_allowed(notice: Notice) -> bool:
    """Her identity may go to this recipient: the law needs it, and she agreed (case-wide and for them)."""
    regime = regimes.get(notice.regime)
    return (
        regime.needs_identity
        and Consent.NAME_IN_NOTICES in (notice.case.consent or [])
        and IdentityConsent.objects.filter(case=notice.case, recipient=notice.recipient).exists()
    )


def context_for(notice: Notice, *, actor="system:notices", reminder: int = 0, now=None) -> dict:
    now = now or timezone.now()
    case = notice.case
    urls = urls_of(notice)
    context = {
        "token": notice.token,
        "today": timezone.localtime(now).date().isoformat(),
        "org": dict(settings.KESU_ORG),
        "recipient": {"name": notice.recipient.name, "role": notice.role, "country": notice.recipient.country},
        "case_type": case.case_type,
        "urls": urls,
        "url_count": len(urls),
        "deadline_hours": notice.deadline_hours or "",
        "evidence_count": len(notice.evidence),
        "evidence_date": timezone.localtime(now).date().isoformat() if notice.evidence else "",
        "do_not_forward": "do_not_forward_to_operator" in notice.flags,
        "ask_origin": "ask_origin_disclosure" in notice.flags,
        "reminder": reminder,
        "first_sent": timezone.localtime(notice.sent_at).date().isoformat() if notice.sent_at else "",
    }
    if not context["deadline_hours"]:
        del context["deadline_hours"]
    if case.mandate_signed_on:
        context["authority_date"] = case.mandate_signed_on.isoformat()
    if identity_allowed(notice):
        details = victim_details(actor, case)
        victim = {"name": details.name, "address": details.contact.get("address", "")}
        context["victim"] = {k: v for k, v in victim.items() if v}
    return context


WHY = {  # shown on the draft's page, in the reader's language
    "requester": gettext_lazy("her name and address: %(reason)s"),
    "authority": gettext_lazy("the case has no signed mandate (power of attorney) date; record it on the case"),
    "urls": gettext_lazy("a URL is not in the text"),
}


def _why_identity(notice: Notice) -> str:
    if Consent.NAME_IN_NOTICES not in (notice.case.consent or []):
        return _("she has not agreed to have her name given where a law requires it (case consent)")
    if not IdentityConsent.objects.filter(case=notice.case, recipient=notice.recipient).exists():
        return _("she has not agreed to give them to %(name)s; record her agreement first") % {
            "name": notice.recipient.name
        }
    return _("her name or address is not on file")


def _slots(notice: Notice) -> list[NoticeTemplate]:
    """The template slots that fit this notice (regime, language, case type, role), most specific first."""
    order = [(notice.case.case_type, notice.role), (notice.case.case_type, ""), ("", notice.role), ("", "")]
    slots = NoticeTemplate.objects.filter(regime=notice.regime, language=notice.language)
    found = {(slot.case_type, slot.role): slot for slot in slots}
    return [found[key] for key in order if key in found]


def versions_for(notice: Notice) -> list[TemplateVersion]:
    """Every template version staff may choose for this notice, the most specific slot's newest first."""
    return [version for slot in _slots(notice) for version in slot.versions.order_by("-number")]


def _chosen_version(notice: Notice) -> TemplateVersion | None:
    """The version staff chose for a draft, while it still fits (a language change drops the choice).

    Only until the text is fixed: reminders of a sent notice keep following the newest text, as before.
    """
    if notice.template_version_id is None or notice.status not in (Notice.Status.DRAFT, Notice.Status.QUEUED):
        return None
    version = TemplateVersion.objects.select_related("template").get(pk=notice.template_version_id)
    slot = version.template
    return version if slot.regime == notice.regime and slot.language == notice.language else None


def choose_version(actor, notice: Notice, version_id: int | None) -> None:
    """Staff pick the template version a draft is written from (None: the newest one again)."""
    if notice.status != Notice.Status.DRAFT:
        raise UserError("only a draft's template can change")
    version = None
    if version_id is not None:
        version = next((v for v in versions_for(notice) if v.pk == version_id), None)
        if version is None:
            raise UserError(f"no {notice.regime} template version in {notice.language!r} fits this notice")
    notice.template_version = version
    notice.save(update_fields=["template_version"])
    event(notice, "template", actor, version=version.number if version else "latest")
    log_action(actor, "notice.template.choose", notice, case_id=notice.case_id, version=version_id)


def check(notice: Notice, *, actor="system:notices", reminder: int = 0, now=None) -> Check:
    regime = regimes.get(notice.regime)
    version = _chosen_version(notice) or templates.resolve(
        notice.regime, notice.language, notice.case.case_type, notice.role
    )
    if version is None:
        what = f"no template for {notice.regime} in {notice.language}"
        return Check(None, None, [("template", what, "load them: kesu notice templates")], False, regime)
    context = context_for(notice, actor=actor, reminder=reminder, now=now)
    rendered = render.render(version.subject, version.body, context)
    missing = []
    for element, lacking in rendered.missing(regime.required_for(notice.case.case_type)).items():
        if element == "requester":
            why = WHY["requester"] % {"reason": _why_identity(notice)}
        elif element in WHY and (element != "authority" or "authority_date" not in context):
            why = str(WHY[element])
        elif lacking:
            why = _("no value for %(names)s") % {"names": ", ".join(lacking)}
        else:
            why = _("the template has no such part")
        missing.append((element, str(regimes.ELEMENTS[element]), why))
    return Check(rendered, version, missing, "victim" in context, regime)


def record_identity_consent(actor, notice: Notice) -> None:
    """Staff record that she agreed to give her name and address to this recipient (audited)."""
    if Consent.NAME_IN_NOTICES not in (notice.case.consent or []):
        raise UserError("first record her consent to be named where a law requires it on the case")
    IdentityConsent.objects.get_or_create(
        case=notice.case, recipient=notice.recipient, defaults={"recorded_by": Actor.of(actor).label}
    )
    event(notice, "identity_consent", actor)
    log_action(actor, "notice.identity_consent", notice, case_id=notice.case_id, recipient=notice.recipient_id)


def due_times(notice: Notice, sent_at) -> tuple:
    """When to remind and when to escalate, from the moment it was sent; sets the notice's legal clock."""
    resend = sent_at + timedelta(hours=settings.KESU_RESEND_HOURS)
    return resend, clocks.on_sent(notice, sent_at)
