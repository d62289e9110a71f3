"""Video frames: decode, hash with PDQ, and find which part of one video is in another.

Decoding reads the bytes from memory (a victim's video is never written to
disk), samples about ``fps`` frames per second of *media* time (by each
frame's timestamp, so variable frame rates come out right) and scales them
down. Empty, unreadable, still-image and oversized (pixels) files are refused
with a one-line :class:`UserError` before any frame is decoded; the frame cap
and the wall-clock budget stop decoding and flag the result, as damaged or
cut-off files are flagged with what could be decoded.

Frame hashes are PDQ, as in Meta's vPDQ: at the video's own size Kesu's
hashes equal ``vpdq.computeHash``'s bit for bit (same FFmpeg decoder, same
colour conversion, same PDQ); scaled down they can differ by a few bits
because PyAV's FFmpeg scaler is not the one vpdq links against.
``to_vpdq_lines``/``from_vpdq_lines`` exchange hashes in vPDQ's text format
and ``vpdq_similarity`` is vPDQ's whole-video rule.

``match_segments`` goes further than vPDQ's bag of frames: it finds *where*
an excerpt of the reference sits in the query, by voting on the time offset
between matching frames and keeping runs of frames that agree on it.
"""

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO

import av
import numpy as np
import pdqhash
from av.video.reformatter import Interpolation, VideoReformatter

from ..lib.errors import UserError
from .signals import bits_to_hex

MIN_QUALITY = 50  # PDQ's own advice: below this a frame is too flat to match on (black, blurred, one colour)
VPDQ_DISTANCE = 31  # vPDQ's frame match distance (ThreatExchange default), inclusive
VPDQ_MATCH_PERCENT = 80.0

DEFAULT_MAX_FRAMES = 4 * 3600  # sampled frames: four hours at 1 fps
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_MAX_PIXELS = 4096 * 2304  # a bit over 4K UHD

_MAX_DECODE_ERRORS = 500  # bad packets in a row before a damaged stream is given up
_MAX_ROUNDS = 200  # offsets tried by match_segments
_TIME_EPSILON = 1e-3  # timestamps are rationals; this absorbs rounding when comparing to the sampling grid


# ---------------------------------------------------------------- decoding


@dataclass(frozen=True, kw_only=True)
class VideoMeta:
    duration: float | None  # seconds, as the container declares it
    width: int
    height: int
    codec: str
    truncated: bool = False  # data damaged or cut off: what follows the damage is missing
    timed_out: bool = False  # the wall-clock budget ran out before the end
    capped: bool = False  # max_frames was reached before the end

    @property
    def complete(self) -> bool:
        return not (self.truncated or self.timed_out or self.capped)


@dataclass(frozen=True)
class Frame:
    t: float  # seconds from the start of the video stream
    index: int  # decoded frame number (vPDQ's frame_number); -1 when only keyframes were decoded
    rgb: np.ndarray  # height x width x 3, uint8


@dataclass(frozen=True, kw_only=True)
class VideoFrames(VideoMeta):
    frames: tuple[Frame, ...]


@dataclass(frozen=True)
class FrameHash:
    t: float
    pdq_hex: str  # 64 hex digits, as kesu.matching.signals and vPDQ write PDQ
    quality: int  # 0-100; below MIN_QUALITY the frame is kept but not matched on
    frame_number: int = -1

    @property
    def usable(self) -> bool:
        return self.quality >= MIN_QUALITY


@dataclass(frozen=True, kw_only=True)
class VideoHashes(VideoMeta):
    hashes: tuple[FrameHash, ...]


@dataclass(frozen=True)
class _Limits:
    fps: float
    max_side: int | None
    max_frames: int
    max_pixels: int
    deadline: float
    keyframes: bool | None


@dataclass
class _Progress:
    """What happened while decoding; becomes the flags of the result."""

    count: int = 0
    end: float = 0.0  # end time of the last video packet seen, seconds
    truncated: bool = False
    timed_out: bool = False
    capped: bool = False


