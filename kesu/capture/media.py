"""From what the page showed and what the network carried to the list of media.

Every medium gets its bytes: from the browser's own response when that is
whole, otherwise fetched again through the guard proxy; streams (HLS, DASH)
get their playlist and every segment, joined into one file.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from . import streams
from .fetch import fetch
from .record import Capture, Exchange, MediaItem
from .recorder import Limits
from .session import page_exchange

MEDIA_PREFIXES = ("image/", "video/", "audio/")
SEGMENT_TYPES = ("video/mp2t", "video/iso.segment", "audio/mp2t")
REFETCH_PARALLEL = 4


@dataclass
class Refetcher:
    """Fetches URLs once each through the guard proxy, within the capture's limits."""

    proxy_url: str
    user_agent: str
    referer: str
    limits: Limits
    refusal_token: str = ""
    made: dict[str, Exchange] = field(default_factory=dict)

    def __post_init__(self):
        self._slots = asyncio.Semaphore(REFETCH_PARALLEL)

    async def get(self, url: str) -> Exchange | None:
        if url in self.made:
            return self.made[url]
        if not url.startswith(("http://", "https://")):
            return None  # a playlist or page may name ftp:, file: or data: URLs; only the web goes through the guard
        if len(self.made) >= self.limits.refetches:
            return None
        async with self._slots:
            if url not in self.made:
                self.made[url] = await asyncio.to_thread(
                    fetch,
                    url,
                    proxy_url=self.proxy_url,
                    user_agent=self.user_agent,
                    referer=self.referer,
                    limit=self.limits.body_bytes,
                    seconds=self.limits.body_seconds,
                    ident=f"refetch.{len(self.made)}",
                    refusal_token=self.refusal_token,
                )
        return self.made[url]


def whole(exchange: Exchange | None) -> bool:
    """A 200, or a 206 that covers the whole resource, with the complete body."""
    if exchange is None or not exchange.complete or exchange.body is None or exchange.status not in (200, 206):
        return False
    if exchange.status == 206:
        spec = next((v for k, v in exchange.response_headers if k.lower() == "content-range"), "")
        try:
            span, total = spec.split(" ", 1)[1].split("/")
            start, end = (int(x) for x in span.split("-"))
            return start == 0 and total != "*" and end + 1 == int(total)
        except (IndexError, ValueError):
            return False
    return True


def cut_by_limit(exchange: Exchange | None) -> bool:
    """Stopped by a limit or the address policy: fetching it again would only be stopped again."""
    return exchange is not None and stopped(exchange.error or exchange.incomplete_reason)


def stopped(reason: str) -> bool:
    """A reason that says a limit or the address policy ended it (not a loss worth another try)."""
    return "refused by the capture policy" in reason or reason.startswith(
        ("body larger than", "body not complete after", "capture passed")
    )


async def extract(capture: Capture, findings: list[dict], refetcher: Refetcher) -> None:
    """Fill capture.media (and add the exchanges it needed) from findings and the network record."""
    by_url: dict[str, Exchange] = {}
    for exchange in capture.exchanges:
        if exchange.url not in by_url or (whole(exchange) and not whole(by_url[exchange.url])):
            by_url[exchange.url] = exchange
    stream_urls = await _streams(capture, by_url, refetcher)
    seen = set(stream_urls)
    page_index = 0
    for item in findings:
        key = item["url"] or f"{item['frame_url']}#{item['selector']}"
        if key in seen:
            continue
        seen.add(key)
        if item["source"] == "canvas" or item["url"].startswith(("blob:", "data:")):
            medium = _from_page(capture, item, page_index)
            page_index += 1
        elif item["url"].startswith(("http:", "https:")):
            medium = await _from_network(item, by_url, refetcher)
        else:
            continue
        if medium is not None:
            capture.media.append(medium)
    _network_only(capture, by_url, seen)


def _describe(item: dict, **values) -> MediaItem:
    box = tuple(item["box"]) if item.get("box") else None
    return MediaItem(
        kind=item["kind"],
        url=item["url"],
        source=item["source"],
        selector=item.get("selector", ""),
        frame_url=item.get("frame_url", ""),
        box=box,
        **values,
    )


def _from_page(capture: Capture, item: dict, index: int) -> MediaItem | None:
    if item.get("error"):
        capture.errors.append(f"canvas {item['selector']}: {item['error']}")
        return _describe(item, incomplete_reason=item["error"])
    if item["url"].startswith("blob:"):
        if "data" not in item:
            return None  # a MediaSource video: its stream is captured from the network instead
        data, mime = item["data"], item.get("type", "")
    else:
        data, mime = _data_url(item.get("data") or item["url"])
        if data is None:
            return None
    exchange = page_exchange(item, data, mime, index)
    capture.exchanges.append(exchange)
    medium = _describe(item, exchange_ids=[exchange.id], mime_type=mime, body=data, complete=True)
    medium.url = exchange.url if len(item["url"]) < 2048 else f"urn:kesu:data:{medium.sha256}"
    exchange.url = medium.url
    return medium


