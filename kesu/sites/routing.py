"""The escalation ladder for one URL: who to ask, in which order, through which channel, under which law,
and how long to wait before the next step. Every step says why.

The usual order is ``LADDER``: operator, hosting provider, CDN, registrar, search engines, the hotline in
the hosting country, a lawyer. For child sexual abuse material the hotline goes first (and search engines
still apply). A big platform known to the knowledge base (platforms.json) is asked through its own form
as the operator step. ``route()`` only reads: a site the database does not know is reported as such,
never created.

Deadlines come from the data (jurisdictions.json, cloudflare.json), not from code. Each step is due
when the previous rung's deadline has run out; the search engines form one rung.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..cases.models import CaseType
from ..lib.errors import UserError
from . import knowledge as kb
from .domains import host_of, registrable, to_unicode
from .models import SETTLED, Contact, Organisation, Outcome, Role, Site, TakedownRequest

try:
    from .prediction import predict_for
except ImportError:  # routing works without predictions; they appear once the module is installed
    predict_for = None

LADDER = (Role.OPERATOR, Role.HOST, Role.CDN, Role.REGISTRAR, Role.SEARCH_ENGINE, Role.HOTLINE, Role.LAWYER)
RESOLVE = gettext_lazy("site not in the knowledge base yet; resolve it")
REUPLOAD_DEADLINE_HOURS = 24  # a site known to re-upload gets one day before its host is asked

WHY_ROLE = {
    Role.OPERATOR: gettext_lazy("The operator can delete the copy itself, so it gets the first notice."),
    Role.PLATFORM: gettext_lazy(
        "{name} runs this service; its own reporting form is what its moderators act on, so it "
        "replaces the operator step."
    ),
    Role.HOST: gettext_lazy(
        "The hosting provider can take the file or the site down when the operator does not act, so it "
        "comes after the operator."
    ),
    Role.CDN: gettext_lazy(
        "{name} only proxies the site and cannot delete the file, but it forwards the complaint to the "
        "host and the operator and can tell the desk who the host is."
    ),
    Role.REGISTRAR: gettext_lazy(
        "The registrar can suspend the whole domain; registrars rarely act on single pages, so it "
        "comes after those who can remove the file."
    ),
    Role.SEARCH_ENGINE: gettext_lazy(
        "Delisting hides the copy from searches for her name while it is still online; it can "
        "be sent earlier if she wants results hidden at once."
    ),
    Role.HOTLINE: gettext_lazy(
        "A member hotline works with the police and the hosts of its country (for CSAM about 2.5 days "
        "to removal where the hosting country has a member hotline, 28+ days where not). For adults' images it comes "
        "after the direct requests: hotlines act only where sharing them is a crime."
    ),
    Role.LAWYER: gettext_lazy(
        "When every request has failed, counsel can seek a court order (削除仮処分 in Japan) or sue."
    ),
}
CSAM_FIRST = gettext_lazy(
    "For child sexual abuse material the hotline goes first: the material is illegal everywhere, the hotline "
    "involves the police, and the desk must not keep or pass it on itself."
)


@dataclass
class Step:
    """One rung of the ladder. ``skip`` steps stay listed with the reason they do not apply."""

    order: int
    role: str
    recipient: Organisation | None = None
    recipient_name: str = ""
    channel: str = ""
    address: str = ""
    contact: Contact | None = None
    legal_basis: str = ""
    legal_basis_label: str = ""
    also_bases: tuple[str, ...] = ()
    deadline: timedelta | None = None
    deadline_basis: str = ""
    due_after: datetime | None = None
    reason: str = ""
    skip: bool = False
    skip_reason: str = ""
    flags: frozenset[str] = frozenset()
    prediction: object | None = None

    def as_dict(self) -> dict:
        return {
            "order": self.order,
            "role": self.role,
            "recipient": self.recipient_name,
            "channel": self.channel,
            "address": self.address,
            "legal_basis": self.legal_basis,
            "legal_basis_label": self.legal_basis_label,
            "also": list(self.also_bases),
            "deadline_hours": None if self.deadline is None else self.deadline.total_seconds() / 3600,
            "due_after": self.due_after.isoformat() if self.due_after else None,
            "reason": self.reason,
            "skip": self.skip,
            "skip_reason": self.skip_reason,
            "flags": sorted(self.flags),
            "probability": getattr(self.prediction, "probability", None),
        }


@dataclass
class Ladder:
    url: str
    domain: str
    case_type: str
    site: Site | None
    platform: dict | None
    now: datetime
    steps: list[Step] = field(default_factory=list)

    @property
    def active(self) -> list[Step]:
        return [step for step in self.steps if not step.skip]

    def text(self) -> str:
        """The ladder for people: one block per step with its reason (CLI, reports, test output)."""
        lines = [f"{self.url} [{self.case_type}] -> {to_unicode(self.domain)}"]
        for step in self.steps:
            due = f"due {self.due_label(step)}" if not step.skip else "skipped"
            lines.append(
                f"{step.order:>2}. {step.role:<13} {step.recipient_name or '-'} | {step.legal_basis or '-'} | {due}"
            )
            if step.address:
                lines.append(
                    f"    {step.channel}: {step.address}"
                    + (f"  [{', '.join(sorted(step.flags))}]" if step.flags else "")
                )
            lines.append(f"    {step.reason}")
        return "\n".join(lines)

    def due_label(self, step: Step) -> str:
        return step.due_after.strftime("%Y-%m-%d %H:%M") if step.due_after else "open"

    def as_dict(self) -> dict:
        return {
            "url": self.url,
            "domain": to_unicode(self.domain),
            "case_type": self.case_type,
            "site_known": self.site is not None,
            "platform": self.platform["key"] if self.platform else None,
            "steps": [step.as_dict() for step in self.steps],
        }


@dataclass
class _Case:
    """The facts every step reads."""

    url: str
    domain: str
    case_type: str
    site: Site | None
    platform: dict | None
    copyright: bool
    now: datetime
    knowledge: kb.Knowledge

    @property
    def csam(self) -> bool:
        return self.case_type == CaseType.CSAM

    def hosting_country(self) -> tuple[str, str]:
        """(country, "<how it is known> <country>:") for the hotline: the server's country, else the host's."""
        if self.site and self.site.server_country:
            return self.site.server_country, _("The server is in %(country)s:")
        if self.site and self.site.host and self.site.host.country:
            return self.site.host.country, _("The hosting provider is in %(country)s:")
        if self.platform:
            return self.platform["country"], _("%(name)s is established in %(country)s:") % {
                "name": self.platform["name"], "country": "%(country)s"}  # fmt: skip
        return "", ""


# --- reaching a recipient -------------------------------------------------------------------------------


def _reach(step: Step, org: Organisation | None, data_contacts=(), prefer=()) -> str:
    """Fill channel/address from the first confirmed, non-bounced contact (``prefer`` addresses first); returns
    a sentence about it ("" when nothing needs saying). Marks the step skipped when nobody can be reached.

    A proposed contact is never used: where notices go changes only once a second person confirmed it."""
    on_file = sorted(org.contacts.all(), key=lambda c: (c.priority, c.pk)) if org else []
    contacts = [c for c in on_file if c.status == Contact.Status.CONFIRMED]
    usable = [c for c in contacts if c.bounced_at is None]
    if usable:
        pick = next((c for c in usable if c.address in prefer), usable[0])
        step.contact, step.channel, step.address = pick, pick.channel, pick.address
        bounced = [c for c in contacts if c.bounced_at and c.priority <= pick.priority]
        if bounced:
            gone = ", ".join(
                _("%(address)s (bounced %(date)s)") % {"address": c.address, "date": f"{c.bounced_at:%Y-%m-%d}"}
                for c in bounced
            )
            return _("Skipped %(gone)s; using the next contact, %(address)s.") % {"gone": gone, "address": pick.address}
        return ""
    if org is None and data_contacts:
        pick = next((c for c in data_contacts if c["address"] in prefer), data_contacts[0])
        step.channel, step.address = pick["channel"], pick["address"]
        return _("Contact taken from the shipped knowledge base (not yet synced into the database).")
    step.skip, named = True, {"name": step.recipient_name}
    if contacts:
        step.skip_reason = _("every contact of %(name)s has bounced; find a new one") % named
    elif any(c.status == Contact.Status.PROPOSED for c in on_file):
        step.skip_reason = _("no confirmed contact for %(name)s; a proposed one waits for a supervisor") % named
    else:
        step.skip_reason = _("no contact on file for %(name)s; add one") % named
    return ""


def _law(case: _Case, step: Step, country: str, *, bound_by=(), process=None) -> str:
    """Choose the regime and the deadline; returns the sentence explaining both."""
    choice = case.knowledge.regime_for(
        country, case.case_type, case.copyright, role=step.role, bound_by=tuple(bound_by), when=case.now
    )
    step.legal_basis, step.legal_basis_label = choice.key, choice.label
    step.also_bases = tuple(r.key for r in choice.also)
    step.flags = step.flags | set(choice.regime.flags)
    # A statute cited alongside may be stricter than the chosen one (TAKE IT DOWN's 48 h beside a DMCA notice):
    # the shortest period wins.
    deadlines = [
        case.knowledge.deadline_for(step.role, key, case.case_type, process=process)
        for key in (choice.key, *step.also_bases)
    ]
    timed = [d for d in deadlines if d.hours is not None]
    deadline = min(timed, key=lambda d: d.hours) if timed else deadlines[0]
    step.deadline, step.deadline_basis = deadline.delta, deadline.basis
    where = f" ({country})" if country else _(" (country unknown)")
    if choice.regime.key in bound_by and not choice.regime.covers_country(country):
        where = _(" (it binds %(name)s wherever it is established%(country)s)") % {
            "name": step.recipient_name, "country": ", " + country if country else ""}  # fmt: skip
    parts = [_("Legal basis: %(law)s%(where)s.") % {"law": _(choice.regime.short), "where": where}]
    if choice.also:
        parts.append(_("Also cite: %(laws)s.") % {"laws": ", ".join(_(r.short) for r in choice.also)})
    parts.extend(f"{text}." for text in choice.passed_over)
    if "lumen_warning" in step.flags:
        parts.append(_("Warning: DMCA notices may be published in the Lumen database; use only with her agreement."))
    if deadline.hours is not None:
        parts.append(_("Wait %(hours)s h: %(basis)s.") % {"hours": deadline.hours, "basis": deadline.basis})
    return " ".join(parts)


def _finish(step: Step, *sentences: str) -> Step:
    text = " ".join(str(s).strip() for s in sentences if s and str(s).strip())
    step.skip_reason = str(step.skip_reason)  # RESOLVE is lazy: the reason is read in the language of the request
    if step.skip and step.skip_reason and step.skip_reason not in text:
        text += " " + _("Skipped: %(reason)s.") % {"reason": step.skip_reason}
    step.reason = text.strip()
    return step


# --- the steps ------------------------------------------------------------------------------------------


def _operator(case: _Case) -> Step:
    if case.platform:
        return _platform(case)
    step = Step(0, Role.OPERATOR, recipient_name=to_unicode(case.domain))
    why = WHY_ROLE[Role.OPERATOR]
    if case.site is None:
        step.skip, step.skip_reason = True, RESOLVE
        unknown = _("%(domain)s is not in the knowledge base yet; resolve it.") % {"domain": to_unicode(case.domain)}
        return _finish(step, why, unknown)
    org = case.site.operator
    if org is None:
        step.skip, step.skip_reason = True, _("operator unknown; resolve the site or add its contact")
        return _finish(step, why, _("Nobody is recorded as running this site."))
    step.recipient, step.recipient_name = org, org.name
    contact = _reach(step, org)
    country = case.site.jurisdiction or org.country
    law = _law(case, step, country)
    return _finish(step, why, _where(case), _group(case.site), contact, law)


def _platform(case: _Case) -> Step:
    platform = case.platform
    org = Organisation.objects.filter(role=Role.PLATFORM, key=platform["key"]).first()
    step = Step(0, Role.OPERATOR, recipient=org, recipient_name=org.name if org else platform["name"])
    contact = _reach(step, org, platform["contacts"])
    law = _law(case, step, platform["country"], bound_by=platform["regimes"])
    stop = ""
    if platform.get("stopncii_partner") and not case.csam:
        stop = _("%(name)s takes StopNCII hashes: hashing her images there also blocks re-uploads.") % platform
    why = str(WHY_ROLE[Role.PLATFORM]).format(name=platform["name"])
    return _finish(step, why, _where(case), contact, law, stop)


def _where(case: _Case) -> str:
    host = host_of(case.url)
    if host in (case.domain, f"www.{case.domain}"):
        return ""
    return _("The URL is on %(host)s, which belongs to %(domain)s.") % {
        "host": to_unicode(host),
        "domain": to_unicode(case.domain),
    }


def _group(site: Site) -> str:
    others = list(
        Site.objects.filter(operator_id=site.operator_id).exclude(pk=site.pk).values_list("domain", flat=True)[:6]
    )
    if not others:
        return ""
    shown = ", ".join(to_unicode(d) for d in others[:5]) + ("…" if len(others) > 5 else "")
    return _("The same operator runs %(sites)s; one request can cover them all.") % {"sites": shown}


def _skipped_for_platform(case: _Case, role: str) -> Step:
    step = Step(0, role, skip=True)
    step.skip_reason = _("%(name)s is a platform hosting its own content; its own form is the channel") % case.platform
    return _finish(step, step.skip_reason + ".")


def _host(case: _Case) -> Step:
    if case.platform:
        return _skipped_for_platform(case, Role.HOST)
    step = Step(0, Role.HOST)
    why = WHY_ROLE[Role.HOST]
    if case.site is None:
        step.skip, step.skip_reason = True, RESOLVE
        return _finish(step, why, _("The host is not known until the site is resolved."))
    org = case.site.host
    if org is None:
        cdn = case.site.cdn
        behind = (
            _(" (the site is behind %(cdn)s: the CDN step asks it to name the host)") % {"cdn": cdn.name} if cdn else ""
        )
        step.skip, step.skip_reason = True, _("host unknown") + (behind or _("; resolve the site"))
        return _finish(step, why, _("The hosting provider is unknown%(behind)s.") % {"behind": behind})
    step.recipient, step.recipient_name = org, org.name
    contact = _reach(step, org)
    law = _law(case, step, org.country or case.site.server_country)
    return _finish(step, why, contact, law)


def _cdn(case: _Case) -> Step:
    if case.platform:
        return _skipped_for_platform(case, Role.CDN)
    step = Step(0, Role.CDN)
    if case.site is None:
        step.skip, step.skip_reason = True, RESOLVE
        return _finish(step, _("Whether a CDN is in front is not known until the site is resolved."))
    org = case.site.cdn
    if org is None:
        step.skip, step.skip_reason = True, _("no CDN in front of the site")
        return _finish(step, _("The site is served directly, without a CDN."))
    step.recipient, step.recipient_name = org, org.name
    process = case.knowledge.cdn_process(org)
    contact = _reach(step, org, process["contacts"] if process else ())
    law = _law(case, step, org.country, process=process)
    extra = _cdn_flags(case, step, process)
    why = str(WHY_ROLE[Role.CDN]).format(name=org.name)
    return _finish(step, why, contact, *extra, law)


def _cdn_flags(case: _Case, step: Step, process: dict | None) -> list[str]:
    step.flags = step.flags | {"ask_origin_disclosure"}
    if process is None:
        return [_("Ask it to identify the origin host; its abuse process is not in the knowledge base.")]
    sentences = [process["origin"]["to_reporter"]]
    wanted = "dmca" if step.legal_basis == "dmca" else case.case_type
    for category in process["categories"]:
        if wanted in category["case_types"] or category.get("for_regime") == wanted:
            sentences.append(_("Category: %(name)s.") % category)
            if category["can_ask_not_to_forward_to_operator"] and wanted != "dmca":
                step.flags = step.flags | {"do_not_forward_to_operator"}
                sentences.append(_("Ask it not to forward the complaint to the site operator."))
            if category.get("lumen"):
                step.flags = step.flags | {"lumen_warning"}
            break
    return sentences


def _registrar(case: _Case) -> Step:
    if case.platform:
        return _skipped_for_platform(case, Role.REGISTRAR)
    step = Step(0, Role.REGISTRAR)
    why = WHY_ROLE[Role.REGISTRAR]
    if case.site is None:
        step.skip, step.skip_reason = True, RESOLVE
        return _finish(step, why, _("The registrar is not known until the site is resolved."))
    org = case.site.registrar
    if org is None:
        step.skip, step.skip_reason = True, _("registrar unknown; resolve the site")
        return _finish(step, why, _("No registrar is recorded for this domain."))
    step.recipient, step.recipient_name = org, org.name
    contact = _reach(step, org)
    law = _law(case, step, org.country)
    return _finish(step, why, case.knowledge.role_note(Role.REGISTRAR), contact, law)


def _search_engines(case: _Case) -> list[Step]:
    return [_search_engine(case, entry) for entry in case.knowledge.search_engines()]


def _search_engine(case: _Case, entry: dict) -> Step:
    org = Organisation.objects.filter(role=Role.SEARCH_ENGINE, key=entry["key"]).first()
    step = Step(0, Role.SEARCH_ENGINE, recipient=org, recipient_name=org.name if org else entry["name"])
    why = WHY_ROLE[Role.SEARCH_ENGINE]
    if entry.get("results_from"):
        source = next(e["name"] for e in case.knowledge.search_engines() if e["key"] == entry["results_from"])
        step.skip = True
        step.skip_reason = _("%(name)s shows %(source)s's results; removal at %(source)s carries over") % {
            "name": entry["name"], "source": source}  # fmt: skip
        return _finish(step, step.skip_reason + ".", _("Ask it directly only if the result is still shown after."))
    flows = [c for c in entry["contacts"] if case.case_type in c.get("case_types", ())]
    if not flows:
        flowless = _("%(name)s has no removal flow for %(type)s") % {"name": entry["name"], "type": case.case_type}
        step.skip, step.skip_reason = True, flowless
        return _finish(step, step.skip_reason + ".")
    contact = _reach(step, org, flows, prefer=[c["address"] for c in flows])
    law = _law(case, step, entry["country"])
    flow = next((c for c in flows if c["address"] == step.address), None)
    what = _("Flow: %(note)s.") % {"note": flow["note"].rstrip(".")} if flow else ""
    return _finish(step, why, what, contact, law)


def _hotline(case: _Case) -> Step:
    country, how = case.hosting_country()
    entry = case.knowledge.hotline_for(country, case.case_type) if country else None
    place = how % {"country": country} if country else ""
    if entry:
        note = f"{place} " + _("%(name)s is the member hotline there.") % entry
    else:
        entry, note = _hotline_fallback(case, country, place)
    step = Step(0, Role.HOTLINE)
    why = CSAM_FIRST if case.csam else WHY_ROLE[Role.HOTLINE]
    if entry is None:
        step.skip, step.skip_reason = True, note
        return _finish(step, why, note + ".")
    org = Organisation.objects.filter(role=Role.HOTLINE, key=entry["key"]).first()
    step.recipient, step.recipient_name = org, org.name if org else entry["name"]
    contact = _reach(step, org, entry["contacts"])
    law = _law(case, step, entry["country"])
    return _finish(step, why, note, contact, law)


def _hotline_fallback(case: _Case, country: str, place: str) -> tuple[dict | None, str]:
    """For CSAM (and adult cases the home hotline takes): the fallback country's hotline, with why."""
    knowledge = case.knowledge
    members = knowledge.hotlines_for(country) if country else []
    if members and not case.csam:
        alternative = next((m["ncii_alternative"] for m in members if m.get("ncii_alternative")), None)
        scope = _("%(names)s takes only child sexual abuse material") % {"names": ", ".join(m["name"] for m in members)}
        if alternative:
            scope += _(" (for adults: %(name)s, %(url)s)") % alternative
    elif country:
        scope = _("no member hotline in %(country)s in the knowledge base") % {"country": country}
    else:
        scope = _("the hosting country is unknown (resolve the site)")
    fallback = knowledge.hotline_for(knowledge.hotline_fallback_country, case.case_type)
    if not place:
        scope = scope[0].upper() + scope[1:]
    if fallback is None:
        return None, f"{place} {scope}".strip()
    instead = _("%(scope)s; %(name)s takes the report instead.") % {"scope": scope, "name": fallback["name"]}
    return fallback, f"{place} {instead}".strip()


