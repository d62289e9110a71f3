"""The patrol's stages, each a function of one row id, idempotent and resumable.

    page:      fetch (listing -> more pages; item -> media) -> [capture in the browser] -> done
    sighting:  download (light, over HTTP) -> fingerprint (by SHA-256, shared) -> match -> alert -> done

Every stage claims its row, does its work outside any transaction, then
writes its results and moves the row on in one transaction guarded by the
claim (see claims.py). Celery only carries ids (tasks.py); ``services.drain``
runs the same stages in this process, for the command line, the demo and tests.
The last stage, ``alerts.alert``, is a module of its own: it hands hits on to
discovery, which adds pages here.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from ..lib import taskqueue
from ..lib.errors import UserError
from ..matching import media as media_info
from ..matching import services as matching
from ..vault import services as vault
from . import claims, extract, http, politeness, reuploads
from .models import Browser, Fingerprint, Page, Run, Sighting, Stage, Watch

MAX_ATTEMPTS = 4
RETRY_SECONDS = 30
PIPELINE_FORMAT = 1

_inline = threading.local()


# --- queueing -------------------------------------------------------------------------------------------


def enqueue(stage: str, pk: int, countdown: float = 0, recheck: bool = False) -> None:
    """Wake a worker for row pk after the current transaction commits (nothing to do in ``services.drain``)."""
    if getattr(_inline, "active", False):
        return
    taskqueue.after_commit("patrol.recheck" if recheck else f"patrol.{stage}", pk, countdown=max(0, countdown))


@contextmanager
def inline():
    """The stages run in this process (``services.drain``): nothing is queued, evidence is captured here."""
    _inline.active = True
    try:
        yield
    finally:
        _inline.active = False


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


def _limits(page: Page) -> dict:
    return limits_of(page.run.watch)


def limits_of(watch: Watch | None) -> dict:
    """A watch's limits and politeness; hosts no watch describes get the settings' defaults."""
    if watch is None:
        return {
            "rate": settings.KESU_PATROL_RATE_PER_MINUTE, "concurrency": settings.KESU_PATROL_CONCURRENCY,
            "depth": 1, "pages": 100, "links": 200, "browser": Browser.AUTO, "item": "", "listing": "",
        }  # fmt: skip
    return {
        "rate": watch.rate_per_minute, "concurrency": watch.concurrency, "depth": watch.max_depth,
        "pages": watch.max_pages, "links": watch.max_links, "browser": watch.browser,
        "item": watch.item_pattern, "listing": watch.listing_pattern,
    }  # fmt: skip


def watch_for(host: str) -> Watch | None:
    """The watch of the site a host belongs to (www.x.example -> x.example)."""
    labels = host.split(".")
    return Watch.objects.filter(site__domain__in=[".".join(labels[i:]) for i in range(len(labels) - 1)]).first()


def _polite_get(row, model, token: str, url: str, limits: dict, limit_bytes: int, referer: str = ""):
    """The response, or None after deferring the row (host busy, paused, or asked us to wait)."""
    response, wait, verdict = politeness.get(row.host, url, limits, limit_bytes, referer)
    if response is None:
        claims.defer(model, row.pk, token, wait)
        enqueue(row.stage, row.pk, wait)
        return None
    if verdict.note:
        note(row.run_id if isinstance(row, Page) else row.page.run_id, verdict.note)
    if verdict.banned:
        _give_up_host(row, verdict)
    return response


def _give_up_host(row, verdict: politeness.Verdict) -> None:
    """The host banned us: this run leaves it alone (the next run tries again after the pause)."""
    run_id = row.run_id if isinstance(row, Page) else row.page.run_id
    reason = f"skipped: {row.host} refused us (paused)"
    Page.objects.filter(run_id=run_id, host=row.host, stage=Stage.FETCH, claim="").update(
        stage=Stage.SKIPPED, error=reason
    )
    Sighting.objects.filter(page__run_id=run_id, host=row.host, stage=Stage.DOWNLOAD, claim="").update(
        stage=Stage.SKIPPED, error=reason
    )


def _retry_or_fail(model, row, token: str, error: str, status: int | None = None) -> None:
    if row.attempts < MAX_ATTEMPTS and status not in (404, 410, 403, 401, 451):
        claims.defer(model, row.pk, token, RETRY_SECONDS * 2 ** (row.attempts - 1), attempt=True, error=error[:300])
        enqueue(row.stage, row.pk, RETRY_SECONDS * 2 ** (row.attempts - 1))
        return
    with transaction.atomic():
        claims.advance(model, row.pk, token, Stage.FAILED, error=error[:300], **({"status": status} if status else {}))


def fetch(page_id: int) -> str:
    token = claims.claim(Page, page_id, Stage.FETCH)
    if token is None:
        return "not due or taken"
    page = Page.objects.select_related("run__watch").get(pk=page_id)
    limits = _limits(page)
    url = open_url(page.url_sealed, "patrol.page")
    try:
        response = _polite_get(page, Page, token, url, limits, settings.KESU_PATROL_PAGE_MB * 1024 * 1024)
    except http.NeedsBrowser:
        return _to_browser(page, token)
    if response is None:
        return "deferred"
    return _fetched(page, token, url, response, limits)


def _fetched(page: Page, token: str, url: str, response: http.Response, limits: dict) -> str:
    if response.status in (429, 503):
        wait = response.retry_after() or RETRY_SECONDS
        if page.attempts < MAX_ATTEMPTS + 2:  # counted: a host that only ever says "later" is given up on
            claims.defer(Page, page.pk, token, wait, attempt=True)
            enqueue(Stage.FETCH, page.pk, wait)
            return "asked to wait"
    if response.error or response.status != 200:
        error = response.error or f"HTTP {response.status}"
        _retry_or_fail(Page, page, token, error, response.status or None)
        return error
    if response.mime.startswith(("image/", "video/")):
        return _medium_page(page, token, url, response)
    parsed = extract.parse(response.text, url)
    if page.kind == Page.Kind.LISTING:
        return _listing(page, token, url, parsed, limits)
    return _item(page, token, url, parsed, limits)


def _listing(page: Page, token: str, url: str, parsed: extract.Parsed, limits: dict) -> str:
    items, listings, notes = discover_links(page, url, parsed, limits)
    with transaction.atomic():
        room = max(0, limits["pages"] - Page.objects.filter(run_id=page.run_id).count())
        added = 0
        for target, kind in [*[(u, Page.Kind.ITEM) for u in items], *[(u, Page.Kind.LISTING) for u in listings]]:
            if added >= room:
                notes.append(f"page limit of {limits['pages']} reached; the rest waits for the next run")
                break
            depth = page.depth + 1 if kind == Page.Kind.LISTING else page.depth
            added += add_page(page.run, target, kind, depth, page) is not None
        claims.advance(Page, page.pk, token, Stage.DONE, status=200, links=len(items) + len(listings))
    for text in notes:
        note(page.run_id, text)
    return f"{len(items)} items, {len(listings)} listings"


def discover_links(page: Page, url: str, parsed: extract.Parsed, limits: dict) -> tuple[list, list, list[str]]:
    """(item URLs, listing URLs, notes) of a listing page, within the watch's patterns and limits."""
    notes = [f"{page.host}: dropped {n} link(s) as traps ({reason})" for reason, n in parsed.refused.items() if n]
    same_site = [link for link in parsed.links if urlsplit(link.url).hostname == page.host and link.url != url]
    listing_re = _pattern(limits["listing"])
    listings = [link.url for link in same_site if extract.is_next(link) or (listing_re and listing_re.search(link.url))]
    item_re = _pattern(limits["item"])
    candidates = [link.url for link in same_site if link.url not in listings]
    if page.depth + 1 > limits["depth"]:
        if listings:
            notes.append(f"listing depth limit of {limits['depth']} reached on {page.host}")
        listings = []
    items = [u for u in candidates if item_re.search(u)] if item_re else candidates
    if item_re and not items and candidates and page.depth == 0 and page.run.source != "related":
        notes.append(
            f"{page.host}: no link matched the item pattern on a listing; the site's layout may have changed "
            f"(took its {min(len(candidates), limits['links'])} other links instead)"
        )
        items = candidates
    if len(items) > limits["links"]:
        notes.append(f"{page.host}: a listing had {len(items)} links; took the first {limits['links']}")
        items = items[: limits["links"]]
    return items, listings, notes


