"""The demo web's sites, each named ``<name>.test`` and chosen by the Host header.

- tubeleak.test: paginated listing with lazy thumbnails, search, an HLS video page; removed items 404.
- imgboard.test: boards and posts; a removed post is a soft 404 (200, "removed", no image).
- reup.test: a removed item 404s and comes back under a new URL after ``removal_delay`` seconds.
- geoblock.test: a removed item answers 451.
- endless.test, trap.test, banning.test, huge.test, changing.test: the bad sites a crawler must
  survive (infinite pagination, link traps, rate limits and bans, 20,000 links, a layout change).

Pages use path-absolute links, so they do not depend on the port.
"""

import re
import secrets
import threading
from functools import cache, cached_property
from html import escape

from .media import filler
from .pages import (
    BLANK_GIF,
    JPEG,
    TYPES,
    Item,
    Response,
    Site,
    item_links,
    lazy_filler,
    lazy_filler_thumbnail,
    text_response,
)

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
            {f"/m/{slug}.jpg": lazy_filler(n)},
            "gone",
            {f"/t/{slug}.jpg": lazy_filler_thumbnail(n)},
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
            full = (lambda v=variant: self.web.store.read(v)) if variant != "filler" else lazy_filler(post)
            thumb = (lambda v=variant: self.web.thumbnail(v)) if variant != "filler" else lazy_filler_thumbnail(post)
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
        return self.page(f"Board {n}", f"<h2>Board {n}</h2>{item_links(posts, thumbs=True)}<p>{more}</p>")


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
            Item(f"/watch/new-{n}", f"New {n}", "filler", {f"/media/new-{n}.jpg": lazy_filler(n)}, "reupload")
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
            return self.page("New", f"<h2>New uploads</h2>{item_links(self.live())}")
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
                items.append(
                    Item(f"/i/{n}", f"Image {n}", "filler", {f"/img/{n}.jpg": lazy_filler(300 + n)}, "geoblock")
                )
        return items

    def nav(self):
        return [("Home", "/"), ("List", "/list")]

    def route(self, path, query):
        if path == "/":
            return self.page("GeoBlock", '<p><a href="/list">All images</a></p>')
        if path == "/list":
            return self.page("List", f"<h2>Images</h2>{item_links(self.live())}")
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
            Item(f"/item/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": lazy_filler(400 + k)}, "none")
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
            Item(f"/b/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": lazy_filler(500 + k)}, "none")
            for k in range(1, 41)
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
            return self.page("Banning", f"<h2>Items</h2>{item_links(self.items)}")
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
            Item(f"/h/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": lazy_filler(10_000 + k)}, "none")
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
            Item(f"{prefix}/{k}", f"Item {k}", "filler", {f"/img/{k}.jpg": lazy_filler(600 + k)}, "none")
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