def _lawyer(case: _Case) -> Step:
    step = Step(0, Role.LAWYER)
    lawyers = list(Organisation.objects.filter(role=Role.LAWYER))
    wanted = [case.site.jurisdiction if case.site else "", case.knowledge.home_country]
    org = next((o for country in wanted if country for o in lawyers if o.country == country), None)
    org = org or (lawyers[0] if lawyers else None)
    why = WHY_ROLE[Role.LAWYER]
    if org is None:
        step.skip, step.skip_reason = True, _("no lawyer in the knowledge base; add the desk's counsel (role lawyer)")
        return _finish(step, why, _("No lawyer is recorded yet."))
    step.recipient, step.recipient_name = org, org.name
    contact = _reach(step, org)
    law = _law(case, step, org.country)
    return _finish(step, why, contact, law)


# --- predictions and timing ----------------------------------------------------------------------------


def _predictable(case: _Case) -> bool:
    """Predictions need the module, a known site and at least one settled request to learn from."""
    if predict_for is None or case.site is None:
        return False
    return TakedownRequest.objects.filter(outcome__in=SETTLED).exists()


def _predict(case: _Case, step: Step) -> None:
    if step.skip:
        return
    try:
        step.prediction = predict_for(case.site, step.role, case.case_type, step.recipient)
    except UserError:  # no settled history yet: nothing to predict from
        step.prediction = None


