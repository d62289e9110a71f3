"""The patrol's stages as classes (the contract is in stages.py): Fetch and Capture for pages, Download,
Fingerprint and Match for the media they show; Alert, the last, is in alerts.py (it hands hits on to
discovery, which adds pages here). And the helpers they share: pages and sightings added once, URLs sealed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ..lib.errors import UserError
from ..matching import media as media_info
from ..matching import services as matching
from ..matching import signalfile
from ..matching.models import Hit, Signal
from ..vault import services as vault
from ..vault.models import VaultBlob
from . import claims, extract, http, models, politeness, reuploads, stages
from .limits import Limits
from .models import Browser, Page, Run, Sighting, Stage
from .stages import Context, enqueue, register

MB = 1024 * 1024


def open_url(sealed: bytes, field: str) -> str:
    return vault.open_text(vault.patrol_key(), sealed, field)


def seal_url(url: str, field: str) -> tuple[str, bytes]:
    return vault.blind_index(url), vault.seal_text(vault.patrol_key(), url, field)


def note(run_id: int, text: str) -> None:
    """One line in the run's report, once."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if text not in run.notes and len(run.notes) < 200:
            run.notes = [*run.notes, text]
            run.save(update_fields=["notes"])


# --- pages ----------------------------------------------------------------------------------------------


def add_page(run: Run, url: str, kind: str, depth: int = 0, parent: Page | None = None) -> Page | None:
    """A page in the run, once per URL; None when it was already there."""
    key, sealed = seal_url(url, "patrol.page")
    try:
        with transaction.atomic():
            page = Page.objects.create(
                run=run, url_key=key, url_sealed=sealed, host=urlsplit(url).hostname or "", kind=kind,
                depth=depth, parent=parent, stage=Stage.FETCH,
            )  # fmt: skip
    except IntegrityError:
        return None
    enqueue(Stage.FETCH, page.pk)
    return page


def _give_up_host(row, verdict: politeness.Verdict) -> None:
    """The host banned us: this run leaves it alone (the next run tries again after the pause)."""
    run_id = _run_id(row)
    reason = f"skipped: {row.host} refused us (paused)"
    Page.objects.filter(run_id=run_id, host=row.host, stage=Stage.FETCH, claim="").update(
        stage=Stage.SKIPPED, error=reason
    )
    Sighting.objects.filter(page__run_id=run_id, host=row.host, stage=Stage.DOWNLOAD, claim="").update(
        stage=Stage.SKIPPED, error=reason
    )


def _run_id(row) -> int:
    return row.run_id if isinstance(row, Page) else row.page.run_id


class _OverHttp(stages.Stage):
    """A stage that reads the web over plain HTTP, within the host's politeness."""

    def polite_get(self, ctx: Context, url: str, limit_bytes: int, referer: str = "") -> http.Response:
        """The response; Stop after giving the row back when the host is busy, paused, or asked us to wait."""
        row = ctx.row
        response, wait, verdict = politeness.get(row.host, url, ctx.limits, limit_bytes, referer)
        if response is None:
            raise self.defer(ctx, wait)
        if verdict.note:
            note(_run_id(row), verdict.note)
        if verdict.banned:
            _give_up_host(row, verdict)
        return response


@dataclass
class Fetched:
    """What a fetched page showed: the browser needed, or the medium it is, or links to follow, or media."""

    url: str
    browser: bool = False
    body: bytes | None = None
    items: list[str] = field(default_factory=list)
    listings: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    links: int = 0
    notes: list[str] = field(default_factory=list)