def _pattern(text: str):
    try:
        return re.compile(text) if text else None
    except re.error:
        return None


def _item(page: Page, token: str, url: str, parsed: extract.Parsed, limits: dict) -> str:
    if limits["browser"] == Browser.ALWAYS or (limits["browser"] == Browser.AUTO and parsed.needs_browser):
        return _to_browser(page, token)
    media = parsed.media[: settings.KESU_PATROL_MEDIA_PER_PAGE]
    if len(parsed.media) > len(media):
        note(page.run_id, f"{page.host}: a page had {len(parsed.media)} media; took the first {len(media)}")
    with transaction.atomic():
        for ref in media:
            _add_sighting(page, ref.url)
        claims.advance(Page, page.pk, token, Stage.DONE, status=200, media=len(media), links=len(parsed.links))
    return f"{len(media)} media"


def _medium_page(page: Page, token: str, url: str, response: http.Response) -> str:
    """The URL itself is an image or a video (a submitted direct link)."""
    if not response.complete:
        _retry_or_fail(Page, page, token, "medium not complete")
        return "incomplete"
    with transaction.atomic():
        sighting = _add_sighting(page, url, downloaded=response.body)
        claims.advance(Page, page.pk, token, Stage.DONE, status=200, media=int(sighting is not None))
    return "1 medium"