def _shorten_if_ignored(case: _Case, step: Step) -> None:
    """Keep asking an operator that ignores nearly everything, but move on to its host sooner."""
    rule = case.knowledge.escalation("ignored_operator")
    p = step.prediction
    if step.role != Role.OPERATOR or p is None or getattr(p, "synthetic", False):
        return
    if p.probability > rule["max_probability"] or p.evidence_count < rule["min_evidence"]:
        return
    short = timedelta(hours=rule["deadline_hours"])
    if step.deadline is not None and step.deadline <= short:
        return
    settled = TakedownRequest.objects.filter(site=case.site, role=step.role, outcome__in=SETTLED)
    total, ignored = settled.count(), settled.filter(outcome=Outcome.STILL_ONLINE).count()
    history = (_("it ignored %(ignored)s of %(total)s past requests") % {"ignored": ignored, "total": total}
               if total else _("%(count)s comparable requests") % {"count": p.evidence_count})  # fmt: skip
    step.deadline, step.deadline_basis = short, rule["basis"]
    step.reason += " " + _(
        "Deadline shortened to %(hours)s h: %(history)s (predicted removal chance %(chance)s); the next step "
        "should not wait a full period."
    ) % {"hours": rule["deadline_hours"], "history": history, "chance": f"{p.probability:.0%}"}


