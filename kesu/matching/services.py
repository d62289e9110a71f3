"""Matching services used by references, the CLI, the review UI and the patrol.

- `bank_reference`: put a reference's signals into its case's bank;
- `match`: search a found medium against every open case (or some); `search` does it from the values
  `found` computed (what the patrol keeps of a medium instead of its pixels, signalfile.py);
- `record_hits`, `confirm_hit` (the hit's signals join the bank), `reject_hit`: what staff act on.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.db import transaction

from ..audit.services import log_action
from ..lib.errors import UserError
from ..vault import services as vault
from . import bank as banks
from . import calibration, lifecycle, media
from .evidence import Evidence
from .models import Hit, Signal
from .signals import FoundMedium, Medium, compute_all, found_medium


def medium_of(data: bytes, info: media.MediaInfo | None = None, reference: bool = False) -> Medium:
    info = info or media.inspect(data)
    return Medium(data, info.kind, info.image, reference=reference)


def _signal_rows(case, medium: Medium, values=None, **owner) -> list[Signal]:
    rows = []
    for value in compute_all(medium) if values is None else values:
        sealed = vault.seal_bytes(case.data_key, value.secret, f"signal.{value.kind}") if value.secret else None
        rows.append(
            Signal(
                case=case,
                kind=value.kind,
                value=value.value,
                quality=value.quality,
                meta=value.meta,
                sealed=sealed,
                **owner,
            )
        )
    return Signal.objects.bulk_create(rows)


def bank_reference(case, reference, data: bytes, info: media.MediaInfo, values=None) -> list[Signal]:
    """Bank a reference's signals. ``values`` are signals computed from these very bytes before (the test
    suite computes its reference files' signals once per run); their SHA-256 must be the file's."""
    medium = medium_of(data, info, reference=True)
    if values is not None and [v.value for v in values if v.kind == "sha256"] != [medium.sha256]:
        raise UserError("the precomputed signals are not of this file")
    return _signal_rows(case, medium, values, source=Signal.Source.REFERENCE, reference=reference)


def bank_values(case, reference, values: list) -> list[Signal]:
    """Bank values given without a medium (a hash-only reference: hashes made on her device or elsewhere)."""
    return _signal_rows(case, None, values, source=Signal.Source.REFERENCE, reference=reference)


@dataclass
class Candidate:
    """One case's reference (or confirmed hit) that a found medium matched."""

    case_id: int
    owner: int  # reference id, or -hit id for a confirmed hit
    signal: str
    probability: float
    evidence: dict = field(default_factory=dict)

    @property
    def reference_id(self) -> int | None:
        return self.owner if self.owner > 0 else None

    def as_dict(self) -> dict:
        out = {"case": self.case_id, "signal": self.signal, "probability": round(self.probability, 4)}
        out["reference" if self.owner > 0 else "confirmed_hit"] = abs(self.owner)
        out["pink"] = self.probability >= calibration.PINK
        return out | {"evidence": self.evidence}


@dataclass
class MatchResult:
    kind: str
    sha256: str
    nudity: float | None
    faces: list[dict]
    candidates: list[Candidate]
    notes: list[str] = field(default_factory=list)  # e.g. "video truncated"
    mime: str = ""
    searched_through: int = 0  # the highest banked signal id the search saw

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "mime": self.mime,
            "sha256": self.sha256,
            "nudity": None if self.nudity is None else round(self.nudity, 3),
            "faces": self.faces,
            "hits": [c.as_dict() for c in self.candidates],
            "notes": self.notes,
        }


def match(data: bytes, case_ids: list[int] | None = None, info: media.MediaInfo | None = None) -> MatchResult:
    """Search a found medium against the bank. Raises UserError for unreadable input."""
    info = info or media.inspect(data)
    return search(found(data, info), info.mime, case_ids)


def found(data: bytes, info: media.MediaInfo | None = None) -> FoundMedium:
    """Every signal a search needs of a found medium, computed once (decoded, analysed, hashed)."""
    return found_medium(medium_of(data, info))


def search(medium: FoundMedium, mime: str = "", case_ids: list[int] | None = None) -> MatchResult:
    """Search a found medium's values (the patrol fingerprints in a stage of its own and keeps only them)."""
    bank = banks.current()
    nudity = medium.nudity
    candidates = [
        Candidate(bank.owners[e.owner], e.owner, e.signal, e.probability, e.as_dict())
        for e in bank.search(medium)
        if case_ids is None or bank.owners[e.owner] in case_ids
    ]
    candidates.sort(key=lambda c: priority(c, nudity), reverse=True)
    return MatchResult(medium.kind, medium.sha256, nudity, medium.faces, candidates, medium.notes, mime, bank.max_id)


def priority(candidate: "Candidate", nudity: float | None) -> float:
    """Review order: probability first; a face match on a nude image outranks one on a clothed image."""
    bonus = 0.5 * (nudity or 0.0) if candidate.signal == "face" else 0.0
    return candidate.probability + bonus