def decode_frames(data: bytes, **limits) -> VideoFrames:
    """Sample about ``fps`` frames a second, scaled so the longer side is at most ``max_side``
    (``None``: the video's own size, which is what vPDQ hashes).

    Keyword limits (see :func:`_limits` for the defaults): ``max_frames`` caps the sampled
    frames (the result is then flagged ``capped``); ``max_seconds`` is a wall-clock budget
    (flagged ``timed_out``); ``max_pixels`` refuses huge frames. ``keyframes``: True
    decodes only self-contained (intra) frames, much faster but only as dense as the
    encoder placed them; None takes that path when they come at least ``fps`` a second.
    Holds every sampled frame in memory (~440 kB each at 512 px): to hash long videos
    use :func:`hash_video`, which keeps none.
    """
    frames: list[Frame] = []
    return VideoFrames(**_decode(data, _limits(**limits), frames.append), frames=tuple(frames))


def hash_video(data: bytes, **limits) -> VideoHashes:
    """:func:`decode_frames` then :func:`hash_frames`, without keeping the pixels (same limits)."""
    hashes: list[FrameHash] = []
    meta = _decode(data, _limits(**limits), lambda frame: hashes.append(hash_frame(frame)))
    return VideoHashes(**meta, hashes=tuple(hashes))


def _limits(
    *,
    fps: float = 1.0,
    max_side: int | None = 512,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    keyframes: bool | None = False,
) -> _Limits:
    if fps <= 0 or max_frames < 1 or (max_side is not None and max_side < 8):
        raise ValueError("fps must be > 0, max_frames >= 1 and max_side >= 8")
    return _Limits(fps, max_side, max_frames, max_pixels, time.monotonic() + max_seconds, keyframes)


def _decode(data: bytes, limits: _Limits, emit: Callable[[Frame], None]) -> dict:
    """VideoMeta's fields; frames go to ``emit`` as they are decoded."""
    if not data:
        raise UserError("video file is empty")
    with _open(data, limits) as container:
        stream = _video_stream(container)
        meta = _check_declared(container, stream, limits)
        keyframes = limits.keyframes
        if keyframes is None:
            keyframes = _keyframes_are_dense(container, stream, limits.fps)
        progress = _sample(container, stream, limits, keyframes, emit)
    if progress.count == 0:
        if progress.timed_out:
            raise UserError("video took too long to decode; nothing was read in time")
        raise UserError("video is damaged: no frame could be decoded")
    return meta | {"truncated": progress.truncated, "timed_out": progress.timed_out, "capped": progress.capped}


def _open(data: bytes, limits: _Limits) -> av.container.InputContainer:
    # The timeout makes FFmpeg's own read loops give up at the deadline too (a safety net:
    # BytesIO reads end at the end of the data, so probing garbage terminates anyway).
    budget = max(0.0, limits.deadline - time.monotonic())
    try:
        return av.open(BytesIO(data), "r", timeout=(budget, budget))
    except av.error.ExitError:
        raise UserError("video took too long to open") from None
    except (av.error.FFmpegError, OSError, ValueError):
        from .media import _video_mime  # only on failure: media pulls in Django settings

        if _video_mime(data):
            raise UserError("video is damaged or truncated: its container cannot be read") from None
        raise UserError("not a video Kesu can read") from None


def _video_stream(container) -> av.video.stream.VideoStream:
    # FFmpeg opens PNG, JPEG, WebP... as one-frame "videos" (demuxers image2, png_pipe, jpeg_pipe...).
    name = container.format.name
    if name == "image2" or name.endswith("_pipe"):
        raise UserError("this is a still image, not a video")
    if not container.streams.video:
        raise UserError("file has no video track")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # frame + slice threads: decoding is the slow part
    return stream