def _hurry_if_reuploads(case: _Case, step: Step) -> None:
    """A site that has put removed copies back up is not given the full period: its host is asked sooner."""
    site = case.site
    if step.role != Role.OPERATOR or site is None or not site.reuploads:
        return
    short = timedelta(hours=REUPLOAD_DEADLINE_HOURS)
    when = _(" (last on %(date)s)") % {"date": f"{site.last_reupload_at:%Y-%m-%d}"} if site.last_reupload_at else ""
    step.reason += " " + _("This site has re-uploaded removed copies %(count)s time(s)%(when)s.") % {
        "count": site.reuploads, "when": when}  # fmt: skip
    if step.deadline is None or step.deadline > short:
        step.deadline, step.deadline_basis = short, _("re-uploads seen by Kesu's patrol")
        step.reason += " " + _("Deadline shortened to %(hours)s h: the next step should not wait.") % {
            "hours": REUPLOAD_DEADLINE_HOURS}  # fmt: skip


def _schedule(steps: list[Step], now: datetime) -> None:
    """Each rung is due when the previous rung's longest deadline has run out; search engines share a rung.
    After an open-ended step (no deadline) nothing further has a due date."""
    due, rung_role, rung_wait = now, None, timedelta(0)
    for step in (s for s in steps if not s.skip):
        if rung_role is not None and not (step.role == rung_role == Role.SEARCH_ENGINE):
            due = None if due is None or rung_wait is None else due + rung_wait
            rung_wait = timedelta(0)
        step.due_after = due
        rung_wait = None if rung_wait is None or step.deadline is None else max(rung_wait, step.deadline)
        rung_role = step.role


