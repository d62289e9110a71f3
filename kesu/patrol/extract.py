"""What a fetched page offers the patrol: links to follow, media to take, and signs it needs a browser.

Parsing is the standard library's HTMLParser: it never runs anything and
never fails on broken markup. URLs are normalised before anyone compares
them, and the ones that look like crawler traps are dropped here, with a
reason, so a run can report what it refused.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

MAX_URL = 512
MAX_SEGMENTS = 12
MAX_QUERY_PARAMS = 8
# Parameters that make every URL unique without changing the page: sessions and tracking.
VOLATILE = re.compile(r"^(sid|sess(ion)?(_?id)?|phpsessid|jsessionid|utm_.*|fbclid|gclid|ref|_)$", re.I)
IMAGE_EXT = re.compile(r"\.(jpe?g|png|gif|webp|avif|bmp)$", re.I)
VIDEO_EXT = re.compile(r"\.(mp4|webm|mov|m4v|mkv|ts)$", re.I)
STREAM = re.compile(r"\.(m3u8|mpd)(\?|$)|\bblob:", re.I)
LAZY = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-url")
NEXT_WORDS = re.compile(
    r"^\s*(next|next page|older|more|›|»|>|次へ|次のページ|もっと見る|berikutnya|selanjutnya)\s*$", re.I
)
# A removed item often still answers 200: these say so (English, Japanese, Indonesian and the usual others).
GONE_WORDS = re.compile(
    r"(no longer available|has been removed|been deleted|was removed|content removed|not found|page not found|"
    r"does not exist|doesn't exist|unavailable|taken down|削除されました|削除済み|見つかりません|存在しません|"
    r"公開停止|telah dihapus|tidak ditemukan|tidak tersedia|n'est plus disponible|nicht mehr verfügbar|"
    r"no está disponible|已删除|삭제되었습니다)",
    re.I,
)
GEO_WORDS = re.compile(
    r"(not available in your (country|region)|unavailable in your (country|region)|geo.?block|"
    r"お住まいの地域|この地域では|not available in your location)",
    re.I,
)


@dataclass
class Link:
    url: str
    rel: str = ""
    text: str = ""
    classes: str = ""


@dataclass
class MediaRef:
    url: str
    kind: str  # image, video, stream
    source: str  # img, srcset, lazy, og, video, poster, source, a


@dataclass
class Parsed:
    title: str = ""
    links: list[Link] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    text: str = ""
    players: int = 0  # <video> without a plain source, or stream manifests mentioned
    refused: Counter = field(default_factory=Counter)  # reason -> count of URLs dropped as traps

    @property
    def needs_browser(self) -> bool:
        return self.players > 0

    @property
    def says_gone(self) -> bool:
        return bool(GONE_WORDS.search(self.title) or GONE_WORDS.search(self.text[:4000]))

    @property
    def says_geo_blocked(self) -> bool:
        return bool(GEO_WORDS.search(self.title) or GEO_WORDS.search(self.text[:4000]))


def normalise(url: str, base: str = "") -> tuple[str | None, str]:
    """The URL in one canonical form, or None and the reason it looks like a trap (or is not http)."""
    try:
        parts = urlsplit(urljoin(base, url.strip()))
        port = parts.port
    except ValueError:
        return None, "malformed"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, "not http"
    host = parts.hostname.lower().rstrip(".")
    default = {"http": 80, "https": 443}[parts.scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not VOLATILE.match(k)]
    out = urlunsplit((parts.scheme, netloc, path, urlencode(sorted(query)), ""))
    segments = [s for s in path.split("/") if s]
    if len(out) > MAX_URL:
        return None, "URL too long"
    if len(segments) > MAX_SEGMENTS:
        return None, "path too deep"
    if len(query) > MAX_QUERY_PARAMS:
        return None, "too many query parameters"
    if _repeats(segments):
        return None, "repeating path"
    return out, ""


def _repeats(segments: list[str]) -> bool:
    """/a/b/a/b/a/b or /more/more/more: a relative link feeding on itself."""
    for size in (1, 2, 3):
        for start in range(len(segments) - 3 * size + 1):
            chunk = segments[start : start + size]
            if chunk == segments[start + size : start + 2 * size] == segments[start + 2 * size : start + 3 * size]:
                return True
    return False


class _Parser(HTMLParser):
    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.out = Parsed()
        self._stack: list[str] = []
        self._link: Link | None = None
        self._text: list[str] = []
        self._in_title = False
        self._skip = 0  # inside <script>/<style>
        self._video_sources = 0

    def handle_starttag(self, tag, attrs):
        a = {name: (value or "") for name, value in attrs}
        if tag in ("script", "style"):
            self._skip += 1
            return
        handler = getattr(self, f"_start_{tag}", None)
        if handler:
            handler(a)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == "a" and self._link is not None:
            self.out.links.append(self._link)
            self._link = None
        elif tag == "video" and self._video_sources == 0:
            self.out.players += 1

    def handle_data(self, data):
        if self._skip:
            if STREAM.search(data):
                self.out.players += 1
            return
        if self._in_title:
            self.out.title += data
        if self._link is not None:
            self._link.text += data
        self._text.append(data)

    def _start_title(self, a):
        self._in_title = True

    def _start_a(self, a):
        href = a.get("href", "")
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            return
        if STREAM.search(href):
            self.out.players += 1
        self._link = Link(href, a.get("rel", "").lower(), "", a.get("class", ""))
        if IMAGE_EXT.search(urlsplit(href).path):
            self._media(href, "image", "a")
        elif VIDEO_EXT.search(urlsplit(href).path):
            self._media(href, "video", "a")

    def _start_link(self, a):
        if a.get("rel", "").lower() == "next" and a.get("href"):
            self.out.links.append(Link(a["href"], "next"))
        elif a.get("rel", "").lower() == "image_src" and a.get("href"):
            self._media(a["href"], "image", "og")

    def _start_img(self, a):
        for name in LAZY:
            if a.get(name):
                self._media(a[name], "image", "lazy")
        if a.get("srcset"):
            self._media(_largest(a["srcset"]), "image", "srcset")
        src = a.get("src", "")
        if src and not src.startswith("data:") and not _is_placeholder(src):
            self._media(src, "image", "img")

    def _start_source(self, a):
        src = a.get("src") or (a.get("srcset") and _largest(a["srcset"])) or ""
        if not src:
            return
        self._video_sources += 1
        kind = "stream" if STREAM.search(src) or "mpegurl" in a.get("type", "").lower() else None
        if kind:
            self.out.players += 1
        elif "image" in a.get("type", "") or IMAGE_EXT.search(urlsplit(src).path):
            self._media(src, "image", "source")
        else:
            self._media(src, "video", "source")

    def _start_video(self, a):
        self._video_sources = 0
        if a.get("poster"):
            self._media(a["poster"], "image", "poster")
        src = a.get("src", "")
        if src and not src.startswith("blob:") and not STREAM.search(src):
            self._video_sources += 1
            self._media(src, "video", "video")

    def _start_meta(self, a):
        prop = (a.get("property") or a.get("name") or "").lower()
        if prop in ("og:image", "twitter:image") and a.get("content"):
            self._media(a["content"], "image", "og")
        elif prop in ("og:video", "og:video:url") and a.get("content"):
            self._media(a["content"], "video", "og")

    def _media(self, url: str, kind: str, source: str) -> None:
        self.out.media.append(MediaRef(url, kind, source))


def _largest(srcset: str) -> str:
    best, best_width = "", -1.0
    for candidate in srcset.split(","):
        bits = candidate.split()
        if not bits:
            continue
        width = 0.0
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            width = float(bits[1][:-1]) * (1 if bits[1].endswith("w") else 1000)
        if width > best_width:
            best, best_width = bits[0], width
    return best


def _is_placeholder(src: str) -> bool:
    return bool(re.search(r"(blank|spacer|placeholder|pixel|lazy)\.(gif|png|svg)$", src, re.I))


def parse(html: str, base: str) -> Parsed:
    parser = _Parser(base)
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # the parser gave up part-way: keep what it read
        pass
    out = parser.out
    out.text = re.sub(r"\s+", " ", " ".join(parser._text)).strip()
    out.title = out.title.strip()
    out.links = _normalised_links(out, base)
    out.media = _normalised_media(out, base)
    return out


def _normalised_links(out: Parsed, base: str) -> list[Link]:
    links: dict[str, Link] = {}
    for link in out.links:
        url, reason = normalise(link.url, base)
        if url is None:
            out.refused[reason] += reason != "not http"
            continue
        found = Link(url, link.rel, link.text.strip()[:100], link.classes)
        if url not in links:
            links[url] = found
        elif is_next(found):  # the same address in the menu and as "next": it is the next page
            links[url].rel = "next"
    return list(links.values())


def _normalised_media(out: Parsed, base: str) -> list[MediaRef]:
    media, seen = [], set()
    for ref in out.media:
        url, _ = normalise(ref.url, base)
        if url and url not in seen:
            seen.add(url)
            media.append(MediaRef(url, ref.kind, ref.source))
    return media


def is_next(link: Link) -> bool:
    return link.rel == "next" or bool(NEXT_WORDS.match(link.text))