def _check_declared(container, stream, limits: _Limits) -> dict:
    """Refuse before decoding anything when the header already says the frames are too big."""
    ctx = stream.codec_context
    width, height = ctx.width, ctx.height
    if width * height > limits.max_pixels:
        raise UserError(f"video frames are too large ({width}x{height}; limit {limits.max_pixels} pixels)")
    # Should later frames claim more pixels than the header, FFmpeg refuses to decode them.
    ctx.options = {**ctx.options, "max_pixels": str(limits.max_pixels)}
    return {"duration": _duration(container, stream), "width": width, "height": height, "codec": ctx.name}


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _keyframes_are_dense(container, stream, fps: float, probe_seconds: float = 30.0) -> bool:
    """Whether sync frames come at least every 1/fps seconds, judged from the first packets.

    Demuxing without decoding is cheap; the container is rewound afterwards."""
    times = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * stream.time_base)
            if packet.is_keyframe:
                times.append(t)
            if t > probe_seconds:
                break
        container.seek(0, stream=stream)  # packets in stream time base: 0 is the start
    except av.error.FFmpegError:
        return False
    gaps = np.diff(sorted(times))
    return len(gaps) >= 2 and float(gaps.max()) <= 1.0 / fps + _TIME_EPSILON


def _sample(container, stream, limits: _Limits, keyframes: bool, emit: Callable[[Frame], None]) -> _Progress:
    if keyframes:
        # Intra frames decode without their neighbours; most frames are then skipped undecoded.
        stream.codec_context.skip_frame = "NONINTRA"
    progress = _Progress()
    scaler = VideoReformatter()  # reused: rebuilding FFmpeg's scaler for every frame costs ~5x
    next_t = 0.0
    for index, t, frame in _decoded(container, stream, limits, progress):
        if t + _TIME_EPSILON < next_t:
            continue
        emit(Frame(t, -1 if keyframes else index, _rgb(scaler, frame, limits)))
        progress.count += 1
        # Next point on the fps grid after t: gaps in variable-rate video skip grid points, not drift.
        next_t = (math.floor(t * limits.fps + _TIME_EPSILON) + 1) / limits.fps
        if progress.count >= limits.max_frames:
            progress.capped = True
            break
    _flag_short(container, stream, progress)
    return progress


def _decoded(container, stream, limits: _Limits, progress: _Progress) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """(frame number, seconds from stream start, frame) in presentation order, within the limits.

    Damage is skipped over (the decoder resynchronises at the next intact frame) and flagged."""
    start = stream.start_time
    index, errors, last_t = 0, 0, 0.0
    step = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
    for packet in _packets(container, stream, limits, progress):
        if packet.pts is not None and packet.size:
            packet_end = (packet.pts - (start or 0) + (packet.duration or 0)) * stream.time_base
            progress.end = max(progress.end, float(packet_end))
        try:
            frames = packet.decode()  # the final empty packet flushes the decoder
            errors = 0
        except av.error.FFmpegError:
            progress.truncated = True
            errors += 1
            if errors > _MAX_DECODE_ERRORS:
                return
            continue
        for frame in frames:
            if frame.width * frame.height > limits.max_pixels:
                raise UserError(f"video frames are too large ({frame.width}x{frame.height})")
            if start is None:
                start = frame.pts or 0
            last_t = float((frame.pts - start) * stream.time_base) if frame.pts is not None else last_t + step
            yield index, max(0.0, last_t), frame
            index += 1


def _packets(container, stream, limits: _Limits, progress: _Progress) -> Iterator[av.Packet]:
    """The video stream's packets until the end, the deadline, or data the demuxer cannot get past."""
    packets = container.demux(stream)
    while time.monotonic() <= limits.deadline:
        try:
            yield next(packets)
        except StopIteration:
            return
        except av.error.ExitError:  # FFmpeg's read was interrupted at the deadline
            break
        except av.error.FFmpegError:
            progress.truncated = True
            return
    progress.timed_out = True


def _flag_short(container, stream, progress: _Progress) -> None:
    """A video whose packets end well before its declared length was cut off (a partial upload).

    Some containers (Matroska) declare only the file's length, which may include a longer
    sound track: hence the margin."""
    declared = _duration(container, stream)
    if declared and not (progress.timed_out or progress.capped):
        if progress.end < declared - max(2.0, 0.05 * declared):
            progress.truncated = True


def _rgb(scaler: VideoReformatter, frame: av.VideoFrame, limits: _Limits) -> np.ndarray:
    width, height = _scaled_size(frame.width, frame.height, limits.max_side)
    # AREA, as vPDQ asks of FFmpeg: averages the pixels a target pixel covers, no ringing.
    return scaler.reformat(frame, width, height, "rgb24", interpolation=Interpolation.AREA).to_ndarray()


