"""What every demo site is made of: items, the pages and files that serve them, and removal.

A ``Site`` holds its items (one upload each: a page, its media, what a notice does to it) and
answers a path with a ``Response``: the item's page, one of its files, or a listing from the
subclass's ``route``. After a notice an item goes away in the site's own way (``Item.behaviour``).
The sites themselves are in kesu.demo.sites; the servers in kesu.demo.web.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from typing import Protocol

from .media import MediaStore, filler, thumbnail

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


class Web(Protocol):
    """What a site needs from the server it runs in (kesu.demo.web.DemoWeb)."""

    store: MediaStore
    hls: dict[str, bytes]  # the excerpt's HLS playlist and segments by file name
    removal_delay: float  # seconds before a re-upload comes back
    ban_after: int  # requests before banning.test bans

    def thumbnail(self, variant: str) -> bytes: ...


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


def lazy_filler(n: int) -> Callable[[], bytes]:
    return lambda: filler(n)


def lazy_filler_thumbnail(n: int) -> Callable[[], bytes]:
    return lambda: filler_thumbnail(n)


class Site:
    """A site's items and pages. Subclasses make the items and answer their listings in ``route``."""

    name = ""
    label = ""

    def __init__(self, web: Web):
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


def item_links(items: list[Item], *, thumbs: bool = False) -> str:
    rows = []
    for item in items:
        thumb = next(iter(item.extra), "")
        image = f'<img src="{thumb}" alt="{escape(item.title)}">' if thumbs and thumb else ""
        rows.append(f'<li><a href="{item.page}">{image}{escape(item.title)}</a></li>')
    return f'<ul class="items">{"".join(rows)}</ul>'
