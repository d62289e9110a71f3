"""The review queue: which hits staff look at first, what they see of each, and what they decide.

Views parse and render; everything else is here. A hit is shown as a blurred greyscale thumbnail next to
the reference it matched, with the numbers of the match; the real medium only on a deliberate reveal,
which is audited and counted against the person's daily exposure (``exposure``). Decisions go through
``kesu.matching.services`` (a confirmed hit joins her bank) and are kept as ``Decision`` rows, from which
``calibration.refit`` learns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case as When_  # (a SQL CASE; Case is the desk's)
from django.db.models import F, IntegerField, Q, QuerySet, When
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit.services import log_action
from ..cases.models import Case, CaseType
from ..cases.services import visible_cases
from ..lib.errors import NotFound, UserError
from ..matching import lifecycle, media
from ..matching import services as matching
from ..matching.models import Hit
from ..matching.signals import BY_LABEL
from ..vault import services as vault
from . import context, playback
from .models import Decision, HitPreview

ORDERS = ("priority", "probability", "nudity", "age")
PER_PAGE = 50
# CSAM and minors first: the law gives hosts the shortest deadlines there, and the harm grows fastest.
URGENT_CASE = Q(case_type=CaseType.CSAM) | Q(victim__is_minor=True)
# Every signal a hit can come from (kesu.matching); a constant, so the filter form reads no table for it.
SIGNALS = ("sha256", "md5", "pdq", "local", "vpdq", "face")


@dataclass(frozen=True)
class Filters:
    case: int | None = None
    code: str = ""  # a victim's code as staff read it on the page: all her cases
    host: str = ""
    signal: str = ""
    status: str = Hit.Status.NEW
    order: str = "priority"

    @classmethod
    def from_query(cls, query) -> Filters:
        """Filters from a request's GET; unknown values fall back to the defaults (no error for a stale link)."""
        case = query.get("case", "")
        status = query.get("status", Hit.Status.NEW)
        order = query.get("order", "priority")
        case = case.strip()
        return cls(
            case=int(case) if case.isdigit() else None,
            code=case.upper()[:16] if case and not case.isdigit() else "",
            host=query.get("site", "").strip().lower()[:253],
            signal=query.get("signal", "").strip()[:32],
            status=status if status in Hit.Status.values or status == "all" else Hit.Status.NEW,
            order=order if order in ORDERS else "priority",
        )

    def as_query(self) -> dict[str, str]:
        """The non-default filters, for links that keep them (next, previous, back to the queue)."""
        values = {"case": self.case or self.code, "site": self.host, "signal": self.signal}
        values |= {"status": self.status if self.status != Hit.Status.NEW else ""}
        values |= {"order": self.order if self.order != "priority" else ""}
        return {key: str(value) for key, value in values.items() if value}


def _ordering(order: str) -> list:
    if order == "probability":
        return ["-probability", "created_at", "pk"]
    if order == "nudity":
        return [F("nudity").desc(nulls_last=True), "-probability", "pk"]
    if order == "age":
        return ["created_at", "pk"]
    return ["urgency", *_within_urgency()]


def _within_urgency() -> list:
    return ["-probability", F("nudity").desc(nulls_last=True), "created_at", "pk"]


def queue(user, filters: Filters) -> QuerySet[Hit]:
    """The hits this user may review, filtered and in review order."""
    hits = Hit.objects.all()
    if not getattr(user, "sees_all_cases", False):
        hits = hits.filter(case__in=visible_cases(user))
    if filters.status != "all":
        hits = hits.filter(status=filters.status)
    if filters.case:
        hits = hits.filter(case_id=filters.case)
    if filters.code:
        hits = hits.filter(case__victim__code=filters.code)
    if filters.host:
        hits = hits.filter(Q(host=filters.host) | Q(host__endswith="." + filters.host))
    if filters.signal:
        hits = hits.filter(signal=filters.signal)
    # The urgent cases are few: naming them spares the sort a join with every hit's case and victim.
    urgent = list(Case.objects.filter(URGENT_CASE).values_list("pk", flat=True))
    hits = hits.annotate(urgency=When_(When(case_id__in=urgent, then=0), default=1, output_field=IntegerField()))
    return hits.order_by(*_ordering(filters.order))


