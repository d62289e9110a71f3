"""HLS playlists and DASH manifests: which segments make up each stream.

A MediaSource video plays from a blob: URL that cannot be read, so the
evidence is the playlist plus every segment it names; joined in order they are
the video (MPEG-TS segments concatenate; fMP4 is init segment + fragments).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

HLS_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl")
DASH_TYPES = ("application/dash+xml",)


@dataclass
class Stream:
    kind: str  # "hls" or "dash"
    manifest_url: str
    label: str = ""  # representation id or variant
    bandwidth: int = 0
    init: str = ""  # initialisation segment URL, "" for MPEG-TS
    segments: list[str] = field(default_factory=list)
    encrypted: bool = False

    @property
    def urls(self) -> list[str]:
        return ([self.init] if self.init else []) + self.segments


@dataclass
class Master:
    """An HLS master playlist: variants to choose from, best first."""

    url: str
    variants: list[tuple[int, str]]


def is_hls(url: str, mime: str) -> bool:
    return mime.lower() in HLS_TYPES or url.split("?")[0].lower().endswith(".m3u8")


def is_dash(url: str, mime: str) -> bool:
    return mime.lower() in DASH_TYPES or url.split("?")[0].lower().endswith(".mpd")


def parse_hls(text: str, url: str) -> Stream | Master | None:
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        return None
    if any(line.startswith("#EXT-X-STREAM-INF") for line in lines):
        return _master(lines, url)
    stream = Stream("hls", url)
    expect_uri = False
    for line in lines:
        if line.startswith("#EXT-X-MAP"):
            uri = re.search(r'URI="([^"]+)"', line)
            stream.init = urljoin(url, uri.group(1)) if uri else ""
        elif line.startswith("#EXT-X-KEY") and "METHOD=NONE" not in line:
            stream.encrypted = True
        elif line.startswith("#EXTINF"):
            expect_uri = True
        elif not line.startswith("#") and expect_uri:
            segment = urljoin(url, line)
            # With EXT-X-BYTERANGE, segments are slices of one file: keep the file once.
            if not stream.segments or stream.segments[-1] != segment:
                stream.segments.append(segment)
            expect_uri = False
    return stream


def _master(lines: list[str], url: str) -> Master:
    variants, bandwidth = [], None
    for line in lines:
        if line.startswith("#EXT-X-STREAM-INF"):
            found = re.search(r"(?<![-A-Z])BANDWIDTH=(\d+)", line)
            bandwidth = int(found.group(1)) if found else 0
        elif not line.startswith("#") and bandwidth is not None:
            variants.append((bandwidth, urljoin(url, line)))
            bandwidth = None
    return Master(url, sorted(variants, reverse=True))


def _strip(tag: str) -> str:
    return tag.split("}", 1)[-1]


def _children(element, name: str) -> list:
    return [child for child in element if _strip(child.tag) == name]


def _seconds(duration: str) -> float:
    """ISO 8601 duration as used by MPD (PT1H2M3.5S)."""
    found = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", duration or "")
    if not found:
        return 0.0
    days, hours, minutes, seconds = (float(part or 0) for part in found.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def _fill(template: str, rep_id: str, bandwidth: int, number: int | None = None, time: int | None = None) -> str:
    def value(match):
        name, width = match.group(1), match.group(2)
        raw = {"RepresentationID": rep_id, "Bandwidth": bandwidth, "Number": number, "Time": time}.get(name)
        if raw is None:
            return match.group(0)
        return f"{int(raw):0{int(width[2:-1])}d}" if width and name != "RepresentationID" else str(raw)

    return re.sub(r"\$(RepresentationID|Bandwidth|Number|Time)(%0\d+d)?\$", value, template).replace("$$", "$")


def parse_dash(text: str, url: str, max_segments: int = 2000) -> list[Stream] | None:
    """Each Representation as a Stream (SegmentTemplate, SegmentList or a single BaseURL); None if unreadable."""
    try:
        return _parse_dash(ET.fromstring(text), url, max_segments)
    except (ET.ParseError, ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None


def _parse_dash(root, url: str, max_segments: int) -> list[Stream]:
    total = _seconds(root.get("mediaPresentationDuration", ""))
    streams = []
    for period in _children(root, "Period"):
        base = _base(period, _base(root, url))
        length = _seconds(period.get("duration", "")) or total
        for adaptation in _children(period, "AdaptationSet"):
            adaptation_base = _base(adaptation, base)
            for rep in _children(adaptation, "Representation"):
                template = _template(rep, adaptation, period)
                stream = Stream("dash", url, rep.get("id", ""), int(rep.get("bandwidth", "0") or 0))
                rep_base = _base(rep, adaptation_base)
                if template is not None:
                    _from_template(stream, template, rep_base, length, max_segments)
                elif _children(rep, "SegmentList"):
                    _from_list(stream, _children(rep, "SegmentList")[0], rep_base)
                else:
                    stream.segments = [rep_base]
                stream.encrypted = bool(
                    _children(adaptation, "ContentProtection") or _children(rep, "ContentProtection")
                )
                streams.append(stream)
    return streams


def _template(*levels):
    """The SegmentTemplate in force: attributes of the innermost level win over outer ones."""
    found = [t for level in levels for t in _children(level, "SegmentTemplate")]
    if not found:
        return None
    merged = ET.Element("SegmentTemplate")
    for template in reversed(found):
        merged.attrib.update(template.attrib)
    timeline = next((_children(t, "SegmentTimeline") for t in found if _children(t, "SegmentTimeline")), [])
    merged.extend(timeline)
    return merged


def _base(element, parent: str) -> str:
    found = _children(element, "BaseURL")
    return urljoin(parent, found[0].text.strip()) if found and found[0].text else parent


def _from_template(stream: Stream, template, base: str, length: float, max_segments: int) -> None:
    rep_id, bandwidth = stream.label, stream.bandwidth
    if template.get("initialization"):
        stream.init = urljoin(base, _fill(template.get("initialization"), rep_id, bandwidth))
    media = template.get("media", "")
    number = int(template.get("startNumber", "1"))
    timeline = _children(template, "SegmentTimeline")
    if timeline:
        time, end = 0, length * int(template.get("timescale", "1"))
        for s in _children(timeline[0], "S"):
            time, step, repeat = int(s.get("t", time)), int(s.get("d")), int(s.get("r", "0"))
            if repeat < 0:  # "until the end of the period"
                repeat = max(0, int(-(-(end - time) // step)) - 1) if end else 0
            for _ in range(repeat + 1):
                stream.segments.append(urljoin(base, _fill(media, rep_id, bandwidth, number, time)))
                time += step
                number += 1
                if len(stream.segments) >= max_segments:
                    return
        return
    duration = float(template.get("duration", "0")) / int(template.get("timescale", "1"))
    count = min(max_segments, int(-(-length // duration))) if duration and length else 0
    stream.segments = [urljoin(base, _fill(media, rep_id, bandwidth, number + i)) for i in range(count)]


def _from_list(stream: Stream, segment_list, base: str) -> None:
    init = _children(segment_list, "Initialization")
    if init and init[0].get("sourceURL"):
        stream.init = urljoin(base, init[0].get("sourceURL"))
    stream.segments = [urljoin(base, s.get("media")) for s in _children(segment_list, "SegmentURL") if s.get("media")]