def _to_browser(page: Page, token: str) -> str:
    with transaction.atomic():
        claims.advance(Page, page.pk, token, Stage.CAPTURE, browser=True)
    enqueue(Stage.CAPTURE, page.pk)
    return "to the browser"


def capture(page_id: int) -> str:
    """Heavy capture: the real browser, for players, streams and script-built pages."""
    from ..capture import services as capture_service

    token = claims.claim(Page, page_id, Stage.CAPTURE)
    if token is None:
        return "not due or taken"
    page = Page.objects.select_related("run__watch").get(pk=page_id)
    limits = _limits(page)
    slot, wait = politeness.acquire(page.host, limits["rate"], limits["concurrency"], claims.lease().total_seconds())
    if slot is None:
        claims.defer(Page, page.pk, token, wait)
        enqueue(Stage.CAPTURE, page.pk, wait)
        return "deferred"
    url = open_url(page.url_sealed, "patrol.page")
    try:
        captured = capture_service.capture(url)
    except UserError as error:
        politeness.release(slot, None)
        _retry_or_fail(Page, page, token, str(error))
        return str(error)
    document = next((e for e in captured.exchanges if e.resource_type == "Document"), None)
    politeness.release(slot, document.status if document else None)
    found = [item for item in captured.media if item.body]
    with transaction.atomic():
        for item in found[: settings.KESU_PATROL_MEDIA_PER_PAGE]:
            _add_sighting(page, item.url if not item.url.startswith(("blob:", "data:")) else f"{url}#{item.source}",
                          downloaded=item.body)  # fmt: skip
        claims.advance(Page, page.pk, token, Stage.DONE, status=document.status if document else None,
                       media=len(found), error="; ".join(captured.errors)[:300])  # fmt: skip
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
        _attach(sighting, downloaded, advance=False)
    return sighting


def download(sighting_id: int) -> str:
    token = claims.claim(Sighting, sighting_id, Stage.DOWNLOAD)
    if token is None:
        return "not due or taken"
    sighting = Sighting.objects.select_related("page__run__watch").get(pk=sighting_id)
    url = open_url(sighting.url_sealed, "patrol.media")
    referer = open_url(sighting.page.url_sealed, "patrol.page")
    limits = _limits(sighting.page)
    try:
        response = _polite_get(sighting, Sighting, token, url, limits, settings.KESU_PATROL_MEDIA_MB * 1024 * 1024,
                               referer)  # fmt: skip
    except http.NeedsBrowser:
        response = http.Response(url, error="host reached only through an egress proxy; the page's capture has it")
    if response is None:
        return "deferred"
    if response.error or response.status != 200 or not response.body:
        _retry_or_fail(Sighting, sighting, token, response.error or f"HTTP {response.status}", response.status or None)
        return "failed"
    with transaction.atomic():
        claims.advance(Sighting, sighting.pk, token, Stage.FINGERPRINT)
        _attach(Sighting.objects.get(pk=sighting.pk), response.body, advance=True)
    return "downloaded"


def _attach(sighting: Sighting, data: bytes, advance: bool) -> None:
    """Point the sighting at the fingerprint of its bytes (made once per SHA-256) and queue what comes next."""
    sha = hashlib.sha256(data).hexdigest()
    fingerprint = Fingerprint.objects.filter(sha256=sha).first()
    if fingerprint is None:
        try:
            with transaction.atomic():
                fingerprint = Fingerprint.objects.create(
                    sha256=sha, size=len(data), stage=Stage.FINGERPRINT, blob=vault.store_blob(vault.patrol_key(), data)
                )
            enqueue(Stage.FINGERPRINT, fingerprint.pk)
        except IntegrityError:
            fingerprint = Fingerprint.objects.get(sha256=sha)
    if fingerprint.blob_id is None:  # its bytes were forgotten after a while: a hit may need them again
        blob = vault.store_blob(vault.patrol_key(), data)
        if not Fingerprint.objects.filter(pk=fingerprint.pk, blob__isnull=True).update(blob=blob):
            vault.delete_blob(blob)
        fingerprint.refresh_from_db()
    ready = fingerprint.stage in (Stage.DONE, Stage.FAILED)
    stage = Stage.MATCH if ready else Stage.FINGERPRINT
    Sighting.objects.filter(pk=sighting.pk).update(fingerprint=fingerprint, stage=stage)
    if ready:
        enqueue(Stage.MATCH, sighting.pk)