class _UrgentFirst:
    """The priority order as two index-ordered queries, urgent cases' hits first, for the paginator: sorting
    every waiting hit by a CASE over the urgent cases cost ~60 ms at 100,000 hits; this reads 50 rows."""

    def __init__(self, hits: QuerySet, urgent: list[int]):
        rest = _within_urgency()
        self.parts = [hits.filter(case_id__in=urgent).order_by(*rest), hits.exclude(case_id__in=urgent).order_by(*rest)]
        self._counts: list[int] | None = None

    def count(self) -> int:
        if self._counts is None:
            self._counts = [part.count() for part in self.parts]
        return sum(self._counts)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[int]:
        first = self._counts[0] if self._counts is not None else self.parts[0].count()
        start, stop = window.start or 0, window.stop
        ids = list(self.parts[0][start : min(stop, first)]) if start < first else []
        if stop > first:
            ids += list(self.parts[1][max(0, start - first) : stop - first])
        return ids


def page_of(user, filters: Filters, number):
    """One page of the queue and its hits. The sort reads only the hits' own columns; the 50 hits shown are
    then loaded with their cases (joining every waiting hit with its case before sorting took ~90 ms at
    100,000 hits)."""
    urgent = list(Case.objects.filter(URGENT_CASE).values_list("pk", flat=True))
    ids = queue(user, filters).values_list("pk", flat=True)
    if filters.order == "priority":
        ids = _UrgentFirst(ids, urgent)
    page = Paginator(ids, PER_PAGE).get_page(number)
    shown = Hit.objects.filter(pk__in=list(page)).select_related("case__victim").defer("evidence", "source_url_sealed")
    by_id = {hit.pk: hit for hit in shown}
    hits = [by_id[pk] for pk in page if pk in by_id]
    for hit in hits:
        hit.urgency = 0 if hit.case_id in urgent else 1
    return page, hits


def choices(user) -> dict[str, list]:
    """What the filter form offers: the cases with hits waiting, the hosts and the signals seen."""
    waiting = Hit.objects.filter(status=Hit.Status.NEW).values("case_id")
    cases = visible_cases(user).filter(pk__in=waiting).order_by("pk").values_list("pk", "victim__code")
    return {"cases": list(cases), "signals": SIGNALS}


@dataclass(frozen=True)
class Place:
    position: int  # 1-based, 0 when the hit is not (or no longer) in the filtered queue
    total: int
    previous: int | None
    next: int | None


def place(user, filters: Filters, hit_id: int) -> Place:
    """Where a hit stands in the filtered queue, and its neighbours (ids only: one query)."""
    ids = list(queue(user, filters).values_list("pk", flat=True))
    if hit_id not in ids:
        return Place(0, len(ids), None, ids[0] if ids else None)
    i = ids.index(hit_id)
    return Place(i + 1, len(ids), ids[i - 1] if i else None, ids[i + 1] if i + 1 < len(ids) else None)


def hit_for(user, hit_id) -> Hit:
    """A hit of a case this user may see, else NotFound (the views answer 404)."""
    try:
        hit_id = int(hit_id)
    except (TypeError, ValueError):
        raise NotFound(f"no hit {hit_id}") from None
    hit = Hit.objects.filter(pk=hit_id, case__in=visible_cases(user)).select_related(
        "case__victim", "case__data_key", "reference", "matched_hit", "reupload_of"
    )
    if not hit:
        raise NotFound(f"no hit {hit_id}")
    return hit[0]


# --- what matched ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """The numbers behind a hit, as staff read them."""

    signal: str
    probability: float
    scores: dict
    exact: str
    pdq: dict | None
    local: dict | None
    face: dict | None
    segments: list