def _scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


# ---------------------------------------------------------------- hashing


def hash_frame(frame: Frame) -> FrameHash:
    bits, quality = pdqhash.compute(frame.rgb)
    return FrameHash(round(frame.t, 3), bits_to_hex(bits), int(quality), frame.index)


def hash_frames(frames: VideoFrames | Iterable[Frame]) -> list[FrameHash]:
    """PDQ of each frame. Frames below MIN_QUALITY stay in the list (``usable`` is False)."""
    if isinstance(frames, VideoFrames):
        frames = frames.frames
    return [hash_frame(frame) for frame in frames]


# ---------------------------------------------------------------- vPDQ interchange


def to_vpdq_lines(hashes: Iterable[FrameHash]) -> list[str]:
    """vPDQ's hash file lines, ``frame_number,quality,pdq_hex,timestamp`` (what vpdq-hash-video writes
    and match-hashes-brute reads). Unknown frame numbers are written as the line's position."""
    return [
        f"{h.frame_number if h.frame_number >= 0 else i},{h.quality},{h.pdq_hex},{h.t:.3f}"
        for i, h in enumerate(hashes)
    ]


def from_vpdq_lines(lines: Iterable[str]) -> list[FrameHash]:
    """Read vPDQ hash lines: the 4-field file format above, or ThreatExchange's compact
    ``pdq_hex,quality,timestamp``. Blank lines are skipped; a bad line is refused by number."""
    hashes = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            hashes.append(_parse_vpdq_line(line.strip(), number))
    return hashes


def _parse_vpdq_line(line: str, number: int) -> FrameHash:
    parts = line.split(",")
    try:
        if len(parts) == 4:
            frame, quality, pdq_hex, t = int(parts[0]), int(parts[1]), parts[2], float(parts[3])
        elif len(parts) == 3:
            frame, pdq_hex, quality, t = -1, parts[0], int(parts[1]), float(parts[2])
        else:
            raise ValueError
        bytes.fromhex(pdq_hex)
    except ValueError:
        raise UserError(f"vPDQ line {number} is malformed") from None
    if len(pdq_hex) != 64 or not 0 <= quality <= 100 or not t >= 0:
        raise UserError(f"vPDQ line {number} is malformed")
    return FrameHash(t, pdq_hex.lower(), quality, frame)


# ---------------------------------------------------------------- distances


def _pack(hashes: list[FrameHash]) -> np.ndarray:
    """n x 4 uint64: 256 bits a row, for XOR + popcount."""
    raw = bytes.fromhex("".join(h.pdq_hex for h in hashes))
    return np.frombuffer(raw, dtype=np.uint64).reshape(-1, 4)