@register
class Fetch(_OverHttp):
    """A page over HTTP: a listing adds pages, an item adds its media, a player goes to the browser."""

    name, model, related = Stage.FETCH, Page, ("run__watch",)

    def watch_of(self, page: Page):
        return page.run.watch

    def run(self, ctx: Context) -> Fetched:
        page = ctx.row
        url = open_url(page.url_sealed, "patrol.page")
        try:
            response = self.polite_get(ctx, url, settings.KESU_PATROL_PAGE_MB * MB)
        except http.NeedsBrowser:
            return Fetched(url, browser=True)
        self._check(ctx, response)
        if response.mime.startswith(("image/", "video/")):  # a submitted direct link
            if not response.complete:
                raise self.retry_or_fail(ctx, "medium not complete", said="incomplete")
            return Fetched(url, body=response.body)
        parsed = extract.parse(response.text, url)
        if page.kind == Page.Kind.LISTING:
            items, listings, notes = discover_links(page, url, parsed, ctx.limits)
            return Fetched(url, items=items, listings=listings, notes=notes)
        if ctx.limits.browser == Browser.ALWAYS or (ctx.limits.browser == Browser.AUTO and parsed.needs_browser):
            return Fetched(url, browser=True)
        media = parsed.media[: settings.KESU_PATROL_MEDIA_PER_PAGE]
        cut = [f"{page.host}: a page had {len(parsed.media)} media; took the first {len(media)}"]
        return Fetched(url, media=[ref.url for ref in media], links=len(parsed.links),
                       notes=cut if len(parsed.media) > len(media) else [])  # fmt: skip

    def _check(self, ctx: Context, response: http.Response) -> None:
        """Stop unless the page answered 200: wait when asked to, try again later, or fail."""
        if response.status in (429, 503):
            wait = response.retry_after() or stages.RETRY_SECONDS
            if ctx.row.attempts < stages.MAX_ATTEMPTS + 2:  # counted: a host that only ever says "later" is given up
                raise self.defer(ctx, wait, "asked to wait", attempt=True)
        if response.error or response.status != 200:
            raise self.retry_or_fail(ctx, response.error or f"HTTP {response.status}", response.status or None)

    def commit(self, ctx: Context, found: Fetched) -> str:
        page = ctx.row
        ctx.then.append(lambda: [note(page.run_id, text) for text in found.notes])
        if found.browser:
            self.advance(ctx, Stage.CAPTURE, browser=True)
            enqueue(Stage.CAPTURE, page.pk)
            return "to the browser"
        if found.body is not None:
            sighting = _add_sighting(page, found.url, downloaded=found.body)
            self.advance(ctx, Stage.DONE, status=200, media=int(sighting is not None))
            return "1 medium"
        if page.kind == Page.Kind.LISTING:
            return self._listing(ctx, found)
        for url in found.media:
            _add_sighting(page, url)
        self.advance(ctx, Stage.DONE, status=200, media=len(found.media), links=found.links)
        return f"{len(found.media)} media"

    def _listing(self, ctx: Context, found: Fetched) -> str:
        page, limits = ctx.row, ctx.limits
        room = max(0, limits.pages - Page.objects.filter(run_id=page.run_id).count())
        added = 0
        for target, kind in [*[(u, Page.Kind.ITEM) for u in found.items],
                             *[(u, Page.Kind.LISTING) for u in found.listings]]:  # fmt: skip
            if added >= room:
                found.notes.append(f"page limit of {limits.pages} reached; the rest waits for the next run")
                break
            depth = page.depth + 1 if kind == Page.Kind.LISTING else page.depth
            added += add_page(page.run, target, kind, depth, page) is not None
        self.advance(ctx, Stage.DONE, status=200, links=len(found.items) + len(found.listings))
        return f"{len(found.items)} items, {len(found.listings)} listings"