def evidence_of(hit: Hit) -> Evidence:
    raw = hit.evidence or {}
    return Evidence(
        signal=hit.signal,
        probability=hit.probability,
        scores=raw.get("scores", {}),
        exact=raw.get("exact", ""),
        pdq=raw.get("pdq"),
        local=raw.get("local"),
        face=raw.get("face"),
        segments=raw.get("segments", []),
    )


def features_of(hit: Hit) -> list[float]:
    """The raw scores of the signal that gave the hit its probability, as the calibration reads them."""
    signal_type = BY_LABEL.get(hit.signal)
    return (signal_type.explained_scores(hit.evidence or {}) if signal_type else None) or []


# --- previews and reveals --------------------------------------------------------------------------------


def _poster(hit: Hit, data: bytes):
    """An image to blur: the picture itself, or for a video the frame where the match starts."""
    if not hit.media_type.startswith("video/"):
        return media.open_image(data)
    from PIL import Image

    from ..matching.video import decode_frames

    segments = (hit.evidence or {}).get("segments") or [{}]
    start = float(segments[0].get("query_start", 0.0))
    frames = decode_frames(data, fps=1.0, max_side=480, max_frames=int(start) + 2, max_seconds=20).frames
    if not frames:
        raise NotFound("the video has no frame to show")
    frame = min(frames, key=lambda f: abs(f.t - start))
    return Image.fromarray(frame.rgb)


def preview(actor, hit: Hit, level: str = context.DEFAULT_BLUR) -> bytes:
    """The blurred greyscale thumbnail of a found medium (audited: it is still her picture).

    At the default (strong) blur it is made once from the sealed medium and kept sealed; a lighter level the
    reviewer chose is made each time and kept nowhere. CSAM hits have no medium, so no preview.
    """
    log_action(actor, "media.preview", hit, case_id=hit.case_id, blur=level)
    kept = HitPreview.objects.filter(hit=hit, blob__isnull=False).select_related("blob").first()
    if kept and level == context.DEFAULT_BLUR:
        return vault.read_blob(kept.blob)
    if hit.blob is None:
        raise NotFound("this hit's medium is not kept")
    try:
        jpeg = context.blurred(_poster(hit, vault.read_blob(hit.blob)), level)
    except UserError:
        raise NotFound("this hit's medium cannot be shown") from None
    if level != context.DEFAULT_BLUR:
        return jpeg
    with transaction.atomic():
        blob = vault.store_blob(hit.case.data_key, jpeg)
        HitPreview.objects.update_or_create(hit=hit, defaults={"blob": blob})
    return jpeg


def reveal(actor, hit: Hit, *, first: bool = True) -> tuple[bytes, str]:
    """The found medium itself, for a user who chose to look (audited, counted as exposure).

    A video comes as the browser plays it (``playback``). ``first`` is False for a video's later range
    requests: the same look, audited and counted once. Counted only once there is something to show: a
    medium that cannot be decoded raises UserError and costs the reviewer nothing."""
    from . import exposure

    if hit.blob is None:
        raise NotFound("this hit's medium is not kept")
    if hit.media_type.startswith("video/"):
        shown = playback.playable(hit.blob), playback.CONTENT_TYPE
    else:
        shown = media.display_copy(vault.read_blob(hit.blob))
    if first:
        log_action(actor, "media.view", hit, case_id=hit.case_id)
        exposure.count(actor)
    return shown


def request_capture(actor, hit: Hit):
    from ..evidence.services import request_preservation

    if hit.source_url_sealed is None:
        raise UserError(_("This hit has no recorded place to capture."))
    return request_preservation(actor, hit.case, matching.source_url(hit))


# --- decisions -------------------------------------------------------------------------------------------

RECENT = 5  # decisions the review pages offer to take back
RECENT_WINDOW = timedelta(hours=12)  # a working day: older decisions are undone from the hit's own page


