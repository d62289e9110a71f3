"""The demo web: small fake sites that Kesu serves on loopback for the demo, the patrol tests and its benchmark.

One threaded HTTP server answers for every site, choosing the site by the Host header; the
names end in ``.test`` and are pinned to the server's address by ``host_rules()`` (for
KESU_CAPTURE_HOSTS), so no name is ever looked up. An SMTP server beside it takes the desk's
notices and applies each site's removal behaviour to the URLs they name:

- tubeleak.test: paginated listing with lazy thumbnails, search, an HLS video page; removed items 404.
- imgboard.test: boards and posts; a removed post is a soft 404 (200, "removed", no image).
- reup.test: a removed item 404s and comes back under a new URL after ``removal_delay`` seconds.
- geoblock.test: a removed item answers 451.
- endless.test, trap.test, banning.test, huge.test, changing.test: the bad sites a crawler must
  survive (infinite pagination, link traps, rate limits and bans, 20,000 links, a layout change).

Pages use path-absolute links, so they do not depend on the port. ``catalogue()`` describes
every item (endless.test's are infinite and left out).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from functools import cache, cached_property, lru_cache
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .demomedia import MediaStore, filler, thumbnail

HTML = "text/html; charset=utf-8"
JPEG = "image/jpeg"
TYPES = {
    ".jpg": JPEG,
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
}
# A transparent 1x1 GIF: the placeholder lazy listings show until a script swaps in data-src.
BLANK_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)


def text_response(status: int, message: str) -> Response:
    return Response(status, message.encode(), "text/plain; charset=utf-8")


NOT_FOUND = text_response(404, "Not found.")


@dataclass(eq=False)
class Item:
    """One upload: its page, its media (path -> bytes maker) and what the site does after a notice.

    ``extra``: other files that go with it (thumbnails first, a poster, HLS segments), removed with it.

    behaviour: "gone" (404), "soft404", "reupload", "geoblock" (451) or "none" (notices ignored).
    A re-upload copy has ``original`` set and exists only once the original was removed."""

    page: str
    title: str
    variant: str
    media: dict[str, Callable[[], bytes]]
    behaviour: str
    extra: dict[str, Callable[[], bytes]] = field(default_factory=dict)
    removed_at: float | None = None
    original: Item | None = None


@lru_cache(maxsize=4096)
def filler_thumbnail(n: int) -> bytes:
    return thumbnail(filler(n))


def _filler(n: int) -> Callable[[], bytes]:
    return lambda: filler(n)


def _filler_thumb(n: int) -> Callable[[], bytes]:
    return lambda: filler_thumbnail(n)


class Site:
    """A site's items and pages. Subclasses make the items and answer their listings in ``route``."""

    name = ""
    label = ""

    def __init__(self, web: DemoWeb):
        self.web = web
        self.items: list[Item] = []
        self.reindex()

    def reindex(self) -> None:
        self.items = self.make_items()
        self.pages = {item.page: item for item in self.items}
        self.files = {path: (item, make) for item in self.items for path, make in {**item.media, **item.extra}.items()}

    def make_items(self) -> list[Item]:
        return []

    def nav(self) -> list[tuple[str, str]]:
        return [("Home", "/")]

    def active(self, item: Item) -> bool:
        if item.removed_at is not None:
            return False
        original = item.original
        return original is None or (
            original.removed_at is not None and time.monotonic() >= original.removed_at + self.web.removal_delay
        )

    def live(self) -> list[Item]:
        return [item for item in self.items if self.active(item)]

    def handle(self, path: str, query: dict[str, str]) -> Response:
        if path in self.pages:
            return self.item_response(self.pages[path])
        if path in self.files:
            item, make = self.files[path]
            return self.file_response(item, path, make)
        return self.route(path, query) or NOT_FOUND

    def route(self, path: str, query: dict[str, str]) -> Response | None:
        return None

    def item_response(self, item: Item) -> Response:
        if self.active(item):
            return self.page(item.title, self.item_body(item))
        if item.removed_at is None:  # a re-upload not up yet
            return NOT_FOUND
        if item.behaviour == "soft404":
            return self.page("Post removed", '<p class="notice">This post has been removed.</p>')
        return self.removed_response()

    def file_response(self, item: Item, path: str, make: Callable[[], bytes]) -> Response:
        if self.active(item):
            return Response(200, make(), TYPES[path[path.rindex(".") :]])
        return NOT_FOUND if item.removed_at is None or item.behaviour != "geoblock" else self.removed_response()

    def removed_response(self) -> Response:
        return NOT_FOUND

    def item_body(self, item: Item) -> str:
        images = "".join(f'<img class="full" src="{path}" alt="{escape(item.title)}">' for path in item.media)
        return f"<h2>{escape(item.title)}</h2>{images}"

    def remove(self, item: Item) -> bool:
        """Apply the behaviour after a notice about ``item``; False when this site ignores it."""
        if item.behaviour == "none" or not self.active(item):
            return False
        item.removed_at = time.monotonic()
        return True

    def page(self, title: str, body: str, status: int = 200) -> Response:
        nav = " ".join(f'<a href="{href}">{escape(label)}</a>' for label, href in self.nav())
        html = (
            f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)} - {escape(self.label)}</title></head>\n"
            f'<body><header><h1 class="site">{escape(self.label)}</h1><nav>{nav}</nav></header>\n'
            f"<main>{body}</main>\n"
            f'<footer>Report abuse: <a href="mailto:abuse@{self.name}">abuse@{self.name}</a></footer>'
            f"</body></html>\n"
        )
        return Response(status, html.encode())


