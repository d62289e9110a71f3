"""What one capture saw: the data every later stage (extraction, WARC, bundle) reads.

Plain dataclasses, no Django: the browser side fills them, the evidence side
writes them out. Times are timezone-aware UTC; sizes are bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

# Where a body came from. "browser": the browser's own request, body taken with
# the DevTools Fetch domain. "refetch": Kesu fetched the URL again itself (an
# aborted range request, a srcset candidate the browser skipped, an HLS/DASH
# segment the player never asked for). "page": read from inside the page
# (blob:, data:, canvas); these have no HTTP exchange and become WARC
# resource records. "ytdlp": downloaded by yt-dlp.
ROUTES = ("browser", "refetch", "page", "ytdlp")


@dataclass
class Exchange:
    """One request and its response (or, for route "page", one resource)."""

    id: str
    url: str
    route: str = "browser"
    method: str = "GET"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes | None = None
    status: int | None = None
    status_text: str = ""
    # As the server sent them. Bodies are kept decoded, so the WARC writer drops
    # Content-Encoding/Transfer-Encoding and keeps them as X-Archive-Orig-*.
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    mime_type: str = ""
    body: bytes | None = None
    complete: bool = False
    incomplete_reason: str = ""  # why body is missing or partial; "" when complete
    redirect_chain: list[str] = field(default_factory=list)  # URLs before this one, oldest first
    final_url: str = ""
    remote_ip: str = ""
    remote_port: int | None = None
    resource_type: str = ""  # DevTools' type: Document, Image, Media, Script, Fetch, ...
    frame_url: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    timing: dict = field(default_factory=dict)  # DevTools' ResourceTiming, milliseconds
    error: str = ""  # network error text when the request failed

    @property
    def size(self) -> int:
        return len(self.body) if self.body is not None else 0

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest() if self.body is not None else ""

    @property
    def is_resource(self) -> bool:
        """blob:, data: and canvas content: WARC resource records, not responses."""
        return self.route == "page"


@dataclass
class MediaItem:
    """One image or video found on the page, with where it appeared."""

    kind: str  # "image" or "video"
    url: str
    source: str  # img, srcset, picture, css, lazy, video, hls, dash, blob, canvas, data, network, ytdlp
    exchange_ids: list[str] = field(default_factory=list)  # several for HLS/DASH segments
    mime_type: str = ""
    selector: str = ""  # CSS path of the element, "" when only seen on the network
    frame_url: str = ""
    box: tuple[float, float, float, float] | None = None  # x, y, width, height in page pixels
    body: bytes | None = None  # the bytes of the medium; for HLS/DASH the joined segments
    complete: bool = False
    incomplete_reason: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest() if self.body is not None else ""


@dataclass
class Capture:
    """Everything one capture of one URL produced."""

    url: str
    started_at: datetime
    finished_at: datetime | None = None
    final_url: str = ""
    title: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    media: list[MediaItem] = field(default_factory=list)
    screenshot: bytes | None = None  # full-page PNG
    mhtml: bytes | None = None
    dom: str = ""  # the main frame's DOM as serialised after scripts ran
    frame_doms: dict[str, str] = field(default_factory=dict)  # frame URL -> DOM
    errors: list[str] = field(default_factory=list)  # one line each, no victim data
    popups: list[str] = field(default_factory=list)  # URLs of windows the page tried to open
    environment: dict = field(default_factory=dict)  # browser version, user agent, viewport, proxy, limits

    @property
    def outcome(self) -> str:
        """complete, partial (something failed or is incomplete) or failed (no page)."""
        document = next((e for e in self.exchanges if e.resource_type == "Document" and e.body), None)
        if document is None:
            return "failed"
        if self.errors or any(not e.complete for e in self.exchanges if e.status and e.status < 300):
            return "partial"
        return "complete"

    def exchange(self, exchange_id: str) -> Exchange | None:
        return next((e for e in self.exchanges if e.id == exchange_id), None)