def _data_url(url: str) -> tuple[bytes | None, str]:
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:"):
        return None, ""
    mime = header[5:].split(";")[0] or "text/plain"
    try:
        data = base64.b64decode(payload) if header.endswith(";base64") else unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None, mime
    return data, mime


async def _from_network(item: dict, by_url: dict[str, Exchange], refetcher: Refetcher) -> MediaItem:
    exchange = by_url.get(item["url"])
    if not whole(exchange) and not cut_by_limit(exchange):
        # Not loaded (a skipped srcset candidate, lazy image never shown) or only
        # part of it (range requests): fetch it whole.
        exchange = await refetcher.get(item["url"]) or exchange
    if exchange is None:
        return _describe(item, incomplete_reason="not loaded, and the re-fetch limit was reached")
    good = whole(exchange)
    reason = "" if good else exchange.incomplete_reason or exchange.error or f"status {exchange.status}"
    return _describe(
        item,
        exchange_ids=[exchange.id],
        mime_type=exchange.mime_type,
        body=exchange.body if good else None,
        complete=good,
        incomplete_reason=reason,
    )


def _network_only(capture: Capture, by_url: dict[str, Exchange], seen: set[str]) -> None:
    """Media the network carried that no element showed (e.g. preloaded, removed again)."""
    for url, exchange in by_url.items():
        mime = exchange.mime_type.lower()
        if url in seen or not mime.startswith(MEDIA_PREFIXES) or mime in SEGMENT_TYPES or not whole(exchange):
            continue
        seen.add(url)
        capture.media.append(
            MediaItem(
                kind="video" if mime.startswith(("video/", "audio/")) else "image",
                url=url,
                source="network",
                exchange_ids=[exchange.id],
                mime_type=exchange.mime_type,
                frame_url=exchange.frame_url,
                body=exchange.body,
                complete=True,
            )
        )


async def _streams(capture: Capture, by_url: dict[str, Exchange], refetcher: Refetcher) -> set[str]:
    """A media item per HLS/DASH stream, segments joined; returns every URL the streams used."""
    used: set[str] = set()
    for url, exchange in list(by_url.items()):
        hls, dash = streams.is_hls(url, exchange.mime_type), streams.is_dash(url, exchange.mime_type)
        if url in used or not (hls or dash) or not whole(exchange):
            continue
        text = exchange.body.decode("utf-8", "replace")
        found: list[streams.Stream] = []
        if hls:
            parsed = streams.parse_hls(text, url)
            if isinstance(parsed, streams.Master):
                used.add(url)
                parsed = await _best_variant(parsed, by_url, refetcher)
            found = [parsed] if parsed else []
        else:
            every = streams.parse_dash(text, url, refetcher.limits.segments) or []
            used.update(u for s in every for u in s.urls)
            found = _best_per_type(every, by_url)
        for stream in found:
            used.add(url)
            used.update(stream.urls)
            capture.media.append(await _join(stream, exchange, by_url, refetcher))
    return used


async def _best_variant(master: streams.Master, by_url, refetcher: Refetcher) -> streams.Stream | None:
    # The variant the player chose, if it loaded one; else the best one offered.
    chosen = next((url for _, url in master.variants if whole(by_url.get(url))), None)
    if chosen is None and master.variants:
        chosen = master.variants[0][1]
        fetched = await refetcher.get(chosen)
        if fetched is not None:
            by_url[chosen] = fetched
    playlist = by_url.get(chosen) if chosen else None
    if not whole(playlist):
        return None
    parsed = streams.parse_hls(playlist.body.decode("utf-8", "replace"), chosen)
    return parsed if isinstance(parsed, streams.Stream) else None


def _best_per_type(found: list[streams.Stream], by_url) -> list[streams.Stream]:
    """One representation per init segment family: the one the player loaded most of, else the best."""
    loaded = [s for s in found if any(whole(by_url.get(u)) for u in s.urls)]
    return loaded or sorted(found, key=lambda s: -s.bandwidth)[:1]


async def _join(stream: streams.Stream, manifest: Exchange, by_url, refetcher: Refetcher) -> MediaItem:
    parts, ids, missing = [], [manifest.id], []
    for url in stream.urls:
        exchange = by_url.get(url)
        if not whole(exchange):
            exchange = await refetcher.get(url)
        if not whole(exchange):
            missing.append(url)
            continue
        ids.append(exchange.id)
        parts.append(exchange.body)
    reason = f"{len(missing)} of {len(stream.urls)} segments could not be fetched" if missing else ""
    if stream.encrypted:
        reason = (reason + "; " if reason else "") + "segments are encrypted; kept as served"
    return MediaItem(
        kind="video",
        url=stream.manifest_url,
        source=stream.kind,
        exchange_ids=ids,
        mime_type="video/mp2t" if not stream.init else "video/mp4",
        body=b"".join(parts) if parts else None,
        complete=not missing,
        incomplete_reason=reason,
        frame_url=manifest.frame_url,
    )