def _distance_chunks(a: np.ndarray, b: np.ndarray, budget: int = 1 << 24) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows x len(b) Hamming distances), in chunks of rows that keep memory bounded."""
    rows = max(1, budget // max(1, 32 * len(b)))
    for first in range(0, len(a), rows):
        xor = a[first : first + rows, None, :] ^ b[None, :, :]
        yield first, np.bitwise_count(xor).sum(axis=2, dtype=np.uint16)


def _mutual_matches(a: np.ndarray, b: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """Which rows of a match some row of b, and the other way round, in one pass."""
    found_a, found_b = np.zeros(len(a), dtype=bool), np.zeros(len(b), dtype=bool)
    for first, dist in _distance_chunks(a, b):
        close = dist <= max_distance
        found_a[first : first + len(close)] = close.any(axis=1)
        found_b |= close.any(axis=0)
    return found_a, found_b


# ---------------------------------------------------------------- vPDQ whole-video rule


@dataclass(frozen=True)
class VpdqSimilarity:
    query_percent: float  # of the query's distinct usable frames, how many match some reference frame
    reference_percent: float  # and the other way round
    threshold: float = VPDQ_MATCH_PERCENT

    @property
    def matched(self) -> bool:
        return self.query_percent >= self.threshold and self.reference_percent >= self.threshold


def vpdq_similarity(
    query: Iterable[FrameHash],
    reference: Iterable[FrameHash],
    *,
    max_distance: int = VPDQ_DISTANCE,
    threshold: float = VPDQ_MATCH_PERCENT,
) -> VpdqSimilarity:
    """vPDQ's comparison (ThreatExchange's brute matcher): frames as a bag, distinct hashes,
    quality >= 50, distance <= 31. Order and timestamps play no part."""
    q, r = _distinct_usable(query), _distinct_usable(reference)
    if not q or not r:
        return VpdqSimilarity(0.0, 0.0, threshold)
    q_found, r_found = _mutual_matches(_pack(q), _pack(r), max_distance)
    return VpdqSimilarity(100.0 * float(q_found.mean()), 100.0 * float(r_found.mean()), threshold)


def _distinct_usable(hashes: Iterable[FrameHash]) -> list[FrameHash]:
    seen: dict[str, FrameHash] = {}
    for h in hashes:
        if h.usable:
            seen.setdefault(h.pdq_hex, h)
    return list(seen.values())


# ---------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentMatch:
    query_start: float  # seconds in the query where the matching part starts
    query_end: float
    ref_start: float  # and where that part is in the reference
    ref_end: float
    matched_frames: int  # query frames matched at this offset
    query_frames_in_range: int  # usable query frames between query_start and query_end
    mean_distance: float
    min_distance: int
    offset: float  # ref_t - query_t: where the query's clock sits on the reference's

    @property
    def coverage(self) -> float:
        return self.matched_frames / self.query_frames_in_range


@dataclass
class _Pairs:
    """Candidate frame matches: query index, reference index, distance, offset, vote weight."""

    qi: np.ndarray
    rj: np.ndarray
    dist: np.ndarray
    offset: np.ndarray
    weight: np.ndarray

    def keep(self, mask: np.ndarray) -> "_Pairs":
        return _Pairs(self.qi[mask], self.rj[mask], self.dist[mask], self.offset[mask], self.weight[mask])


def match_segments(
    query: Iterable[FrameHash],
    reference: Iterable[FrameHash],
    *,
    max_distance: int = VPDQ_DISTANCE,
    min_frames: int = 3,
    max_gap: float = 4.0,
    offset_tolerance: float = 1.5,
    max_segments: int = 20,
) -> list[SegmentMatch]:
    """Parts of ``query`` that are excerpts of ``reference`` played at the same speed.

    Every usable query frame is compared with every usable reference frame. Matching pairs vote
    for their time offset (ref_t - query_t); an excerpt shows as many pairs agreeing on one offset
    within ``offset_tolerance`` (sampling jitter: frames a second apart are picked at different
    phases in the two videos). For the strongest offset, runs of matched query frames with gaps
    up to ``max_gap`` seconds and at least ``min_frames`` frames become segments; their query
    frames are then taken out and the next offset is tried. Flat frames (quality < 50) match
    everything and are left out; frames that match many reference frames vote with less weight.
    Results are ordered by query time.
    """
    q = [h for h in query if h.usable]
    r = [h for h in reference if h.usable]
    if not q or not r:
        return []
    q_t = np.array([h.t for h in q])
    r_t = np.array([h.t for h in r])
    pairs = _candidate_pairs(_pack(q), _pack(r), q_t, r_t, max_distance)
    segments: list[SegmentMatch] = []
    for _ in range(_MAX_ROUNDS):  # each round removes at least the peak's pairs; this only bounds noise
        if len(pairs.qi) < min_frames or len(segments) >= max_segments:
            break
        members = _members(pairs, _peak_offset(pairs, offset_tolerance), offset_tolerance)
        found = _runs(pairs.keep(members), q_t, r_t, min_frames, max_gap)
        segments += found
        claimed = np.zeros(len(pairs.qi), dtype=bool)
        for seg in found:
            claimed |= (q_t[pairs.qi] >= seg.query_start) & (q_t[pairs.qi] <= seg.query_end)
        pairs = pairs.keep(~(members | claimed))
    return [_with_range_count(s, q_t) for s in sorted(segments, key=lambda s: s.query_start)]


def _candidate_pairs(qa, ra, q_t, r_t, max_distance: int, per_frame: int = 64) -> _Pairs:
    qi, rj, dist = [], [], []
    for first, d in _distance_chunks(qa, ra):
        rows, cols = np.nonzero(d <= max_distance)
        qi.append(rows + first)
        rj.append(cols)
        dist.append(d[rows, cols])
    qi, rj, dist = np.concatenate(qi), np.concatenate(rj), np.concatenate(dist)
    qi, rj, dist = _nearest_per_frame(qi, rj, dist, per_frame)
    # A query frame matching k reference frames (a still shot, a title card) spreads one vote over k offsets.
    counts = np.bincount(qi, minlength=len(q_t))
    weight = 1.0 / counts[qi] if len(qi) else np.zeros(0)
    return _Pairs(qi, rj, dist, r_t[rj] - q_t[qi], weight)


def _nearest_per_frame(qi, rj, dist, limit: int):
    """At most ``limit`` closest reference frames per query frame: bounds work on still footage."""
    order = np.lexsort((dist, qi))
    qi, rj, dist = qi[order], rj[order], dist[order]
    starts = np.searchsorted(qi, qi, side="left")
    keep = np.arange(len(qi)) - starts < limit
    return qi[keep], rj[keep], dist[keep]


def _peak_offset(pairs: _Pairs, tolerance: float, bin_width: float = 0.25) -> float:
    """The offset with the most vote weight within +-tolerance, refined to the members' weighted median."""
    low = pairs.offset.min()
    bins = ((pairs.offset - low) / bin_width).astype(np.int64)
    hist = np.bincount(bins, weights=pairs.weight)
    half = int(tolerance / bin_width)
    # Sum of each bin's +-tolerance window ("full" convolution, trimmed: "same" misaligns short histograms).
    smoothed = np.convolve(hist, np.ones(2 * half + 1))[half : half + len(hist)]
    peak = low + (int(smoothed.argmax()) + 0.5) * bin_width
    near = np.abs(pairs.offset - peak) <= tolerance + bin_width  # the whole window, never empty
    return _weighted_median(pairs.offset[near], pairs.weight[near])


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _members(pairs: _Pairs, offset: float, tolerance: float) -> np.ndarray:
    return np.abs(pairs.offset - offset) <= tolerance


