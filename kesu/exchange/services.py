"""Hash exchange with the field (issue 21): cases that hold only hashes, and the files the field trades.

``add_hash_reference`` is the one way in for hashes without a medium (imported from a file, made on her device
by the victim hashing page): the other entry points (import, the hashing page) call it.
"""

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..audit.services import Actor, log_action
from ..cases.models import Case, CaseType, ReferenceItem
from ..lib.errors import UserError
from ..matching.models import Hit, Signal
from ..matching.services import bank_values
from ..vault import services as vault
from . import files, outbound
from .hashes import FIELD_TYPES, KINDS, Hash, field_lines, values_of
from .models import DESTINATIONS, NCMEC, PARTNERS, STOPNCII, Partner, ShareConsent, SharedHash

MAX_LABEL = 200
MAX_HASHES = 64  # per reference: one picture's or one video's hashes, not a whole list


def add_hash_reference(actor, case: Case, hashes: list[Hash], label: str) -> ReferenceItem:
    """A reference that holds only hashes of one picture or video of hers, banked at once.

    ``hashes``: the `Hash` values of one medium (a PDQ, an MD5, a SHA-256, a vPDQ's frames, in any mix);
    ``label``: what staff read on the case page, e.g. "imported from stopncii.csv, line 4" or "hashed on her
    device" (sealed like a file name: it may hold one). The patrol then finds copies by PDQ (within
    ``KESU_MATCH_THRESHOLDS``' pdq distance), exact copies by MD5 or SHA-256, and videos by vPDQ frames; a hit
    on it is reviewed, noticed and re-checked like any other. Raises UserError (nothing stored) naming the first
    bad hash. Audited as ``reference.create`` with the kinds and counts, never the hashes."""
    label = label.strip()
    if not label or len(label) > MAX_LABEL:
        raise UserError(f"the label of a hash-only reference must be 1 to {MAX_LABEL} characters")
    if not hashes or len(hashes) > MAX_HASHES:
        raise UserError(f"a hash-only reference holds 1 to {MAX_HASHES} hashes")
    values = [value for given in hashes for value in values_of(given)]
    with transaction.atomic():
        item = ReferenceItem.objects.create(
            case=case,
            kind=ReferenceItem.Kind.HASHES,
            label_sealed=vault.seal_text(case.data_key, label, "reference.label"),
            created_by=Actor.of(actor).label,
        )
        signals = bank_values(case, item, values)
        kinds = sorted({s.kind for s in signals})
        log_action(actor, "reference.create", item, case_id=case.pk, kind=item.kind, signals=kinds, media_kept=False)
    return item


# --- files -----------------------------------------------------------------------------------------------


def import_file(actor, case: Case, name: str, data: bytes) -> list[ReferenceItem]:
    """A hash file (threatexchange local file or CSV: ``files``) into the case, one hash-only reference per
    line or row, labelled "imported from <name>, line <n>". All or nothing: ``files.BadLines`` names every bad
    line and nothing is stored."""
    rows = files.read_rows(name, files.decode(name, data))
    with transaction.atomic():
        items = [add_hash_reference(actor, case, row.hashes, f"imported from {name}, line {row.line}") for row in rows]
        log_action(actor, "exchange.import", case, case_id=case.pk, references=len(items))
    return items


def export(actor, cases: QuerySet[Case], destination: str = PARTNERS) -> str:
    """The hashes of every case of ``cases`` that consented to share with ``destination``, as a threatexchange
    local file: no label, no case number, nothing that says whose they are. Audited per case."""
    lines = []
    for case in cases.filter(pk__in=consenting(destination)):
        mine = shareable_lines(case)
        lines += mine
        log_action(actor, "exchange.export", case, case_id=case.pk, destination=destination, hashes=len(mine))
    return files.local_file(lines)


def shareable_lines(case: Case) -> list[str]:
    """Her bank in the field's names: what her references hold and what staff confirmed as hers."""
    rows = (
        Signal.objects.in_use()
        .filter(case=case, kind__in=KINDS)
        .filter(Q(reference__isnull=False) | Q(hit__status=Hit.Status.CONFIRMED))
    )
    by_owner: dict[int, list] = {}
    for signal in rows.select_related("reference", "hit").order_by("pk"):
        by_owner.setdefault(signal.owner, []).append(signal)
    lines = []
    for signals in by_owner.values():
        video = _is_video(signals)
        for kind in KINDS:
            lines += field_lines(kind, [s for s in signals if s.kind == kind], video)
    return lines