def _links(items: list[Item], *, thumbs: bool = False) -> str:
    rows = []
    for item in items:
        thumb = next(iter(item.extra), "")
        image = f'<img src="{thumb}" alt="{escape(item.title)}">' if thumbs and thumb else ""
        rows.append(f'<li><a href="{item.page}">{image}{escape(item.title)}</a></li>')
    return f'<ul class="items">{"".join(rows)}</ul>'


# The takedown sites -------------------------------------------------------------------------------

PER_PAGE = 6


class TubeLeak(Site):
    """A tube site: lazy thumbnails, pages of six, search, one video played from HLS."""

    name, label = "tubeleak.test", "TubeLeak"
    ASTRONAUT = "Astronaut holiday demo title 2026"
    CLIP = "Beach trip video demo title 2026"

    def make_items(self) -> list[Item]:
        store = self.web.store
        items = [self._filler(n) for n in range(1, 17)]
        astronaut = Item(
            "/v/astronaut-holiday",
            self.ASTRONAUT,
            "astronaut",
            {"/m/astronaut-holiday.jpg": lambda: store.read("astronaut")},
            "gone",
            {"/t/astronaut-holiday.jpg": lambda: self.web.thumbnail("astronaut")},
        )
        hls = {f"/hls/clip-excerpt/{name}": (lambda data=data: data) for name, data in self.web.hls.items()}
        playlist = {"/hls/clip-excerpt/index.m3u8": hls.pop("/hls/clip-excerpt/index.m3u8")}
        mp4 = {"/m/clip-excerpt.mp4": lambda: store.read("clip_excerpt")}
        poster = {"/t/clip-excerpt.jpg": lambda: store.read("clip_poster")}
        clip = Item("/v/clip-excerpt", self.CLIP, "clip_excerpt", playlist | mp4, "gone", poster | hls)
        items.insert(2, astronaut)
        items.insert(7, clip)
        return items

    def _filler(self, n: int) -> Item:
        slug = f"upload-{n}"
        return Item(
            f"/v/{slug}",
            f"Upload {n}",
            "filler",
            {f"/m/{slug}.jpg": _filler(n)},
            "gone",
            {f"/t/{slug}.jpg": _filler_thumb(n)},
        )

    def nav(self):
        return [("Home", "/"), ("Latest", "/latest?page=1"), ("Search", "/search?q=")]

    def route(self, path, query):
        if path == "/":
            return self.page("Home", '<p>Fresh uploads every day.</p><p><a href="/latest?page=1">Latest</a></p>')
        if path == "/static/blank.gif":
            return Response(200, BLANK_GIF, TYPES[".gif"])
        if path == "/latest":
            return self.latest(query.get("page", "1"))
        if path == "/search":
            q = query.get("q", "")
            found = [item for item in self.live() if q.casefold() in item.title.casefold()]
            return self.page(f"Search: {q}", f"<h2>Results for {escape(q)}</h2>{self.listing(found)}")
        return None

    def latest(self, number: str) -> Response | None:
        live = self.live()
        pages = max(1, -(-len(live) // PER_PAGE))
        if not number.isdigit() or not 1 <= int(number) <= pages:
            return None
        n = int(number)
        shown = live[(n - 1) * PER_PAGE : n * PER_PAGE]
        more = f'<a rel="next" href="/latest?page={n + 1}">Next page</a>' if n < pages else ""
        return self.page(f"Latest, page {n}", f"<h2>Latest uploads</h2>{self.listing(shown)}<p>{more}</p>")

    @staticmethod
    def listing(items: list[Item]) -> str:
        cells = (
            f'<a class="item" href="{item.page}"><img class="thumb" src="/static/blank.gif" '
            f'data-src="{next(iter(item.extra))}" alt="{escape(item.title)}"></a>'
            for item in items
        )
        return f'<div class="grid">{"".join(cells)}</div>'

    def item_body(self, item):
        if item.variant != "clip_excerpt":
            return super().item_body(item)
        return (
            f"<h2>{escape(item.title)}</h2>"
            '<video id="player" controls poster="/t/clip-excerpt.jpg"></video>\n'
            "<script>\n(async () => {\n"
            '  const playlist = await (await fetch("/hls/clip-excerpt/index.m3u8")).text();\n'
            '  const first = playlist.split("\\n").find((line) => line && !line.startsWith("#"));\n'
            '  if (first) await fetch("/hls/clip-excerpt/" + first);\n'
            "})();\n</script>\n"
            '<p><a class="download" href="/m/clip-excerpt.mp4">Download MP4</a></p>'
        )


class ImgBoard(Site):
    """An image board: two boards of eight posts; a removed post is a soft 404."""

    name, label = "imgboard.test", "ImgBoard"
    BOARD = 8
    PLANTED = {103: ("coffee_cropped", "Morning coffee"), 112: ("grace_hopper", "Old navy portrait")}

    def make_items(self):
        items = []
        for post in range(101, 101 + 2 * self.BOARD):
            variant, title = self.PLANTED.get(post, ("filler", f"Post {post}"))
            full = (lambda v=variant: self.web.store.read(v)) if variant != "filler" else _filler(post)
            thumb = (lambda v=variant: self.web.thumbnail(v)) if variant != "filler" else _filler_thumb(post)
            items.append(
                Item(f"/p/{post}", title, variant, {f"/img/{post}.jpg": full}, "soft404", {f"/thumb/{post}.jpg": thumb})
            )
        return items

    def nav(self):
        return [("Home", "/"), ("Board 1", "/board/1"), ("Board 2", "/board/2")]

    def route(self, path, query):
        if path == "/":
            return self.page("Boards", '<p><a href="/board/1">Board 1</a> <a href="/board/2">Board 2</a></p>')
        match = re.fullmatch(r"/board/([12])", path)
        if not match:
            return None
        n = int(match[1])
        posts = [item for item in self.items[(n - 1) * self.BOARD : n * self.BOARD] if self.active(item)]
        more = '<a href="/board/2">next</a>' if n == 1 else '<a href="/board/1">previous</a>'
        return self.page(f"Board {n}", f"<h2>Board {n}</h2>{_links(posts, thumbs=True)}<p>{more}</p>")


class ReUp(Site):
    """A site that puts removed uploads back under a new URL after ``removal_delay`` seconds."""

    name, label = "reup.test", "ReUp"

    def make_items(self):
        items = [
            Item(
                "/watch/astro-holiday",
                TubeLeak.ASTRONAUT,
                "astronaut",
                {"/media/astro-holiday.jpg": lambda: self.web.store.read("astronaut")},
                "reupload",
            )
        ]
        items += [
            Item(f"/watch/new-{n}", f"New {n}", "filler", {f"/media/new-{n}.jpg": _filler(n)}, "reupload")
            for n in range(201, 206)
        ]
        copies = [
            Item(
                f"{item.page}-re1",
                item.title,
                item.variant,
                {_renamed(p): m for p, m in item.media.items()},
                "gone",
                original=item,
            )
            for item in items
        ]
        return copies + items  # copies are listed first once they are up

    def nav(self):
        return [("Home", "/"), ("New", "/new")]

    def route(self, path, query):
        if path == "/":
            return self.page("ReUp", '<p><a href="/new">New uploads</a></p>')
        if path == "/new":
            return self.page("New", f"<h2>New uploads</h2>{_links(self.live())}")
        return None


def _renamed(path: str) -> str:
    stem, dot, suffix = path.rpartition(".")
    return f"{stem}-re1{dot}{suffix}"


class GeoBlock(Site):
    """A site that answers 451 for what it was told to remove."""

    name, label = "geoblock.test", "GeoBlock"
    PLANTED = 4

    def make_items(self):
        items = []
        for n in range(1, 7):
            if n == self.PLANTED:
                items.append(
                    Item(
                        f"/i/{n}",
                        "Portrait",
                        "grace_hopper",
                        {f"/img/{n}.jpg": lambda: self.web.store.read("grace_hopper")},
                        "geoblock",
                    )
                )
            else:
                items.append(Item(f"/i/{n}", f"Image {n}", "filler", {f"/img/{n}.jpg": _filler(300 + n)}, "geoblock"))
        return items

    def nav(self):
        return [("Home", "/"), ("List", "/list")]

    def route(self, path, query):
        if path == "/":
            return self.page("GeoBlock", '<p><a href="/list">All images</a></p>')
        if path == "/list":
            return self.page("List", f"<h2>Images</h2>{_links(self.live())}")
        return None

    def removed_response(self):
        return text_response(451, "This content is not available in your country.")


# The bad sites ----------------------------------------------------------------------------------


class Endless(Site):
    """Pagination that never ends: /page/<n> for every n >= 1, five items each."""

    name, label = "endless.test", "Endless"
    PER_PAGE = 5

    def route(self, path, query):
        if path == "/":
            return self.page("Endless", '<p><a href="/page/1">Start</a></p>')
        if match := re.fullmatch(r"/page/([1-9][0-9]{0,8})", path):
            n = int(match[1])
            items = "".join(f'<li><a href="/e/{n}-{k}">Item {n}-{k}</a></li>' for k in range(1, self.PER_PAGE + 1))
            return self.page(f"Page {n}", f'<ul class="items">{items}</ul><a rel="next" href="/page/{n + 1}">Next</a>')
        if match := re.fullmatch(r"/e/([1-9][0-9]{0,8})-([1-5])", path):
            return self.page(f"Item {match[1]}-{match[2]}", f'<img src="/img/{match[1]}-{match[2]}.jpg" alt="">')
        if match := re.fullmatch(r"/img/([1-9][0-9]{0,8})-([1-5])\.jpg", path):
            return Response(200, filler(100_000 + int(match[1]) * self.PER_PAGE + int(match[2])), JPEG)
        return None


class Trap(Site):
    """Link traps: a calendar without end, relative links that nest forever, a fresh session id on every link."""

    name, label = "trap.test", "Trap"
    ITEMS = 3

    def make_items(self):
        return [
            Item(f"/item/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": _filler(400 + k)}, "none")
            for k in range(1, self.ITEMS + 1)
        ]

    def nav(self):
        return [("Home", _sid("/")), ("Calendar", _sid("/cal/2026/01")), ("More", _sid("/x/"))]

    def route(self, path, query):
        items = "".join(f'<li><a href="{_sid(item.page)}">{escape(item.title)}</a></li>' for item in self.items)
        if path == "/":
            return self.page("Trap", f'<ul class="items">{items}</ul>')
        if match := re.fullmatch(r"/cal/([0-9]{4,6})/([0-9]{2})", path):
            return self.calendar(int(match[1]), int(match[2]))
        if re.fullmatch(r"/x/(more/)*", path):
            return self.page("More", f'<p><a href="{_sid("more/")}">more</a></p><ul class="items">{items}</ul>')
        return None

    def calendar(self, year: int, month: int) -> Response | None:
        if not 1 <= month <= 12:
            return None
        before = (year, month - 1) if month > 1 else (year - 1, 12)
        after = (year, month + 1) if month < 12 else (year + 1, 1)
        links = " ".join(f'<a href="{_sid(f"/cal/{y:04d}/{m:02d}")}">{y:04d}-{m:02d}</a>' for y, m in (before, after))
        return self.page(f"{year:04d}-{month:02d}", f"<h2>Events {year:04d}-{month:02d}</h2><p>No events. {links}</p>")


def _sid(href: str) -> str:
    return f"{href}?sid={secrets.token_hex(8)}"


class Banning(Site):
    """Rate limits, then a ban: every 7th request 429 (Retry-After: 1), 403 for all after ``ban_after``."""

    name, label = "banning.test", "Banning"

    def __init__(self, web):
        super().__init__(web)
        self.count = 0
        self.lock = threading.Lock()

    def make_items(self):
        return [
            Item(f"/b/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": _filler(500 + k)}, "none") for k in range(1, 41)
        ]

    def handle(self, path, query):
        with self.lock:
            self.count += 1
            count = self.count
        if count > self.web.ban_after:
            return text_response(403, "banned")
        if count % 7 == 0:
            return Response(429, b"Too many requests.", "text/plain; charset=utf-8", {"Retry-After": "1"})
        return super().handle(path, query)

    def route(self, path, query):
        if path == "/":
            return self.page("Banning", f"<h2>Items</h2>{_links(self.items)}")
        return None