def record_hits(
    result: MatchResult, data: bytes, source_url: str = "", min_probability: float = calibration.REVIEW_CUT
) -> list[Hit]:
    """Turn a match into hits, one per case (its best candidate). Idempotent per medium, place and case:
    the same picture at a new address is a new hit (a re-upload is found where it now is)."""
    from ..cases.models import Case

    best: dict[int, Candidate] = {}
    for candidate in result.candidates:
        if candidate.probability >= min_probability and candidate.probability > getattr(
            best.get(candidate.case_id), "probability", -1
        ):
            best[candidate.case_id] = candidate
    hits = []
    for case in Case.objects.filter(pk__in=best).select_related("data_key"):
        hits.append(_record_hit(case, best[case.pk], result, data, source_url))
    return hits


def _record_hit(case, candidate: Candidate, result: MatchResult, data: bytes, source_url: str) -> Hit:
    source_key = vault.blind_index(source_url) if source_url else ""
    with transaction.atomic():
        existing = Hit.objects.filter(case=case, sha256=result.sha256, source_key=source_key).first()
        if existing:
            existing.is_new = False
            return existing
        hit = Hit.objects.create(
            case=case,
            reference_id=candidate.reference_id,
            matched_hit_id=-candidate.owner if candidate.owner < 0 else None,
            sha256=result.sha256,
            media_type=result.mime,
            blob=vault.store_blob(case.data_key, data) if case.keeps_media else None,
            source_url_sealed=vault.seal_text(case.data_key, source_url, "hit.source_url") if source_url else None,
            source_key=source_key,
            host=host_of_url(source_url),
            signal=candidate.signal,
            probability=candidate.probability,
            nudity=result.nudity,
            evidence=candidate.evidence,
        )
        log_action(None, "hit.create", hit, case_id=case.pk, signal=hit.signal, probability=round(hit.probability, 4))
    hit.is_new = True  # not stored: tells the caller (the patrol's alerts) this call made it
    return hit


def host_of_url(url: str) -> str:
    """The site of a URL as kept in the clear: its registrable domain (``m.blog.example`` -> ``blog.example``),
    never the full host name, which can carry her name (``hanako.blog.example``). An address without one (an
    IP) keeps its host; "" when there is none. Never raises: a stored URL may be odd."""
    from ..sites.domains import BadDomain, registrable

    try:
        return registrable(url)
    except BadDomain:
        try:
            return (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:
            return ""


def source_url(hit: Hit) -> str:
    """Where the hit was found (opened from the vault)."""
    return vault.open_text(hit.case.data_key, hit.source_url_sealed, "hit.source_url")


def confirm_hit(actor, hit: Hit, data: bytes | None = None) -> Hit:
    """Staff say the hit is the victim's: its signals join the case's bank,
    so re-uploads of it match directly."""
    if hit.status == Hit.Status.CONFIRMED:
        return hit
    if data is None:
        if hit.blob is None:
            raise UserError("this hit's medium was not kept; give the file to confirm it")
        data = vault.read_blob(hit.blob)
    with transaction.atomic():
        lifecycle.move(actor, hit, lifecycle.Event.CONFIRM)
        medium = medium_of(data, reference=True)
        values = _without_bystanders(hit.case, compute_all(medium))
        signals = _signal_rows(hit.case, medium, values, source=Signal.Source.HIT, hit=hit)
        log_action(actor, "hit.confirm", hit, case_id=hit.case_id, signals=len(signals))
    return hit


def _without_bystanders(case, values: list) -> list:
    """A confirmed hit may show other people: only faces that already match
    her bank join it, so the bank never learns a stranger's face."""
    import numpy as np

    from .signals import threshold

    known = [
        np.frombuffer(vault.open_bytes(case.data_key, s.sealed, "signal.face"), dtype="<f4")
        for s in Signal.objects.in_use().filter(case=case, kind="face")
    ]
    limit = threshold("face")

    def hers(value) -> bool:
        vector = np.frombuffer(value.secret, dtype="<f4")
        return any(float(np.linalg.norm(vector - k)) <= limit for k in known)

    return [v for v in values if v.kind != "face" or hers(v)]


def reject_hit(actor, hit: Hit) -> Hit:
    with transaction.atomic():
        lifecycle.move(actor, hit, lifecycle.Event.REJECT)
        hit.banked_signals.all().delete()  # a rejected hit must not keep matching
        log_action(actor, "hit.reject", hit, case_id=hit.case_id)
    return hit


def find_exact(kind: str, value: str):
    return Signal.objects.filter(kind=kind, value=value).select_related("case", "reference")


__all__ = [
    "Evidence", "bank_reference", "bank_values", "match", "found", "search", "record_hits", "confirm_hit",
    "reject_hit", "find_exact",
]  # fmt: skip
