"""Cases, victims and reference material: every read of personal data or
media and every change goes through here and into the audit log."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from ..audit.services import Actor, entries_for_case, log_action
from ..lib.errors import NotFound, UserError
from ..vault import services as vault
from ..vault.models import DataKey
from .models import Case, CaseType, Consent, ContactEntry, ReferenceItem, Victim

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L
CASE_TYPES = tuple(CaseType.values)
CONSENTS = tuple(Consent.values)


@dataclass
class VictimDetails:
    """Personal data of a victim, only ever held in memory."""

    name: str = ""
    contact: dict = field(default_factory=dict)  # email, phone, address, note


# --- who may see what -------------------------------------------------------------


def visible_cases(user) -> QuerySet[Case]:
    cases = Case.objects.select_related("victim")
    if getattr(user, "sees_all_cases", False):
        return cases
    if not getattr(user, "is_authenticated", False):
        return cases.none()
    return cases.filter(assignees=user)


def case_for(user, case_id) -> Case:
    """The case if this user may see it; otherwise NotFound, as if it did not exist."""
    try:
        return visible_cases(user).get(pk=int(case_id))
    except (Case.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"no case {case_id}") from None


def require_supervisor(user) -> None:
    if not getattr(user, "sees_all_cases", False):
        raise NotFound("only a supervisor or an administrator may do this")


# --- cases ----------------------------------------------------------------------------


def _new_code() -> str:
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"V-{body[:4]}-{body[4:]}"


def _check_choices(case_type: str, consent: list[str]) -> None:
    if case_type not in CASE_TYPES:
        raise UserError(f"case type must be one of {', '.join(CASE_TYPES)}, not {case_type!r}")
    unknown = sorted(set(consent) - set(CONSENTS))
    if unknown:
        raise UserError(f"unknown consent {', '.join(unknown)} (known: {', '.join(CONSENTS)})")


def create_victim(actor, details: VictimDetails, *, language="ja", receipt="email", is_minor=False) -> Victim:
    key = vault.new_data_key(DataKey.Purpose.VICTIM)
    victim = Victim(code=_new_code(), data_key=key, preferred_language=language, receipt=receipt, is_minor=is_minor)
    victim.name_sealed = vault.seal_text(key, details.name, "victim.name") if details.name else None
    victim.contact_sealed = vault.seal_json(key, details.contact, "victim.contact") if details.contact else None
    victim.full_clean(exclude=["data_key", "code"])
    victim.save()
    log_action(actor, "victim.create", victim, fields=sorted(["name"] * bool(details.name) + list(details.contact)))
    return victim


def create_case(
    actor,
    case_type: str,
    *,
    victim: Victim | None = None,
    details: VictimDetails | None = None,
    language: str = "ja",
    receipt: str = "email",
    is_minor: bool = False,
    assignees=(),
    mandate_signed_on: date | None = None,
    consent: list[str] | None = None,
) -> Case:
    consent = list(consent or [])
    _check_choices(case_type, consent)
    with transaction.atomic():
        if victim is None:
            victim = create_victim(
                actor, details or VictimDetails(), language=language, receipt=receipt, is_minor=is_minor
            )
        case = Case.objects.create(
            victim=victim,
            case_type=case_type,
            data_key=vault.new_data_key(DataKey.Purpose.CASE),
            mandate_signed_on=mandate_signed_on,
            continuation_due_on=_next_continuation(mandate_signed_on or timezone.localdate()),
        )
        log_action(actor, "case.create", case, case_id=case.pk, case_type=case_type)
        if consent:
            record_consent(actor, case, consent)
        if assignees:
            set_assignees(actor, case, assignees)
    return case


def _next_continuation(since: date) -> date:
    try:
        return since.replace(year=since.year + 1)
    except ValueError:  # 29 February
        return since + timedelta(days=365)


def record_consent(actor, case: Case, consent: list[str]) -> None:
    _check_choices(case.case_type, consent)
    case.consent = sorted(set(consent))
    case.consent_recorded_at = timezone.now()
    case.consent_recorded_by = Actor.of(actor).label
    case.save(update_fields=["consent", "consent_recorded_at", "consent_recorded_by", "updated_at"])
    log_action(actor, "case.consent", case, case_id=case.pk, consent=case.consent)


def set_assignees(actor, case: Case, users) -> None:
    users = list(users)
    with transaction.atomic():
        case.assignees.set(users)
        log_action(actor, "case.assign", case, case_id=case.pk, users=sorted(u.username for u in users))


# What the apps above registered (at ready()) to take back what a case shared outside Kesu (her hashes at StopNCII
# and partners) when it closes or is deleted: ``hook(actor, case)``, called in the transaction, before the rows
# go. Cases import none of them (the layers): they come to cases, as the timeline's sources do.
_leaving: list[Callable] = []


def register_leaving(hook: Callable) -> None:
    if hook not in _leaving:
        _leaving.append(hook)


def _leave(actor, case: Case) -> None:
    for hook in _leaving:
        hook(actor, case)


def set_status(actor, case: Case, status: str) -> None:
    if status not in Case.Status.values:
        raise UserError(f"status must be one of {', '.join(Case.Status.values)}, not {status!r}")
    with transaction.atomic():
        if status == Case.Status.CLOSED and case.status != Case.Status.CLOSED:
            _leave(actor, case)
        case.status = status
        case.closed_at = timezone.now() if status == Case.Status.CLOSED else None
        case.save(update_fields=["status", "closed_at", "updated_at"])
        log_action(actor, "case.status", case, case_id=case.pk, status=status)


def delete_case(actor, case: Case) -> None:
    """Delete a case and shred its key: its media, notes and signals are gone.

    The victim goes too when this was her last case. The audit log keeps
    that it happened (ids only).
    """
    require_supervisor(actor)
    with transaction.atomic():
        case_id, victim, data_key = case.pk, case.victim, case.data_key
        refs = case.references.count()
        _leave(actor, case)
        case.delete()  # cascades references, contacts, signals
        vault.shred(data_key)
        victim_gone = not victim.cases.exists()
        if victim_gone:
            victim_key = victim.data_key
            victim.delete()
            vault.shred(victim_key)
        log_action(actor, "case.delete", None, case_id=case_id, references=refs, victim_deleted=victim_gone)


# --- personal data -----------------------------------------------------------------------


def victim_details(actor, case: Case) -> VictimDetails:
    """Open the victim's sealed data for a user on the case (audited)."""
    victim = case.victim
    details = VictimDetails(
        name=vault.open_text(victim.data_key, victim.name_sealed, "victim.name"),
        contact=vault.open_json(victim.data_key, victim.contact_sealed, "victim.contact", {}),
    )
    log_action(actor, "victim.view", victim, case_id=case.pk)
    return details