def discover_links(page: Page, url: str, parsed: extract.Parsed, limits: Limits) -> tuple[list, list, list[str]]:
    """(item URLs, listing URLs, notes) of a listing page, within the watch's patterns and limits."""
    notes = [f"{page.host}: dropped {n} link(s) as traps ({reason})" for reason, n in parsed.refused.items() if n]
    same_site = [link for link in parsed.links if urlsplit(link.url).hostname == page.host and link.url != url]
    listing_re = _pattern(limits.listing)
    listings = [link.url for link in same_site if extract.is_next(link) or (listing_re and listing_re.search(link.url))]
    item_re = _pattern(limits.item)
    candidates = [link.url for link in same_site if link.url not in listings]
    if page.depth + 1 > limits.depth:
        if listings:
            notes.append(f"listing depth limit of {limits.depth} reached on {page.host}")
        listings = []
    items = [u for u in candidates if item_re.search(u)] if item_re else candidates
    if item_re and not items and candidates and page.depth == 0 and page.run.source != "related":
        notes.append(
            f"{page.host}: no link matched the item pattern on a listing; the site's layout may have changed "
            f"(took its {min(len(candidates), limits.links)} other links instead)"
        )
        items = candidates
    if len(items) > limits.links:
        notes.append(f"{page.host}: a listing had {len(items)} links; took the first {limits.links}")
        items = items[: limits.links]
    return items, listings, notes


def _pattern(text: str):
    try:
        return re.compile(text) if text else None
    except re.error:
        return None


@register
class Capture(stages.Stage):
    """Heavy capture: the real browser, for players, streams and script-built pages."""

    name, model, related = Stage.CAPTURE, Page, ("run__watch",)

    def watch_of(self, page: Page):
        return page.run.watch

    def run(self, ctx: Context):
        from ..capture import services as capture_service

        page, limits = ctx.row, ctx.limits
        slot, wait = politeness.acquire(page.host, limits.rate, limits.concurrency, claims.lease().total_seconds())
        if slot is None:
            raise self.defer(ctx, wait)
        url = open_url(page.url_sealed, "patrol.page")
        try:
            captured = capture_service.capture(url)
        except UserError as error:
            politeness.release(slot, None)
            raise self.retry_or_fail(ctx, str(error)) from None
        document = next((e for e in captured.exchanges if e.resource_type == "Document"), None)
        politeness.release(slot, document.status if document else None)
        return url, captured, document

    def commit(self, ctx: Context, result) -> str:
        url, captured, document = result
        found = [item for item in captured.media if item.body]
        for item in found[: settings.KESU_PATROL_MEDIA_PER_PAGE]:
            _add_sighting(ctx.row, item.url if not item.url.startswith(("blob:", "data:")) else f"{url}#{item.source}",
                          downloaded=item.body)  # fmt: skip
        self.advance(ctx, Stage.DONE, status=document.status if document else None, media=len(found),
                     error="; ".join(captured.errors)[:300])  # fmt: skip
        return f"{len(found)} media in the browser"


# --- sightings ------------------------------------------------------------------------------------------


def _add_sighting(page: Page, url: str, downloaded: bytes | None = None) -> Sighting | None:
    key, sealed = seal_url(url, "patrol.media")
    if Sighting.objects.filter(page=page, url_key=key).exists():
        return None
    sighting = Sighting.objects.create(
        page=page, url_key=key, url_sealed=sealed, host=urlsplit(url).hostname or page.host, stage=Stage.DOWNLOAD
    )
    if downloaded is None:
        enqueue(Stage.DOWNLOAD, sighting.pk)
    else:
        _attach(sighting, downloaded)
    return sighting


@register
class Download(_OverHttp):
    """A medium over HTTP (the page as referer), within the host's politeness."""

    name, model, related = Stage.DOWNLOAD, Sighting, ("page__run__watch",)

    def watch_of(self, sighting: Sighting):
        return sighting.page.run.watch

    def run(self, ctx: Context) -> bytes:
        sighting = ctx.row
        url = open_url(sighting.url_sealed, "patrol.media")
        referer = open_url(sighting.page.url_sealed, "patrol.page")
        try:
            response = self.polite_get(ctx, url, settings.KESU_PATROL_MEDIA_MB * MB, referer)
        except http.NeedsBrowser:
            response = http.Response(url, error="host reached only through an egress proxy; the page's capture has it")
        if response.error or response.status != 200 or not response.body:
            error = response.error or f"HTTP {response.status}"
            raise self.retry_or_fail(ctx, error, response.status or None, said="failed")
        return response.body

    def commit(self, ctx: Context, body: bytes) -> str:
        self.advance(ctx, Stage.FINGERPRINT)
        _attach(Sighting.objects.get(pk=ctx.row.pk), body)
        return "downloaded"


