"""PDQ hashes as Kesu writes them, and video frame hashes compared (video.py makes them from frames).

A frame hash is PDQ with its time, as in Meta's vPDQ.
``to_vpdq_lines``/``from_vpdq_lines`` exchange hashes in vPDQ's text format
and ``vpdq_similarity`` is vPDQ's whole-video rule.

``match_segments`` goes further than vPDQ's bag of frames: it finds *where*
an excerpt of the reference sits in the query, by voting on the time offset
between matching frames and keeping runs of frames that agree on it.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..lib.errors import UserError

MIN_QUALITY = 50  # PDQ's own advice: below this a frame is too flat to match on (black, blurred, one colour)
VPDQ_DISTANCE = 31  # vPDQ's frame match distance (ThreatExchange default), inclusive
VPDQ_MATCH_PERCENT = 80.0
_MAX_ROUNDS = 200  # offsets tried by match_segments


def bits_to_hex(bits) -> str:
    """A PDQ hash as 64 hex digits, the way the bank, vPDQ and ThreatExchange write it."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


@dataclass(frozen=True)
class FrameHash:
    t: float
    pdq_hex: str  # 64 hex digits, as bits_to_hex writes it
    quality: int  # 0-100; below MIN_QUALITY the frame is kept but not matched on
    frame_number: int = -1

    @property
    def usable(self) -> bool:
        return self.quality >= MIN_QUALITY


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
