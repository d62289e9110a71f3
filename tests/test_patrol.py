"""The patrol's pipeline, politeness and limits against small sites served on loopback.

Names like ``watch.example`` are pinned to 127.0.0.1 by KESU_CAPTURE_HOSTS, so
no DNS query is made. The end-to-end loop over the demo web is in
test_patrol_demo.py; the scale-out test with Redis and PostgreSQL in
test_patrol_scale.py.
"""

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from django.utils import translation
from PIL import Image

from kesu.lib.netsettings import parse_host_rules
from kesu.matching.models import Hit
from kesu.patrol import extract, forgetting, politeness, services
from kesu.patrol.models import HostState, Page, Run, Sighting, Stage, Watch


def jpeg(data: bytes, scale: float = 1.0, quality: int = 80) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if scale != 1.0:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def noise(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((320, 240), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class Site:
    """A tiny site: ``pages`` maps a path to (status, content type, body, extra headers)."""

    def __init__(self):
        self.pages: dict[str, tuple] = {}
        self.hits: list[str] = []
        self.times: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with site.lock:
                    site.hits.append(self.path)
                    site.times.append((time.monotonic(), self.path))
                answer = site.answer(self.path)
                status, kind, body, headers = answer if len(answer) == 4 else (*answer, {})
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str) -> tuple:
        return self.pages.get(path, (404, "text/html", b"<h1>not found</h1>"))

    def html(self, path: str, body: str, status: int = 200) -> None:
        self.pages[path] = (status, "text/html; charset=utf-8", f"<html><body>{body}</body></html>".encode())

    def url(self, path: str) -> str:
        return f"http://watch.example:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(settings):
    settings.KESU_ALLOW_LOOPBACK = True
    settings.KESU_CAPTURE_HOSTS = parse_host_rules(["*.example=127.0.0.1"], "test")
    settings.KESU_PATROL_PRESERVE_HITS = False
    settings.KESU_PATROL_RATE_PER_MINUTE = 6000  # hosts without a watch (re-checks)
    site = Site()
    yield site
    site.close()


def watch_of(site: Site, **values) -> Watch:
    values = {"seeds": [site.url("/latest")], "rate_per_minute": 6000, "concurrency": 4, "browser": "never"} | values
    return services.save_watch(None, "watch.example", **values)


def test_a_listing_is_followed_to_its_items_and_her_picture_becomes_a_hit(db, case, site, astronaut_png):
    site.html("/latest", '<a href="/v/1">one</a> <a href="/v/2">two</a> <a rel="next" href="/latest?page=2">next</a>')
    site.html("/latest?page=2", '<a href="/v/3">three</a>')
    site.html("/v/1", '<img src="/m/1.jpg">')
    site.html("/v/2", '<img src="/static/blank.gif" data-src="/m/2.jpg">')
    site.html("/v/3", '<img src="/m/1.jpg"><img src="/m/3.jpg">')  # the same picture again, on another page
    site.pages["/m/1.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.6, 75))
    site.pages["/m/2.jpg"] = (200, "image/jpeg", noise(2))
    site.pages["/m/3.jpg"] = (200, "image/jpeg", noise(3))
    watch = watch_of(site)

    (run,) = services.start(watch)
    counts = services.drain(seconds=120)

    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.notes
    assert Page.objects.filter(run=run, stage=Stage.DONE).count() == 5
    hits = list(Hit.objects.filter(case=case))
    assert len(hits) == 2  # /v/1 and /v/3 show her picture: one hit per place
    assert all(h.probability >= 0.95 and h.pink for h in hits)
    from kesu.matching.services import source_url

    assert sorted(source_url(h) for h in hits) == [site.url("/v/1"), site.url("/v/3")]
    assert run.hits == 2
    # the same bytes were downloaded twice but fingerprinted once
    assert counts["fingerprint.fingerprint"] == 3
    assert all(s.completions >= 2 for s in Sighting.objects.filter(page__run=run))
    assert site.hits.count("/m/1.jpg") == 2


def test_infinite_pagination_and_link_traps_stay_within_the_limits_and_are_reported(db, case, site):
    site.answer = lambda path: _endless(path)
    deep = watch_of(site, max_depth=5, max_pages=1000)

    (run,) = services.start(deep)
    services.drain(seconds=120)

    run.refresh_from_db()
    assert run.status == Run.Status.LIMITED
    pages = Page.objects.filter(run=run)
    assert max(pages.values_list("depth", flat=True)) == 5
    assert pages.filter(kind=Page.Kind.LISTING).count() == 6  # page 1 and five more, then it stopped
    notes = " | ".join(run.notes)
    assert "listing depth limit of 5 reached" in notes
    assert "dropped" in notes and "repeating path" in notes  # more/more/more
    # a fresh session id does not make a page new: each listing page was fetched once
    assert sorted(p for p in site.hits if p.startswith("/latest")) == sorted(
        ["/latest", *(f"/latest?page={n}" for n in range(2, 7))]
    )

    wide = watch_of(site, max_depth=100, max_pages=30)
    (run,) = services.start(wide)
    services.drain(seconds=120)
    run.refresh_from_db()
    assert Page.objects.filter(run=run).count() == 30
    assert run.status == Run.Status.LIMITED
    assert any("page limit of 30 reached" in n for n in run.notes)


def _endless(path: str) -> tuple:
    """Every page links to the next page forever, to a relative link that nests, and to itself with a new sid."""
    import secrets

    page = int(path.split("page=")[1].split("&")[0]) if "page=" in path else 1
    body = (
        f'<a rel="next" href="/latest?page={page + 1}">next</a>'
        f'<a href="{path}{"&" if "?" in path else "?"}sid={secrets.token_hex(4)}">again</a>'
        '<a href="more/more/more/more/">more</a>'
        f'<a href="/v/{page}-1">item</a><a href="/v/{page}-2">item</a>'
    )
    if path.startswith("/v/"):
        body = "<p>an item without media</p>"
    return 200, "text/html", f"<html><body>{body}</body></html>".encode()


def test_a_huge_listing_is_cut_at_the_links_limit(db, case, site):
    site.html("/latest", "".join(f'<a href="/v/{n}">{n}</a>' for n in range(20000)))
    watch = watch_of(site, max_links=50, max_pages=1000)

    (run,) = services.start(watch)
    services.drain(seconds=120)

    run.refresh_from_db()
    assert Page.objects.filter(run=run, kind=Page.Kind.ITEM).count() == 50
    assert any("had 20000 links; took the first 50" in n for n in run.notes)


def test_a_host_that_bans_is_left_alone_and_the_ban_reported(db, case, site, settings):
    settings.KESU_PATROL_BAN_PAUSE_SECONDS = 600
    served = {"n": 0}

    def banning(path):
        served["n"] += 1
        if served["n"] > 4:
            return 403, "text/html", b"<h1>banned</h1>"
        if path == "/latest":
            return 200, "text/html", "".join(f'<a href="/v/{n}">{n}</a>' for n in range(30)).encode()
        return 200, "text/html", b"<p>item</p>"

    site.answer = banning
    watch = watch_of(site, concurrency=1)

    (run,) = services.start(watch)
    services.drain(seconds=120)

    run.refresh_from_db()
    state = HostState.objects.get(host="watch.example")
    assert state.paused_until is not None and state.refusals == 3
    assert any("refused 3 requests in a row (403)" in n for n in run.notes)
    assert served["n"] == 4 + 3  # three refusals, then not one more request
    assert Page.objects.filter(run=run, stage=Stage.SKIPPED).count() == 30 - 3 - 3
    assert run.status == Run.Status.LIMITED
    # the next run does not touch the host while it is paused
    (second,) = services.start(watch)
    services.drain(seconds=5)
    assert served["n"] == 7
    assert Page.objects.filter(run=second, stage=Stage.FETCH).count() == 1


def test_rate_and_retry_after_are_honoured(db, case, site):
    asked = {"n": 0}

    def slow_down(path):
        if path == "/latest":
            asked["n"] += 1
            if asked["n"] == 1:
                return 429, "text/html", b"slow down", {"Retry-After": "2"}
            return 200, "text/html", "".join(f'<a href="/v/{n}">{n}</a>' for n in range(5)).encode()
        return 200, "text/html", b"<p>item</p>"

    site.answer = slow_down
    watch = watch_of(site, rate_per_minute=120, concurrency=1)

    (run,) = services.start(watch)
    services.drain(seconds=120)

    run.refresh_from_db()
    assert run.status == Run.Status.DONE, run.notes
    listing = [t for t, p in site.times if p == "/latest"]
    assert listing[1] - listing[0] >= 1.9  # waited as asked
    times = [t for t, _ in site.times][1:]  # after the wait: the listing again and its five items
    # 120 a minute: one every 0.5 s. Measured where the requests arrive, so one request held up on its way
    # (a busy machine) shortens one gap; without the rate the five items would come within a few ms.
    assert times[-1] - times[0] >= (len(times) - 2) * 0.5
    assert any("asked us to wait 2 s" in n for n in run.notes)


def test_a_changed_layout_is_noticed(db, case, site):
    site.html(
        "/latest", '<div class="card"><a href="/item/1">1</a><a href="/item/2">2</a></div><a href="/about">about</a>'
    )
    site.html("/item/1", "<p>one</p>")
    site.html("/item/2", "<p>two</p>")
    watch = watch_of(site, item_pattern=r"/item/\d+$")
    (first,) = services.start(watch)
    services.drain(seconds=60)
    assert Page.objects.filter(run=first, kind=Page.Kind.ITEM).count() == 2

    site.html("/latest", '<li class="entry"><a href="/p/1">1</a></li><li class="entry"><a href="/p/2">2</a></li>')
    (second,) = services.start(watch)
    services.drain(seconds=60)

    second.refresh_from_db()
    assert any("no link matched the item pattern" in n and "layout may have changed" in n for n in second.notes)
    assert Page.objects.filter(run=second, kind=Page.Kind.ITEM).count() == 2  # it still looked at the new links


def test_trap_urls_are_refused_by_normalisation():
    assert extract.normalise("http://a.example/x/more/more/more/")[1] == "repeating path"
    assert extract.normalise("http://a.example/" + "a/" * 20)[1] == "path too deep"
    assert extract.normalise("http://a.example/?" + "&".join(f"p{n}=1" for n in range(9)))[1] == (
        "too many query parameters"
    )
    url, _ = extract.normalise("HTTP://A.Example:80/x/?b=2&utm_source=m&a=1&PHPSESSID=z#frag")
    assert url == "http://a.example/x/?a=1&b=2"
    assert extract.normalise("javascript:alert(1)")[0] is None


def test_politeness_is_shared_through_the_database(db):
    first, wait = politeness.acquire("slow.example", 60, 1, 30)
    assert first is not None and wait == 0
    second, wait = politeness.acquire("slow.example", 60, 1, 30)
    assert second is None and wait > 0  # one at a time
    politeness.release(first, 200)
    third, wait = politeness.acquire("slow.example", 6, 1, 30)
    assert third is not None  # a slot 1 s later (60/min), slept for inline
    fourth, wait = politeness.acquire("slow.example", 6, 2, 30)
    assert fourth is None and 5 < wait <= 10  # 6 a minute: the next slot is 10 s after the last
    verdict = politeness.release(third, 429, retry_after=120)
    assert verdict.paused_until is not None and "asked us to wait 120 s" in verdict.note
    assert politeness.paused("slow.example") is not None


@pytest.fixture
def operated(site):
    """watch.example has an operator who takes notices by e-mail."""
    from kesu.notices import templates
    from kesu.sites.models import Contact, Organisation, Role
    from kesu.sites.models import Site as KnownSite

    templates.sync_shipped()
    operator = Organisation.objects.create(role=Role.OPERATOR, key="watch", name="Watch Tube")
    Contact.objects.create(organisation=operator, channel="email", address="abuse@watch.example", priority=10)
    KnownSite.objects.update_or_create(domain="watch.example", defaults={"operator": operator})
    return site


def sent_notice(case, urls: list[str], hits=(), deadline_hours: int = 48):
    """A notice as it is once the outbox delivered it (the sending itself is test_notices' business)."""
    from django.utils import timezone

    from kesu.notices import compose
    from kesu.notices.models import Notice

    (notice,) = compose.prepare("user:hana", case, urls=urls).notices
    notice.status, notice.sent_at, notice.deadline_hours = Notice.Status.SENT, timezone.now(), deadline_hours
    notice.save()
    notice.hits.add(*hits)
    return notice


def recheck_now() -> dict:
    from django.utils import timezone

    from kesu.patrol import rechecks
    from kesu.patrol.models import Recheck

    rechecks.schedule()
    Recheck.objects.filter(stage=Stage.FETCH).update(due_at=timezone.now())
    return services.drain(seconds=120)


def test_a_recheck_tells_every_way_a_copy_can_go_and_derives_the_outcome(db, case, operated, astronaut_png):
    from kesu.notices.models import Notice
    from kesu.patrol.models import Recheck
    from kesu.sites.models import Outcome

    site = operated
    site.html("/gone", "<p>x</p>", status=404)
    site.html("/soft", "<h1>This video has been removed by the uploader</h1>")
    site.html("/still", '<img src="/m/her.jpg">')
    site.html("/replaced", '<img src="/m/other.jpg"><img src="/m/other2.jpg">')
    site.html("/geo", "<p>Unavailable For Legal Reasons</p>", status=451)
    site.html("/media-gone", '<h1>Holiday</h1><img src="/m/missing.jpg">')
    site.pages["/m/her.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.5, 70))
    site.pages["/m/other.jpg"] = (200, "image/jpeg", noise(7))
    site.pages["/m/other2.jpg"] = (200, "image/jpeg", noise(8))
    paths = ["/gone", "/soft", "/still", "/replaced", "/geo", "/media-gone"]
    notice = sent_notice(case, [site.url(p) for p in paths])

    recheck_now()

    states = {vault_url(r): r.state for r in Recheck.objects.filter(notice=notice)}
    assert states == {
        site.url("/gone"): "page_gone",
        site.url("/soft"): "soft_404",
        site.url("/still"): "online",
        site.url("/replaced"): "replaced",
        site.url("/geo"): "geo_blocked",
        site.url("/media-gone"): "media_gone",
    }
    notice.refresh_from_db()
    assert notice.outcome == Outcome.PARTLY_DELETED and notice.status == Notice.Status.SENT  # still followed
    assert notice.events.filter(kind="observed").exists()

    site.html("/still", "<p>gone</p>", status=410)
    site.html("/geo", "<p>gone</p>", status=404)
    recheck_now()

    notice.refresh_from_db()
    assert notice.outcome == Outcome.DELETED and notice.status == Notice.Status.CLOSED
    still = Recheck.objects.get(notice=notice, url_key=vault_key(site.url("/still")))
    assert [h["state"] for h in still.history] == ["online", "page_gone"]
    assert still.gone_at is not None and still.checks == 2


def test_a_copy_still_online_after_the_deadline_is_still_online_and_the_next_step_due(
    db, case, operated, astronaut_png
):
    from kesu.sites.models import Outcome

    site = operated
    site.html("/still", '<img src="/m/her.jpg">')
    site.pages["/m/her.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.5, 70))
    notice = sent_notice(case, [site.url("/still")], deadline_hours=1)
    from datetime import timedelta

    type(notice).objects.filter(pk=notice.pk).update(sent_at=notice.sent_at - timedelta(hours=2))

    recheck_now()

    notice.refresh_from_db()
    assert notice.outcome == Outcome.STILL_ONLINE
    assert notice.escalate_at is not None and notice.resend_at is None  # follow_up escalates it now


def test_a_removed_copy_found_again_is_a_new_hit_linked_to_the_original(db, case, operated, astronaut_png):
    from kesu.matching.models import Hit
    from kesu.sites.models import Site as KnownSite
    from kesu.sites.routing import route

    site = operated
    her = jpeg(astronaut_png, 0.6, 75)
    site.html("/latest", '<a href="/v/1">one</a>')
    site.html("/v/1", '<img src="/m/1.jpg">')
    site.pages["/m/1.jpg"] = (200, "image/jpeg", her)
    watch = watch_of(site)
    services.start(watch)
    services.drain(seconds=60)
    (original,) = Hit.objects.filter(case=case)
    notice = sent_notice(case, [site.url("/v/1")], hits=[original])

    site.html("/v/1", "<p>x</p>", status=404)
    site.pages.pop("/m/1.jpg")
    recheck_now()
    notice.refresh_from_db()
    assert notice.outcome == "deleted"

    site.html("/latest", '<a href="/v/9">nine</a>')  # the same picture under a new address
    site.html("/v/9", '<img src="/m/9.jpg">')
    site.pages["/m/9.jpg"] = (200, "image/jpeg", her)
    services.start(watch)
    services.drain(seconds=60)

    again = Hit.objects.get(case=case, reupload_of=original)
    from kesu.matching.services import source_url

    assert source_url(again) == site.url("/v/9") and again.sha256 == original.sha256
    known = KnownSite.objects.get(domain="watch.example")
    assert known.reuploads == 1 and known.last_reupload_at is not None
    with translation.override("en"):  # the reason in English (the page shows it in the reader's language)
        operator_step = route(site.url("/v/10"), "ncii").steps[0]
    assert "re-uploaded removed copies 1 time(s)" in operator_step.reason
    assert operator_step.deadline.total_seconds() == 24 * 3600


def vault_url(recheck) -> str:
    from kesu.vault import services as vault

    return vault.open_text(recheck.case.data_key, recheck.url_sealed, "recheck.url")


def vault_key(url: str) -> str:
    from kesu.vault import services as vault

    return vault.blind_index(url)


def test_search_templates_are_filled_with_the_case_keywords_and_only_for_cases_that_allow_search(
    db, case, site, astronaut_png, personas
):
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import references
    from kesu.cases import services as cases

    references.add_text(SystemPrincipal("t"), case, "keyword", "hanako beach 2026")
    other = cases.create_case(SystemPrincipal("t"), "ncii", consent=["takedown"])  # no search consent
    references.add_text(SystemPrincipal("t"), other, "keyword", "not to be searched")
    site.html("/search?q=hanako+beach+2026", '<a href="/v/1">result</a>')
    site.html("/v/1", '<img src="/m/1.jpg">')
    site.pages["/m/1.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.7))
    watch = watch_of(site, seeds=[], searches=[site.url("/search?q={query}")])

    runs = services.start(watch)
    services.drain(seconds=60)

    assert [(r.source, r.case_id) for r in runs] == [("search", case.pk)]
    assert "/search?q=hanako+beach+2026" in site.hits
    assert not any("not+to+be" in path for path in site.hits)
    assert Hit.objects.filter(case=case).count() == 1


def test_submitted_urls_and_direct_media_links_are_looked_at(db, case, site, astronaut_png):
    from kesu.lib.errors import UserError
    from kesu.patrol import discovery

    site.pages["/direct.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.8))
    site.html("/page", '<video poster="/poster.jpg" src="/clip.mp4"></video>')
    site.pages["/poster.jpg"] = (200, "image/jpeg", noise(11))
    site.pages["/clip.mp4"] = (200, "video/mp4", b"not really a video")

    run = discovery.Submitted.start(None, case, [site.url("/direct.jpg"), site.url("/page"), "ftp://x", "nonsense"])
    services.drain(seconds=60)

    run.refresh_from_db()
    assert "refused 2 URL(s)" in run.notes[0] and "nonsense" not in run.notes[0]  # reasons, never the text
    (hit,) = Hit.objects.filter(case=case)
    from kesu.matching.services import source_url

    assert source_url(hit) == site.url("/direct.jpg")
    clip = Sighting.objects.get(page__run=run, stage=Stage.SKIPPED)
    assert "video" in clip.error or "medium" in clip.error  # an unreadable video is reported, not a crash
    with pytest.raises(UserError, match="no usable URL"):
        discovery.Submitted.start(None, case, ["mailto:x@y"])


def test_a_hit_leads_to_its_related_items_and_the_same_path_on_the_operators_mirrors(db, case, operated, astronaut_png):
    from kesu.sites.models import Site as KnownSite

    site = operated
    watch_site = KnownSite.objects.get(domain="watch.example")
    KnownSite.objects.create(domain="mirror.example", operator=watch_site.operator, relation="mirror")
    her = jpeg(astronaut_png, 0.6)
    site.html("/latest", '<a href="/v/1">one</a>')
    site.html("/v/1", '<img src="/m/1.jpg"><a href="/v/2">related video</a>')
    site.html("/v/2", '<img src="/m/2.jpg">')
    site.pages["/m/1.jpg"] = (200, "image/jpeg", her)
    site.pages["/m/2.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.5, 60))
    watch = watch_of(site)

    services.start(watch)
    services.drain(seconds=120)

    related = Run.objects.get(source=Run.Source.RELATED)
    assert related.case_id == case.pk
    from kesu.matching.services import source_url

    places = sorted(source_url(h).replace(f":{site.port}", "") for h in Hit.objects.filter(case=case))
    # her picture on the page, on its "related video", and on the operator's mirror at the same path
    assert places == ["http://mirror.example/v/1", "http://watch.example/v/1", "http://watch.example/v/2"]
    assert Run.objects.filter(source=Run.Source.RELATED).count() == 1  # leads of leads are not followed


def test_reverse_image_search_is_asked_with_hashes_only(db, case, site, astronaut_png, settings):
    import json

    from kesu.patrol import discovery

    asked = []
    service = Site()  # the reverse image search service, answering POSTs

    def do_post(handler):
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        asked.append(json.loads(body))
        reply = json.dumps({"matches": [{"url": site.url("/found.jpg")}]}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

    service.server.RequestHandlerClass.do_POST = do_post
    site.pages["/found.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.9))
    settings.KESU_PATROL_REVERSE_SEARCH_URL = f"http://lens.example:{service.port}/search"
    try:
        run = discovery.ReverseImage.start(case)
        services.drain(seconds=60)
    finally:
        service.close()

    assert set(asked[0]) == {"pdq"} and all(len(h) == 64 for h in asked[0]["pdq"])  # hashes, no image
    assert run.source == Run.Source.SUBMITTED and Hit.objects.filter(case=case).count() == 1


def test_the_digest_counts_new_hits_per_case_without_media_or_addresses(db, case, site, astronaut_png, personas):
    from kesu.notices.models import OutboxMessage
    from kesu.vault import services as vault

    personas["on_case"].email = "hana@desk.example"
    personas["on_case"].save()
    site.html("/latest", '<a href="/v/1">one</a>')
    site.html("/v/1", '<img src="/m/1.jpg">')
    site.pages["/m/1.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.6))
    services.start(watch_of(site))
    services.drain(seconds=60)

    assert services.digest() == 1
    assert services.digest() == 0  # nothing new since
    (message,) = OutboxMessage.objects.filter(kind=OutboxMessage.Kind.DIGEST)
    text = vault.open_bytes(vault.mailbox_key(), message.message_sealed, "outbox.message").decode()
    assert "1 new hit(s) to review, 1 of them with probability 95 % or more" in text
    assert case.victim.code in text
    assert "watch.example" not in text and "/v/1" not in text and "Content-Type: image" not in text
    # issue 18 (audit): each digest carries the audit log's head, a copy outside Kesu that verify checks
    from email import message_from_bytes, policy

    from kesu.audit.anchors import parse_token
    from kesu.audit.services import verify_chain

    body = message_from_bytes(text.encode(), policy=policy.default).get_content()
    token = body.split("Audit log anchor (kesu audit verify --anchor):", 1)[1].split()[0]
    report = verify_chain([parse_token(token)])
    assert report.ok and report.anchors == 1 and int(token.split(":")[0]) > 1


def test_strangers_pictures_are_forgotten_after_a_while_and_fetched_again_when_seen(db, case, site, astronaut_png):
    from datetime import timedelta

    from django.utils import timezone

    from kesu.patrol.models import Fingerprint

    site.html("/latest", '<a href="/v/1">one</a>')
    site.html("/v/1", '<img src="/m/1.jpg"><img src="/m/2.jpg">')
    site.pages["/m/1.jpg"] = (200, "image/jpeg", jpeg(astronaut_png, 0.6))
    site.pages["/m/2.jpg"] = (200, "image/jpeg", noise(5))
    watch = watch_of(site)
    services.start(watch)
    services.drain(seconds=60)
    # the stranger's picture (noise) matched nothing: its bytes went when it did; her picture's wait a while
    assert Fingerprint.objects.filter(blob__isnull=False).count() == 1

    assert forgetting.forget_media(now=timezone.now() + timedelta(hours=73)) == 1
    assert not Fingerprint.objects.filter(blob__isnull=False).exists()
    assert Fingerprint.objects.count() == 2  # both SHA-256s stay, and the signals of her picture
    assert Fingerprint.objects.filter(computed__isnull=False).count() == 1

    Hit.objects.all().delete()
    services.start(watch)
    services.drain(seconds=60)
    (hit,) = Hit.objects.filter(case=case)
    from kesu.vault import services as vault

    assert vault.read_blob(hit.blob)[:3] == b"\xff\xd8\xff"  # the hit got the medium's bytes again


def test_due_rechecks_are_queued_hosts_in_turn(db, case, operated):
    from django.utils import timezone

    from kesu.patrol import rechecks
    from kesu.patrol.models import Recheck

    assert rechecks._by_host_in_turn([(1, "a"), (2, "a"), (3, "b"), (4, "c"), (5, "b"), (6, "a")]) == [1, 3, 4, 2, 5, 6]
    site = operated
    sent_notice(case, [site.url("/1"), site.url("/2")])
    assert rechecks.schedule() == 2
    assert rechecks.wake_due() == 0  # the first look is an hour after sending
    Recheck.objects.update(due_at=timezone.now())
    assert rechecks.wake_due() == 2
    Recheck.objects.update(due_at=timezone.now() - timezone.timedelta(hours=1))
    assert rechecks.wake_due() == 0  # long overdue rows are the sweep's: woken once a lease has passed