def _attach(sighting: Sighting, data: bytes) -> None:
    """Point the sighting at the fingerprint of its bytes (made once per SHA-256) and queue what comes next."""
    sha = hashlib.sha256(data).hexdigest()
    fingerprint = models.Fingerprint.objects.filter(sha256=sha).first()
    if fingerprint is None:
        try:
            with transaction.atomic():
                fingerprint = models.Fingerprint.objects.create(
                    sha256=sha, size=len(data), stage=Stage.FINGERPRINT, blob=vault.store_blob(vault.patrol_key(), data)
                )
            enqueue(Stage.FINGERPRINT, fingerprint.pk)
        except IntegrityError:
            fingerprint = models.Fingerprint.objects.get(sha256=sha)
    if fingerprint.stranger_through is not None:
        if _bank_grew(fingerprint):  # a stranger then; maybe hers now that more of her pictures are banked
            fingerprint = _fingerprint_again(fingerprint, data)
    elif fingerprint.blob_id is None:  # a hit's bytes were forgotten after a while: a hit may need them again
        blob = vault.store_blob(vault.patrol_key(), data)
        if not models.Fingerprint.objects.filter(pk=fingerprint.pk, blob__isnull=True).update(blob=blob):
            vault.delete_blob(blob)
        fingerprint.refresh_from_db()
    ready = fingerprint.stage in (Stage.DONE, Stage.FAILED)
    stage = Stage.MATCH if ready else Stage.FINGERPRINT
    Sighting.objects.filter(pk=sighting.pk).update(fingerprint=fingerprint, stage=stage)
    if ready:
        enqueue(Stage.MATCH, sighting.pk)


def _bank_grew(fingerprint: models.Fingerprint) -> bool:
    return fingerprint.stage == Stage.DONE and Signal.objects.filter(pk__gt=fingerprint.stranger_through).exists()


def _fingerprint_again(fingerprint: models.Fingerprint, data: bytes) -> models.Fingerprint:
    """A stranger's medium seen again after the bank grew: its bytes are in hand, fingerprint them once more."""
    blob = vault.store_blob(vault.patrol_key(), data)
    again = models.Fingerprint.objects.filter(pk=fingerprint.pk, stranger_through=fingerprint.stranger_through)
    if again.update(blob=blob, stranger_through=None, stage=Stage.FINGERPRINT, claim="", due_at=timezone.now()):
        enqueue(Stage.FINGERPRINT, fingerprint.pk)
    else:  # another sighting did it first
        vault.delete_blob(blob)
    fingerprint.refresh_from_db()
    return fingerprint


@dataclass
class Fingerprinted:
    # every signal type's values (matching/signalfile.py): no bytes, no pixels beyond local features' 64 px grey look
    computed: bytes | None = None
    kind: str = ""
    mime: str = ""
    error: str = ""


@register
class Fingerprint(stages.Stage):
    """Decode once and compute every signal the bank searches with; only the values are kept, sealed."""

    name, model, related = Stage.FINGERPRINT, models.Fingerprint, ("blob",)

    def run(self, ctx: Context) -> Fingerprinted:
        data = vault.read_blob(ctx.row.blob)
        try:
            info = media_info.inspect(data)
            found = matching.found(data, info)
            return Fingerprinted(signalfile.dumps(found), found.kind, info.mime)
        except UserError as problem:
            return Fingerprinted(error=str(problem)[:300])

    def commit(self, ctx: Context, done: Fingerprinted) -> str:
        item = ctx.row
        blob = vault.store_blob(vault.patrol_key(), done.computed) if done.computed else None
        self.advance(ctx, Stage.FAILED if done.error else Stage.DONE, error=done.error, kind=done.kind,
                     mime=done.mime, computed=blob)  # fmt: skip
        waiting = list(Sighting.objects.filter(fingerprint=item, stage=Stage.FINGERPRINT).values_list("pk", flat=True))
        Sighting.objects.filter(pk__in=waiting).update(stage=Stage.MATCH)
        for pk in waiting:
            enqueue(Stage.MATCH, pk)
        return done.error or f"{done.kind} fingerprinted"


