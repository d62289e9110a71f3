"""From a Capture to the files and manifest of a bundle (see bundle.py for the layout)."""

from __future__ import annotations

import copy
import mimetypes
import os
import platform
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

from kesu.capture.record import Capture

from . import wacz, warc

WITHHELD = "withheld: child sexual abuse material is never stored, only its hash"
# For CSAM cases only bodies of these types are kept, and only when their bytes
# do not look like a picture or a video whatever the label says.
TEXT_TYPES = ("text/html", "text/css", "application/javascript", "text/javascript", "application/json",
              "application/xhtml+xml", "application/x-javascript")  # fmt: skip
MEDIA_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"\x1aE\xdf\xa3", b"BM", b"\x00\x00\x00")
DATA_URI = re.compile(r"data:(?!text/)[\w.+-]+/[\w.+-]+(?:;[\w=.+-]+)*,[A-Za-z0-9+/=%_.~-]{64,}")


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="microseconds") if when else None


def clock() -> dict:
    """How far the capture's times can be trusted: Berkeley Protocol asks for a synchronised clock."""
    synced = None
    if Path("/run/systemd/timesync/synchronized").exists():
        synced = True
    return {"source": "system clock (UTC)", "ntp_synchronized": synced}


def withheld(capture: Capture) -> Capture:
    """A copy without any image or video bytes (and without the screenshot and MHTML that show them)."""
    bare = copy.copy(capture)
    bare.exchanges = [copy.copy(e) for e in capture.exchanges]
    for exchange in bare.exchanges:
        if exchange.body is not None and not _plainly_text(exchange):
            exchange.body, exchange.complete, exchange.incomplete_reason = None, False, WITHHELD
    bare.media = [copy.copy(m) for m in capture.media]
    for item in bare.media:
        item.body = None
    bare.screenshot = bare.mhtml = None
    bare.dom = DATA_URI.sub("data:withheld", bare.dom)
    bare.frame_doms = {url: DATA_URI.sub("data:withheld", dom) for url, dom in capture.frame_doms.items()}
    return bare


def _plainly_text(exchange) -> bool:
    mime = exchange.mime_type.lower().split(";")[0].strip()
    body = exchange.body or b""
    return exchange.route != "page" and mime in TEXT_TYPES and not body.lstrip()[:4].startswith(MEDIA_MAGIC)


def files_of(capture: Capture, *, software: str, operator: str, withhold_media: bool) -> dict[str, bytes]:
    kept = withheld(capture) if withhold_media else capture
    archive = warc.write_warc(kept, software=software, operator=operator)
    files = {
        "capture.warc.gz": archive,
        "capture.wacz": wacz.build_wacz(
            "capture.warc.gz", archive, url=capture.url, title=capture.title, ts=capture.started_at, software=software
        ),
        "dom.html": capture.dom.encode("utf-8"),
    }
    for number, dom in enumerate(capture.frame_doms.values(), 1):
        files[f"frame-{number:02d}.html"] = dom.encode("utf-8")
    if kept.screenshot:
        files["screenshot.png"] = kept.screenshot
    if kept.mhtml:
        files["page.mhtml"] = kept.mhtml
    for number, item in enumerate(kept.media, 1):
        if item.source in ("hls", "dash") and item.body:
            files[media_name(number, item)] = item.body
    return files


def media_name(number: int, item) -> str:
    extension = mimetypes.guess_extension(item.mime_type or "") or ".bin"
    return f"media/{number:02d}-{item.sha256[:12]}{extension}"


def manifest_of(
    capture: Capture,
    *,
    bundle_id: str,
    case: dict | None,
    reason: str,
    collector: str,
    software: str,
    withhold_media: bool,
) -> dict:
    return {
        "bundle": bundle_id,
        "case": case,
        "source": {"url": capture.url, "final_url": capture.final_url, "title": capture.title, "reason": reason},
        "time": {"started_at": iso(capture.started_at), "finished_at": iso(capture.finished_at), "clock": clock()},
        "collector": {
            "by": collector,
            "host": socket.gethostname(),
            "software": software,
            "system": f"{platform.system()} {platform.release()}",
            "pid": os.getpid(),
            **capture.environment,
        },
        "outcome": capture.outcome,
        "errors": capture.errors,
        "popups": capture.popups,
        "media_withheld": withhold_media,
        "network": [_exchange(e) for e in capture.exchanges],
        "media": [_medium(number, m, withhold_media) for number, m in enumerate(capture.media, 1)],
        "custody": [
            {
                "at": iso(capture.finished_at or capture.started_at),
                "by": collector,
                "action": "captured, hashed and sealed",
            }
        ],
    }


def _exchange(e) -> dict:
    return {
        "id": e.id,
        "route": e.route,
        "url": e.url,
        "final_url": e.final_url or e.url,
        "method": e.method,
        "status": e.status,
        "mime_type": e.mime_type,
        "size": e.size,
        "sha256": e.sha256 or None,
        "complete": e.complete,
        "incomplete_reason": e.incomplete_reason or None,
        "error": e.error or None,
        "redirect_chain": e.redirect_chain,
        "remote_ip": e.remote_ip or None,
        "remote_port": e.remote_port,
        "resource_type": e.resource_type,
        "frame_url": e.frame_url or None,
        "started_at": iso(e.started_at),
        "finished_at": iso(e.finished_at),
    }


def _medium(number: int, m, withheld: bool) -> dict:
    joined = m.source in ("hls", "dash") and m.body and not withheld
    return {
        "kind": m.kind,
        "url": m.url,
        "source": m.source,
        "selector": m.selector or None,
        "frame_url": m.frame_url or None,
        "box": list(m.box) if m.box else None,
        "mime_type": m.mime_type,
        "sha256": m.sha256 or None,
        "size": len(m.body) if m.body is not None else None,
        "complete": m.complete,
        "incomplete_reason": m.incomplete_reason or None,
        "exchanges": m.exchange_ids,
        "file": media_name(number, m) if joined else None,
    }