# --- entry point ---------------------------------------------------------------------------------------


def route(url: str, case_type: str, *, victim_holds_copyright: bool = False, now: datetime | None = None) -> Ladder:
    """The escalation ladder for ``url`` in a case of ``case_type``. Reads the database, never writes.

    Raises UserError for a URL without a usable domain or an unknown case type.
    """
    if case_type not in CaseType.values:
        raise UserError(f"unknown case type {case_type!r} (one of {', '.join(CaseType.values)})")
    domain = registrable(url)
    knowledge = kb.current()
    site = Site.objects.select_related("operator", "host", "cdn", "registrar").filter(domain=domain).first()
    now = now or timezone.now()
    case = _Case(
        url, domain, case_type, site, knowledge.platform_for_domain(domain), victim_holds_copyright, now, knowledge
    )
    hotline = _hotline(case)
    steps = [_operator(case), _host(case), _cdn(case), _registrar(case), *_search_engines(case)]
    steps = [hotline, *steps] if case.csam else [*steps, hotline]
    steps.append(_lawyer(case))
    predictable = _predictable(case)
    for order, step in enumerate(steps, 1):
        step.order = order
        if predictable:
            _predict(case, step)
            _shorten_if_ignored(case, step)
        _hurry_if_reuploads(case, step)
    _schedule(steps, now)
    return Ladder(url, domain, case_type, site, case.platform, now, steps)