def forget_stranger(fingerprint_id: int, searched_through: int) -> bool:
    """Delete a medium's bytes and signals once every sighting of it matched nothing (call inside the match's
    transaction, after its sighting moved on): of a stranger's picture Kesu keeps only the SHA-256, to skip it
    next time, and how much of the bank it was searched against, to look again when the bank has grown."""
    item = models.Fingerprint.objects.select_for_update().get(pk=fingerprint_id)
    sightings = Sighting.objects.filter(fingerprint_id=fingerprint_id)
    if (
        sightings.filter(stage__in=(Stage.FINGERPRINT, Stage.MATCH)).exists()  # the last one to match decides
        or sightings.filter(hits__isnull=False).exists()
        or Hit.objects.filter(sha256=item.sha256).exists()
    ):
        return False
    models.Fingerprint.objects.filter(pk=item.pk).update(blob=None, computed=None, stranger_through=searched_through)
    for blob in VaultBlob.objects.filter(pk__in=[item.blob_id, item.computed_id]):
        vault.delete_blob(blob)
    return True


@dataclass
class Matched:
    result: matching.MatchResult | None = None
    page_url: str = ""
    data: bytes = b""
    note: str = ""  # why there was nothing to match


@register
class Match(stages.Stage):
    """The medium's signals against the bank of every open case; new hits go to alert, a stranger is forgotten."""

    name, model, related = Stage.MATCH, Sighting, ("fingerprint__computed", "fingerprint__blob", "page__run")

    def run(self, ctx: Context) -> Matched:
        item = ctx.row.fingerprint
        if item.stranger_through is not None:
            return Matched(note="seen before: matched nothing")
        if item.stage == Stage.FAILED or item.computed is None:
            return Matched(note=item.error or "not a medium")
        try:
            found = signalfile.loads(vault.read_blob(item.computed))
        except signalfile.FormatError as error:
            return Matched(note=str(error))
        result = matching.search(found, item.mime)
        page_url = open_url(ctx.row.page.url_sealed, "patrol.page")
        data = vault.read_blob(item.blob) if result.candidates and item.blob else b""
        return Matched(result, page_url, data)

    def commit(self, ctx: Context, found: Matched) -> str:
        sighting = ctx.row
        if found.result is None:
            seen = sighting.fingerprint.stranger_through is not None
            self.advance(ctx, Stage.DONE if seen else Stage.SKIPPED, error="" if seen else found.note)
            if not seen and sighting.fingerprint.stage == Stage.FAILED:  # not a medium: nothing to search again
                forget_stranger(sighting.fingerprint_id, 0)
            return found.note
        hits = matching.record_hits(found.result, found.data, source_url=found.page_url)
        new = [hit for hit in hits if hit.is_new]
        sighting.hits.add(*hits)
        for hit in new:
            reuploads.link(hit, found.page_url)
        Run.objects.filter(pk=sighting.page.run_id).update(hits=F("hits") + len(new))
        self.advance(ctx, Stage.ALERT if new else Stage.DONE, new_hits=[hit.pk for hit in new])
        if new:
            enqueue(Stage.ALERT, sighting.pk)
        elif not hits:
            forget_stranger(sighting.fingerprint_id, found.result.searched_through)
        return f"{len(hits)} hit(s), {len(new)} new"


def request_evidence(url: str, case):
    """A bundle of the page, captured by a capture worker after this transaction commits."""
    from ..evidence import services as evidence
    from ..evidence.models import EvidenceBundle

    return evidence.request_preservation(None, case, url, EvidenceBundle.Reason.PATROL)


def preserve_inline(bundles) -> None:
    """In ``services.drain`` there are no workers: capture the requested bundles here (a done bundle is left alone)."""
    from ..evidence import services as evidence

    if stages.running_inline():
        for bundle in bundles:
            evidence.run_preservation(bundle.pk)