def _record(actor, hit: Hit, kind: str) -> Decision:
    return Decision.objects.create(
        hit=hit,
        user=actor if getattr(actor, "pk", None) and getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        signal=hit.signal,
        probability=hit.probability,
        features=features_of(hit),
    )


def _confirm(actor, hit: Hit) -> None:
    if hit.blob is None:
        # CSAM hits keep no medium to bank: the decision is recorded, the bank learns nothing new.
        lifecycle.move(actor, hit, lifecycle.Event.CONFIRM)
        log_action(actor, "hit.confirm", hit, case_id=hit.case_id, signals=0)
    else:
        matching.confirm_hit(actor, hit)


def decide(actor, hit: Hit, kind: str) -> list[Hit]:
    """Confirm, reject, or confirm with every other waiting hit of the case showing the very same file
    ("same content elsewhere"). Returns the hits decided."""
    if kind not in (Decision.Kind.CONFIRM, Decision.Kind.REJECT, Decision.Kind.SAME):
        raise UserError(f"unknown decision {kind!r}: use confirm, reject or same")
    ids = [hit.pk]
    if kind == Decision.Kind.SAME:
        same = Hit.objects.filter(case_id=hit.case_id, sha256=hit.sha256, status=Hit.Status.NEW)
        ids += same.values_list("pk", flat=True)
    with transaction.atomic():
        # Locked and read again: a double key press or a colleague on the same hit must not decide it twice
        # (her bank would get its signals twice, the calibration the decision twice).
        waiting = Hit.objects.select_for_update().filter(pk__in=ids, status=Hit.Status.NEW).order_by("pk")
        decided = sorted(waiting.select_related("case__data_key"), key=lambda h: h.pk != hit.pk)
        if not decided or decided[0].pk != hit.pk:
            hit.refresh_from_db(fields=["status"])
            raise UserError(_("Hit #%(id)d was already decided (%(status)s).") % {"id": hit.pk, "status": hit.status})
        for item in decided:
            lifecycle.check(item, kind)
            if kind == Decision.Kind.REJECT:
                matching.reject_hit(actor, item)
            else:
                _confirm(actor, item)
            _record(actor, item, kind)
    return decided


def recent(user, limit: int = RECENT) -> list[Decision]:
    """This person's latest decisions that can still be taken back (newest first): the hit is decided and no
    notice names it yet. The review pages offer ``u`` on the first and list them all."""
    if getattr(user, "pk", None) is None:
        return []
    since = timezone.now() - RECENT_WINDOW
    rows = Decision.objects.filter(user_id=user.pk, undone=False, at__gte=since)
    rows = rows.exclude(kind=Decision.Kind.UNDO).select_related("hit")
    kept: dict[int, Decision] = {}
    for decision in rows[: limit * 4]:
        hit = decision.hit
        if hit.pk in kept or hit.status == Hit.Status.NEW:
            continue
        if (lifecycle.state(hit), lifecycle.Event.UNDO) in lifecycle.TRANSITIONS:
            kept[hit.pk] = decision
        if len(kept) == limit:
            break
    return list(kept.values())


def undo(actor, hit: Hit) -> Hit:
    """Take back the last decision on a hit: it waits for review again, and its banked signals go. Refused
    once a notice names it (``lifecycle``)."""
    last = hit.decisions.filter(undone=False).exclude(kind=Decision.Kind.UNDO).first()
    if last is None or hit.status == Hit.Status.NEW:
        raise UserError(_("Hit #%(id)d has no decision to undo.") % {"id": hit.pk})
    with transaction.atomic():
        lifecycle.move(actor, hit, lifecycle.Event.UNDO)
        last.undone = True
        last.save(update_fields=["undone"])
        hit.banked_signals.all().delete()
        _record(actor, hit, Decision.Kind.UNDO)
        log_action(actor, "hit.undo", hit, case_id=hit.case_id, decision=last.kind)
    return hit