def update_victim(actor, case: Case, details: VictimDetails) -> None:
    victim = case.victim
    with transaction.atomic():
        victim.name_sealed = vault.seal_text(victim.data_key, details.name, "victim.name") if details.name else None
        victim.contact_sealed = (
            vault.seal_json(victim.data_key, details.contact, "victim.contact") if details.contact else None
        )
        victim.save(update_fields=["name_sealed", "contact_sealed"])
        log_action(actor, "victim.change", victim, case_id=case.pk)


# --- contact log -------------------------------------------------------------------------


def add_contact(actor, case: Case, direction: str, channel: str, note: str, at=None) -> ContactEntry:
    if direction not in ContactEntry.Direction.values or channel not in ContactEntry.Channel.values:
        raise UserError("contact direction or channel is not one Kesu knows")
    with transaction.atomic():
        entry = ContactEntry.objects.create(
            case=case,
            at=at or timezone.now(),
            direction=direction,
            channel=channel,
            note_sealed=vault.seal_text(case.data_key, note, "contact.note") if note else None,
            staff=Actor.of(actor).label,
        )
        log_action(actor, "contact.create", entry, case_id=case.pk, channel=channel)
    return entry


def contact_notes(actor, case: Case) -> list[tuple[ContactEntry, str]]:
    entries = list(case.contacts.all())
    if entries:
        log_action(actor, "contact.view", case, case_id=case.pk, count=len(entries))
    return [(e, vault.open_text(case.data_key, e.note_sealed, "contact.note")) for e in entries]