HUGE_ITEMS = 20_000


@cache
def _huge_listing() -> str:
    return "".join(f'<li><a href="/h/{k}">Item {k}</a></li>' for k in range(1, HUGE_ITEMS + 1))


class Huge(Site):
    """One listing with 20,000 links."""

    name, label = "huge.test", "Huge"

    def make_items(self):
        return [
            Item(f"/h/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": _filler(10_000 + k)}, "none")
            for k in range(1, HUGE_ITEMS + 1)
        ]

    def route(self, path, query):
        if path == "/":
            return self.page("Huge", '<p><a href="/all">Everything</a></p>')
        if path == "/all":
            return self.listing
        return None

    @cached_property
    def listing(self) -> Response:
        return self.page("All", f'<ul class="items">{_huge_listing()}</ul>')


class Changing(Site):
    """A site that changes its markup: layout A has cards linking /item/<k>, layout B entries linking /p/<k>."""

    name, label = "changing.test", "Changing"
    layout = "a"

    def make_items(self):
        prefix = "/item" if self.layout == "a" else "/p"
        return [
            Item(f"{prefix}/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": _filler(600 + k)}, "none")
            for k in range(1, 9)
        ]

    def set_layout(self, layout: str) -> None:
        if layout not in ("a", "b"):
            raise ValueError(f"unknown layout {layout!r}")
        self.layout = layout
        self.reindex()

    def route(self, path, query):
        if path != "/":
            return None
        if self.layout == "a":
            cards = "".join(
                f'<div class="card"><a href="{item.page}">{escape(item.title)}</a></div>' for item in self.items
            )
            return self.page("Changing", f'<section class="cards">{cards}</section>')
        entries = "".join(
            f'<li class="entry"><a href="{item.page}">{escape(item.title)}</a></li>' for item in self.items
        )
        return self.page("Changing", f'<div id="app"><ol class="entries">{entries}</ol></div>')