def _is_video(signals: list[Signal]) -> bool:
    """A video's hashes go out as video_md5 / vpdq. A hash-only reference has no media type: its MD5 or SHA-256
    came in as a video's (the field's only exact types) unless a PDQ says it is a picture."""
    kinds = {s.kind for s in signals}
    owner = signals[0].reference or signals[0].hit
    if "vpdq" in kinds or owner.media_type.startswith("video/"):
        return True
    return signals[0].reference is not None and owner.kind == ReferenceItem.Kind.HASHES and "pdq" not in kinds


# --- consent per destination -----------------------------------------------------------------------------


def destination_of(text: str) -> str:
    """``stopncii``, ``ncmec``, ``partners`` or a partner's name (checked when partners exist)."""
    name = text.strip().lower()
    if name in DESTINATIONS or Partner.objects.filter(name=name).exists():
        return name
    raise UserError(f"unknown destination {text.strip()[:64]!r}: stopncii, ncmec, partners or a partner's name")


def _check_allowed(case: Case, destination: str) -> None:
    csam = case.case_type == CaseType.CSAM
    if destination == NCMEC and not csam:
        raise UserError("NCMEC takes hashes of child sexual abuse material only: this case is not a CSAM case")
    if destination == STOPNCII and (csam or case.victim.is_minor):
        raise UserError("StopNCII is for adults' images: hashes of a minor's images go to NCMEC")
    if destination not in (NCMEC,) and csam:
        raise UserError("hashes of child sexual abuse material are shared with NCMEC only")


def give_consent(actor, case: Case, destination: str) -> ShareConsent:
    """Record her consent to share her hashes with ``destination``. Idempotent: a live consent is kept."""
    destination = destination_of(destination)
    _check_allowed(case, destination)
    with transaction.atomic():
        live = live_consents(case).filter(destination=destination).first()
        if live:
            return live
        consent = ShareConsent.objects.create(
            case=case, destination=destination, given_at=timezone.now(), given_by=Actor.of(actor).label
        )
        log_action(actor, "exchange.consent", case, case_id=case.pk, destination=destination)
    return consent


def withdraw_consent(actor, case: Case, destination: str) -> int:
    """She withdraws her consent for ``destination``: nothing more is shared there, and what was shared is taken
    back first (StopNCII: "Withdrawn" on each hash; partners: "removed" in the next delta). Returns how many
    consents were withdrawn (0: there was none to withdraw). A failed take-back leaves the consent live."""
    destination = destination_of(destination)
    take_back(actor, case, destination)
    with transaction.atomic():
        count = (
            live_consents(case)
            .filter(destination=destination)
            .update(withdrawn_at=timezone.now(), withdrawn_by=Actor.of(actor).label)
        )
        if count:
            log_action(actor, "exchange.withdraw", case, case_id=case.pk, destination=destination)
    return count


def live_consents(case: Case) -> QuerySet[ShareConsent]:
    return ShareConsent.objects.filter(case=case, withdrawn_at__isnull=True)


def consenting(destination: str) -> QuerySet:
    """Ids of the open cases that may share with ``destination`` (a partner: those consenting to it by name or
    to every partner)."""
    names = [destination] if destination in DESTINATIONS else [destination, PARTNERS]
    live = ShareConsent.objects.filter(withdrawn_at__isnull=True, destination__in=names)
    return live.exclude(case__status=Case.Status.CLOSED).values("case_id")


# --- sent: StopNCII -------------------------------------------------------------------------------------


def share(actor, case: Case, destination: str) -> int:
    """Send her hashes not sent yet to ``destination`` (StopNCII), with her live consent; returns how many."""
    destination = destination_of(destination)
    if destination == NCMEC:
        raise UserError(
            "threatexchange's NCMEC client cannot upload hashes (NCMEC's list is fed by CyberTipline reports): "
            f"`kesu exchange ncmec --case {case.pk}` tells which of hers NCMEC lists and upvotes those entries"
        )
    if destination != STOPNCII:
        raise UserError(f"{destination} is not sent to: partners fetch her hashes from Kesu's partner API")
    if not live_consents(case).filter(destination=destination).exists():
        raise UserError(f"she has not consented to share her hashes with {destination}")
    sent = set(_shared(case, destination).values_list("signal_type", "signal"))
    pairs = {tuple(line.split(" ", 1)) for line in shareable_lines(case)}
    new = sorted({(kind, signal) for kind, signal in pairs if kind in outbound.STOPNCII_TYPES} - sent)
    if new:
        outbound.submit(new)
        with transaction.atomic():
            now = timezone.now()
            SharedHash.objects.bulk_create(
                SharedHash(case=case, destination=destination, signal_type=kind, signal=signal, shared_at=now)
                for kind, signal in new
            )
            log_action(actor, "exchange.share", case, case_id=case.pk, destination=destination, hashes=len(new))
    return len(new)