# --- yearly continuation ------------------------------------------------------------------


def continuation_due(user, today: date | None = None) -> QuerySet[Case]:
    today = today or timezone.localdate()
    return visible_cases(user).filter(continuation_due_on__lte=today).exclude(status=Case.Status.CLOSED)


def record_continuation(actor, case: Case, continues: bool) -> None:
    """Her yearly answer: carry on for another year, or close the case."""
    with transaction.atomic():
        if continues:
            case.continuation_due_on = _next_continuation(max(case.continuation_due_on, timezone.localdate()))
            case.save(update_fields=["continuation_due_on", "updated_at"])
            log_action(actor, "case.continue", case, case_id=case.pk, next_due=str(case.continuation_due_on))
        else:
            set_status(actor, case, Case.Status.CLOSED)


# --- listing ------------------------------------------------------------------------------


def case_rows(user, status: str | None = None, case_type: str | None = None, text: str = "") -> QuerySet[Case]:
    """The case list: the active filters, and the search text within them."""
    cases = visible_cases(user).annotate(
        reference_count=Count("references", filter=Q(references__deleted_at__isnull=True), distinct=True)
    )
    if status:
        cases = cases.filter(status=status)
    if case_type:
        cases = cases.filter(case_type=case_type)
    if text.strip():
        cases = cases.filter(_matching(text.strip()))
    return cases.prefetch_related("assignees").order_by("-created_at")


def _matching(text: str) -> Q:
    query = Q(victim__code__icontains=text)
    if text.isdigit():
        query |= Q(pk=int(text))
    return query


def case_history(case: Case):
    return entries_for_case(case.pk)


# --- export ---------------------------------------------------------------------------------


def export_case(actor, case: Case, personal: bool = False) -> dict:
    """Everything known about a case as plain data.

    Without ``personal`` it holds ids, dates, types and signals only, safe
    to hand to a colleague; with it, names, contact data, labels and notes
    too (audited as such).
    """
    from .references import label

    data = {
        "id": case.pk,
        "victim": case.victim.code,
        "type": case.case_type,
        "status": case.status,
        "created_at": case.created_at.isoformat(),
        "mandate_signed_on": case.mandate_signed_on and case.mandate_signed_on.isoformat(),
        "consent": case.consent,
        "consent_recorded_at": case.consent_recorded_at and case.consent_recorded_at.isoformat(),
        "continuation_due_on": case.continuation_due_on and case.continuation_due_on.isoformat(),
        "assignees": sorted(u.username for u in case.assignees.all()),
        "references": [reference_row(r) for r in case.references.prefetch_related("signals")],
        "contacts": [
            {"at": c.at.isoformat(), "direction": c.direction, "channel": c.channel, "staff": c.staff}
            for c in case.contacts.all()
        ],
        "history": [
            {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
            for e in case_history(case)
        ],
    }
    if personal:
        details = victim_details(actor, case)
        data["victim_details"] = {"name": details.name, "contact": details.contact}
        labels = {r.pk: label(case, r) for r in case.references.all()}
        for row in data["references"]:
            row["label"] = labels[row["id"]]
        notes = [note for _, note in contact_notes(actor, case)]
        for row, note in zip(data["contacts"], notes, strict=True):
            row["note"] = note
    log_action(actor, "case.export", case, case_id=case.pk, personal=personal)
    return data


def reference_row(item: ReferenceItem) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "media_type": item.media_type,
        "size": item.size,
        "media_kept": item.blob_id is not None,
        "signals": [{"kind": s.kind, "value": s.value, "quality": s.quality} for s in item.signals.all()],
    }