SITES = (TubeLeak, ImgBoard, ReUp, GeoBlock, Endless, Trap, Banning, Huge, Changing)


# The servers ------------------------------------------------------------------------------------


def _parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """One byte range as (start, stop); None to send it all (RFC 9110 allows ignoring ranges); False: 416."""
    spec = re.fullmatch(r"bytes=(\d*)-(\d*)", header.replace(" ", ""))
    if not spec or spec.groups() == ("", ""):
        return None
    first, last = spec.groups()
    if not first:
        tail = min(int(last), size)
        return (size - tail, size) if tail else False
    start, stop = int(first), min(int(last) + 1, size) if last else size
    if start >= size:
        return False
    return (start, stop) if stop > start else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):
        pass  # the demo web's log is DemoWeb.requests

    def do_GET(self):
        self.respond(head=False)

    def do_HEAD(self):
        self.respond(head=True)

    def respond(self, head: bool) -> None:
        web = self.server.web
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip().lower().rstrip(".")
        split = urlsplit(self.path)
        site = web.sites.get(host)
        query = {key: values[0] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        response = site.handle(split.path, query) if site else NOT_FOUND
        self.send(response, head, host)

    def send(self, response: Response, head: bool, host: str) -> int:
        body, status, headers = response.body, response.status, dict(response.headers)
        if status == 200 and not response.content_type.startswith("text/"):
            headers["Accept-Ranges"] = "bytes"
            wanted = _parse_range(self.headers["Range"], len(body)) if "Range" in self.headers else None
            if wanted is False:
                status, headers["Content-Range"], body = 416, f"bytes */{len(body)}", b""
            elif wanted:
                start, stop = wanted
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(body)}"
                status, body = 206, body[start:stop]
        self.server.web.record(host, self.path, status)  # before answering: a client may look right after
        self.send_response(status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
        return status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], web: DemoWeb):
        super().__init__(address, _Handler)
        self.web = web

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a crawler hanging up mid-answer is normal
            super().handle_error(request, client_address)