def fingerprint(fingerprint_id: int) -> str:
    """Decode once and compute every signal the bank searches with; the result is kept sealed."""
    token = claims.claim(Fingerprint, fingerprint_id, Stage.FINGERPRINT)
    if token is None:
        return "not due or taken"
    item = Fingerprint.objects.select_related("blob").get(pk=fingerprint_id)
    data = vault.read_blob(item.blob)
    error, computed, kind, mime = "", None, "", ""
    try:
        info = media_info.inspect(data)
        medium = matching.medium_of(data, info)
        medium.analyses(), medium.faces_json()  # faces, nudity, their embeddings
        if medium.kind == "image":
            medium.query_hashes  # noqa: B018 - computed now, kept in the pickle
        medium.video_hashes, medium.sha256, medium.md5  # noqa: B018
        medium.data = b""  # the bytes stay in their own blob; the signals are what matching needs
        kind, mime = medium.kind, info.mime
        computed = pickle.dumps((PIPELINE_FORMAT, medium), protocol=pickle.HIGHEST_PROTOCOL)
    except UserError as problem:
        error = str(problem)[:300]
    with transaction.atomic():
        blob = vault.store_blob(vault.patrol_key(), computed) if computed else None
        claims.advance(Fingerprint, item.pk, token, Stage.FAILED if error else Stage.DONE, error=error, kind=kind,
                       mime=mime, computed=blob)  # fmt: skip
        waiting = list(Sighting.objects.filter(fingerprint=item, stage=Stage.FINGERPRINT).values_list("pk", flat=True))
        Sighting.objects.filter(pk__in=waiting).update(stage=Stage.MATCH)
        for pk in waiting:
            enqueue(Stage.MATCH, pk)
    return error or f"{kind} fingerprinted"


def _medium(item: Fingerprint):
    """The fingerprinted medium. Unpickling is safe only because the blob is authenticated (AES-GCM, our key)."""
    version, medium = pickle.loads(vault.read_blob(item.computed))  # noqa: S301
    if version != PIPELINE_FORMAT:
        raise UserError("fingerprint of an older format")
    return medium


def match(sighting_id: int) -> str:
    token = claims.claim(Sighting, sighting_id, Stage.MATCH)
    if token is None:
        return "not due or taken"
    sighting = Sighting.objects.select_related("fingerprint__computed", "fingerprint__blob", "page__run").get(
        pk=sighting_id
    )
    item = sighting.fingerprint
    if item.stage == Stage.FAILED or item.computed is None:
        with transaction.atomic():
            claims.advance(Sighting, sighting.pk, token, Stage.SKIPPED, error=item.error or "not a medium")
        return "not a medium"
    result = matching.search(_medium(item), item.mime)
    page_url = open_url(sighting.page.url_sealed, "patrol.page")
    data = vault.read_blob(item.blob) if result.candidates and item.blob else b""
    with transaction.atomic():
        hits = matching.record_hits(result, data, source_url=page_url)
        new = [hit for hit in hits if hit.is_new]
        sighting.hits.add(*hits)
        for hit in new:
            reuploads.link(hit, page_url)
        Run.objects.filter(pk=sighting.page.run_id).update(hits=F("hits") + len(new))
        claims.advance(Sighting, sighting.pk, token, Stage.ALERT if new else Stage.DONE,
                       new_hits=[hit.pk for hit in new])  # fmt: skip
    if new:
        enqueue(Stage.ALERT, sighting.pk)
    return f"{len(hits)} hit(s), {len(new)} new"


def request_evidence(url: str, case):
    """A bundle of the page, captured by a capture worker after this transaction commits."""
    from ..evidence import services as evidence
    from ..evidence.models import EvidenceBundle

    return evidence.request_preservation(None, case, url, EvidenceBundle.Reason.PATROL)


def preserve_inline(bundles) -> None:
    """In ``services.drain`` there are no workers: capture the requested bundles here (a done bundle is left alone)."""
    from ..evidence import services as evidence

    if getattr(_inline, "active", False):
        for bundle in bundles:
            evidence.run_preservation(bundle.pk)