def take_back(actor, case: Case, destination: str) -> int:
    """Withdraw what was sent to ``destination``; returns how many hashes."""
    rows = list(_shared(case, destination))
    if not rows:
        return 0
    if destination == STOPNCII:
        outbound.withdraw([(row.signal_type, row.signal) for row in rows])
    with transaction.atomic():
        SharedHash.objects.filter(pk__in=[row.pk for row in rows]).update(removed_at=timezone.now())
        log_action(actor, "exchange.unshare", case, case_id=case.pk, destination=destination, hashes=len(rows))
    return len(rows)


def _shared(case: Case, destination: str) -> QuerySet[SharedHash]:
    return SharedHash.objects.filter(case=case, destination=destination, removed_at__isnull=True)


def read_feedback(actor) -> int:
    """Platforms' feedback on the hashes Kesu sent to StopNCII, onto each case's timeline once per platform and
    opinion. Returns how many new opinions were recorded."""
    return sum(record_feedback(actor, opinions) for opinions, _checkpoint in outbound.feedback_pages())


def record_feedback(actor, opinions: list[tuple[str, str, str, str]]) -> int:
    """(type, signal, platform, opinion) from StopNCII onto the rows of her hashes still shared there (a deleted
    case's tombstone hears nothing); returns how many were new."""
    rows = SharedHash.objects.filter(destination=STOPNCII, case__isnull=False, signal__in={o[1] for o in opinions})
    ours = {(row.signal_type, row.signal): row for row in rows.select_related("case")}
    recorded = 0
    for kind, signal, platform, opinion in opinions:
        row = ours.get((kind, signal))
        if row is not None and row.feedback.get(platform[:64]) != opinion[:32]:
            recorded += 1
            note_feedback(actor, row, platform, opinion)
    return recorded


def note_feedback(actor, row: SharedHash, platform: str, opinion: str) -> None:
    """A platform's word on one of her hashes: kept on the row, on her timeline (no hash in the log)."""
    with transaction.atomic():
        row.feedback = {**row.feedback, platform[:64]: opinion[:32]}
        row.save(update_fields=["feedback"])
        log_action(actor, "exchange.feedback", row.case, case_id=row.case_id, destination=platform[:64],
                   opinion=opinion[:32])  # fmt: skip


# --- doubts: what partners said against her hashes ---------------------------------------------------------

DOUBTS = ("false_positive", "disputed")


def doubts(case: Case) -> list[tuple[int, int, int]]:
    """(reference id, platforms saying "false_positive", platforms saying "disputed") for each reference of the
    case a destination doubted, read from the shared hashes' feedback (one source: nothing is stored twice).
    A vPDQ is fed back as a whole list of frames, so it is matched to no single reference and left out."""
    said: dict[tuple[str, str], dict[str, str]] = {}
    for row in SharedHash.objects.filter(case=case).exclude(feedback={}).exclude(signal_type="vpdq"):
        said.setdefault((FIELD_TYPES[row.signal_type][1], row.signal), {}).update(row.feedback)
    said = {key: opinions for key, opinions in said.items() if set(opinions.values()) & set(DOUBTS)}
    if not said:
        return []
    counts: dict[int, list[int]] = {}
    signals = Signal.objects.filter(case=case, reference__isnull=False, value__in={value for _k, value in said})
    for kind, value, reference_id in signals.values_list("kind", "value", "reference_id").distinct():
        opinions = said.get((kind, value), {}).values()
        count = counts.setdefault(reference_id, [0, 0])
        count[0] += sum(1 for o in opinions if o == "false_positive")
        count[1] += sum(1 for o in opinions if o == "disputed")
    return sorted((ref, *count) for ref, count in counts.items() if any(count))