def _runs(pairs: _Pairs, q_t, r_t, min_frames: int, max_gap: float) -> list[SegmentMatch]:
    """Split one offset's matches into runs along query time; each long enough run is a segment."""
    best = _best_pair_per_query_frame(pairs)
    order = np.argsort(q_t[best.qi])
    best = best.keep(order)
    times = q_t[best.qi]
    breaks = np.nonzero(np.diff(times) > max_gap)[0] + 1
    segments = []
    for run in np.split(np.arange(len(times)), breaks):
        if len(run) >= min_frames:
            segments.append(_segment(best.keep(run), q_t, r_t))
    return segments


def _best_pair_per_query_frame(pairs: _Pairs) -> _Pairs:
    order = np.lexsort((pairs.dist, pairs.qi))
    sorted_pairs = pairs.keep(order)
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_pairs.qi[1:] != sorted_pairs.qi[:-1]
    return sorted_pairs.keep(first)


def _segment(run: _Pairs, q_t, r_t) -> SegmentMatch:
    qs, rs = q_t[run.qi], r_t[run.rj]
    return SegmentMatch(
        query_start=float(qs.min()),
        query_end=float(qs.max()),
        ref_start=float(rs.min()),
        ref_end=float(rs.max()),
        matched_frames=len(run.qi),
        query_frames_in_range=0,  # filled in once all segments are known
        mean_distance=round(float(run.dist.mean()), 2),
        min_distance=int(run.dist.min()),
        offset=round(float(np.median(run.offset)), 3),
    )


def _with_range_count(segment: SegmentMatch, q_t: np.ndarray) -> SegmentMatch:
    in_range = int(((q_t >= segment.query_start) & (q_t <= segment.query_end)).sum())
    return SegmentMatch(**{**segment.__dict__, "query_frames_in_range": in_range})