class _Mailbox:
    """aiosmtpd handler: keep every message and let the sites act on it."""

    def __init__(self, web: DemoWeb):
        self.web = web

    async def handle_DATA(self, server, session, envelope) -> str:
        content = bytes(envelope.original_content or envelope.content)
        self.web.mailbox.append(content)
        await asyncio.get_running_loop().run_in_executor(None, self.web.notice_received, _plain_text(content))
        return "250 Message accepted"


def _plain_text(message: bytes) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(message)
    return "\n".join(part.get_content() for part in parsed.walk() if part.get_content_type() == "text/plain")


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class DemoWeb:
    """The demo sites on one HTTP port and their abuse desks on one SMTP port."""

    def __init__(
        self,
        directory: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        smtp_port: int = 0,
        ban_after: int = 30,
        removal_delay: float = 0.0,
    ):
        self.store = MediaStore(Path(directory) / "media")
        self.host, self.port, self.smtp_port = host, port, smtp_port
        self.ban_after, self.removal_delay = ban_after, removal_delay
        self.requests: list[tuple[str, str, int]] = []
        self.mailbox: list[bytes] = []
        self._lock = threading.Lock()
        self._thumbnails: dict[str, bytes] = {}
        self.hls: dict[str, bytes] = {}
        self.sites: dict[str, Site] = {}
        self._server: _Server | None = None
        self._smtp = None

    def start(self) -> DemoWeb:
        self.store.build()
        self.hls = self.store.hls_files()
        self.reset()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="demo-web", daemon=True).start()
        self._start_smtp()
        return self

    def _start_smtp(self) -> None:
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # it logs every SMTP command at INFO
        self.smtp_port = self.smtp_port or _free_port(self.host)
        # A greeting name of its own: aiosmtpd would look the machine's name up.
        self._smtp = Controller(_Mailbox(self), hostname=self.host, port=self.smtp_port, server_hostname="mail.test")
        self._smtp.start()

    def stop(self) -> None:
        if self._smtp:
            self._smtp.stop()
            self._smtp = None
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DemoWeb:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, site: str, path: str = "/") -> str:
        return f"http://{site}:{self.port}{path}"

    def host_rules(self) -> str:
        """For KESU_CAPTURE_HOSTS: every .test name goes to this server, without a DNS query."""
        return f"*.test={self.host}"

    def thumbnail(self, variant: str) -> bytes:
        if variant not in self._thumbnails:
            self._thumbnails[variant] = thumbnail(self.store.read(variant))
        return self._thumbnails[variant]

    def record(self, site: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((site, path, status))

    def reset(self) -> None:
        """Back to the start: every item up, counters and logs empty, changing.test on layout A."""
        with self._lock:
            self.sites = {site.name: site(self) for site in SITES}
            self.requests.clear()
            self.mailbox.clear()

    def set_layout(self, site: str, layout: str) -> None:
        changing = self.sites[site]
        if not isinstance(changing, Changing):
            raise ValueError(f"{site} has one layout")
        with self._lock:
            changing.set_layout(layout)

    def notice_received(self, text: str) -> list[str]:
        """Remove what the notice names, each site in its own way; the URLs acted on."""
        acted = []
        with self._lock:
            for url in dict.fromkeys(match.rstrip(".,;:)]}") for match in URL.findall(text)):
                split = urlsplit(url)
                site = self.sites.get((split.hostname or "").lower())
                item = site and (site.pages.get(split.path) or site.files.get(split.path, (None,))[0])
                if item and site.remove(item):
                    acted.append(url)
        return acted

    def catalogue(self) -> list[dict]:
        """Every item of every site (endless.test's are infinite and left out)."""
        entries = []
        for site in self.sites.values():
            for item in site.items:
                if item.original is None:
                    entries.append(self._entry(site, item))
        return entries

    def _entry(self, site: Site, item: Item) -> dict:
        entry = {
            "site": site.name,
            "url": self.url(site.name, item.page),
            "title": item.title,
            "media": [self.url(site.name, path) for path in item.media],
            "extra": [self.url(site.name, path) for path in item.extra],
            "variant": item.variant,
            "behaviour": item.behaviour,
        }
        if item.behaviour == "reupload":
            entry["reupload_url"] = self.url(site.name, f"{item.page}-re1")
        return entry

    def base_urls(self) -> list[str]:
        return [self.url(name) for name in self.sites]
