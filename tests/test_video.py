"""Video decoding, frame hashing, vPDQ compatibility and segment matching, on generated videos.

The reference is 60 s of pan/zoom over public-domain photos (tests/videos.py); the
query is reference 23..33 s after 3 s of unrelated footage, re-encoded smaller, at
another frame rate and a much worse quality, as a re-upload would be.
"""

import threading
import time

import numpy as np
import pytest
import videos

from kesu.lib.errors import UserError
from kesu.matching import framehash, video
from kesu.matching.framehash import FrameHash


@pytest.fixture(scope="session")
def reference() -> bytes:
    return videos.reference_video()


@pytest.fixture(scope="session")
def reference_hashes(reference) -> video.VideoHashes:
    return video.hash_video(reference)


@pytest.fixture(scope="session")
def small_video() -> bytes:
    """20 s, 320x180, keyframe every second."""
    return videos.encode([videos.Slideshow(videos.REFERENCE_PHOTOS, 20.0)], size=(320, 180), gop=25)


def noise(size: int, seed: int = 0) -> bytes:
    """Random bytes, the same every run (so a failure can be replayed)."""
    return np.random.default_rng(seed).bytes(size)


def finishes(fn, seconds: float = 20.0):
    """Run fn in a thread; fail if it has not returned in time (a hang), else return/raise its outcome."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed over to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# ---------------------------------------------------------------- decoding


def test_decode_samples_one_frame_a_second_scaled_down(reference):
    frames = video.decode_frames(reference, max_frames=100)
    assert (frames.width, frames.height, frames.codec) == (640, 360, "h264")
    assert frames.duration == pytest.approx(60.0, abs=0.1)
    assert frames.complete
    assert [f.t for f in frames.frames] == pytest.approx(list(range(60)), abs=0.01)
    assert [f.index for f in frames.frames] == list(range(0, 1500, 25))
    assert {f.rgb.shape for f in frames.frames} == {(288, 512, 3)}
    assert frames.frames[0].rgb.dtype == np.uint8


def test_variable_frame_rate_is_sampled_by_timestamp():
    times = [0.0, 0.1, 0.15, 0.9, 1.0, 1.05, 2.5, 2.6, 4.0, 4.02, 4.5, 6.99, 7.0]
    frames = video.decode_frames(videos.variable_rate_video(times))
    # The first frame at or after each whole second, each frame once: gaps skip seconds, they do not shift them.
    assert [f.t for f in frames.frames] == pytest.approx([0.0, 1.0, 2.5, 4.0, 6.99, 7.0], abs=0.002)


def test_keyframe_path_keeps_timestamps_and_hashes(small_video):
    full = video.hash_video(small_video, keyframes=False)
    fast = video.hash_video(small_video, keyframes=None)  # keyframes every second: auto takes the fast path
    assert all(h.frame_number == -1 for h in fast.hashes)
    assert [h.t for h in fast.hashes] == [h.t for h in full.hashes] == pytest.approx(list(range(20)))
    assert [h.pdq_hex for h in fast.hashes] == [h.pdq_hex for h in full.hashes]


def test_low_quality_frames_are_kept_but_flagged():
    black = video.Frame(0.0, 0, np.zeros((90, 160, 3), np.uint8))
    busy = video.Frame(1.0, 25, np.random.default_rng(0).integers(0, 255, (90, 160, 3), np.uint8))
    hashes = video.hash_frames([black, busy])
    assert [(h.t, h.frame_number, h.usable) for h in hashes] == [(0.0, 0, False), (1.0, 25, True)]
    assert all(len(h.pdq_hex) == 64 for h in hashes)
    flat = [FrameHash(float(t), hashes[0].pdq_hex, hashes[0].quality) for t in range(10)]
    assert framehash.match_segments(flat, flat) == []


# ---------------------------------------------------------------- refusals and damage


def _png() -> bytes:
    from io import BytesIO

    from PIL import Image
    from skimage import data

    out = BytesIO()
    Image.fromarray(data.astronaut()).save(out, "PNG")
    return out.getvalue()


def _ts_garbage() -> bytes:
    """MPEG-TS sync bytes every 188 bytes around random payload: looks like a stream, is not one."""
    data = bytearray(noise(188 * 2000))
    data[::188] = b"\x47" * 2000
    return bytes(data)


@pytest.mark.parametrize(
    ("make", "limits", "message"),
    [
        (lambda ref: b"", {}, "empty"),
        (lambda ref: noise(200_000), {}, "not a video"),
        (lambda ref: ref[: len(ref) * 3 // 10], {}, "damaged or truncated"),  # MP4 index is at the end
        (lambda ref: ref[:64] + noise(300_000), {}, "damaged or truncated"),
        (lambda ref: _ts_garbage(), {}, "damaged or truncated"),
        (lambda ref: _png(), {}, "still image"),
        (lambda ref: ref, {"max_pixels": 640 * 360 - 1}, r"too large \(640x360"),
        (lambda ref: ref, {"max_seconds": 0}, "too long"),
    ],
    ids=["empty", "random", "truncated-mp4", "mp4-then-garbage", "ts-garbage", "png", "max-pixels", "no-time"],
)
def test_bad_input_is_refused_in_one_line_without_hanging(reference, make, limits, message):
    data = make(reference)
    with pytest.raises(UserError, match=message) as refused:
        finishes(lambda: video.hash_video(data, **limits))
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("container", [{"fragmented": True}, {"format": "matroska"}], ids=["fragmented-mp4", "mkv"])
def test_cut_off_stream_gives_what_decoded_flagged(container):
    whole = videos.encode([videos.Slideshow(videos.REFERENCE_PHOTOS, 20.0)], size=(320, 180), **container)
    assert video.hash_video(whole).complete
    partial = finishes(lambda: video.hash_video(whole[: len(whole) * 3 // 10]))
    assert partial.truncated and not partial.complete
    assert 1 <= len(partial.hashes) < 20


def test_damaged_middle_is_skipped_and_flagged(reference):
    damaged = bytearray(reference)
    damaged[len(damaged) * 4 // 10 : len(damaged) // 2] = noise(len(damaged) // 2 - len(damaged) * 4 // 10)
    result = finishes(lambda: video.hash_video(bytes(damaged)))
    assert result.truncated
    assert result.hashes[-1].t >= 55  # decoding resumed after the damage


def test_frame_cap_stops_and_flags(small_video):
    result = video.hash_video(small_video, max_frames=5)
    assert result.capped and not result.complete
    assert [h.t for h in result.hashes] == [0, 1, 2, 3, 4]


def test_wall_clock_budget_stops_and_flags(reference):
    start = time.monotonic()
    try:
        result = video.hash_video(reference, max_seconds=0.15)
    except UserError as refused:
        assert "too long" in str(refused)
    else:
        assert result.timed_out and 0 < len(result.hashes) < 60
    assert time.monotonic() - start < 1.0


# ---------------------------------------------------------------- segments


def test_excerpt_is_found_and_located(reference_hashes):
    query = video.hash_video(videos.query_video())
    assert query.width == 320 and query.duration == pytest.approx(13.0, abs=0.1)
    [segment] = framehash.match_segments(query.hashes, reference_hashes.hashes)
    start, end = videos.EXCERPT
    assert segment.ref_start == pytest.approx(start, abs=1.5)
    assert segment.ref_end == pytest.approx(end, abs=1.5)
    assert segment.query_start == pytest.approx(videos.PADDING, abs=1.5)
    assert segment.offset == pytest.approx(start - videos.PADDING, abs=1.0)
    assert segment.matched_frames >= 8 and segment.coverage >= 0.8
    assert segment.min_distance <= segment.mean_distance <= framehash.VPDQ_DISTANCE


def test_unrelated_video_gives_no_segment(reference_hashes):
    unrelated = video.hash_video(videos.unrelated_video())
    assert len(unrelated.hashes) == 20
    assert framehash.match_segments(unrelated.hashes, reference_hashes.hashes) == []
    assert framehash.vpdq_similarity(unrelated.hashes, reference_hashes.hashes).query_percent == 0


def test_two_excerpts_give_two_segments(reference_hashes):
    query = video.hash_video(videos.two_excerpts_video())
    first, second = framehash.match_segments(query.hashes, reference_hashes.hashes)
    # Query: reference 5..13 s at 0..8 s, 2 s unrelated, reference 40..50 s at 10..20 s.
    assert (first.query_start, first.ref_start) == pytest.approx((0, 5), abs=1.5)
    assert (first.query_end, first.ref_end) == pytest.approx((8, 13), abs=1.5)
    assert (second.query_start, second.ref_start) == pytest.approx((10, 40), abs=1.5)
    assert (second.query_end, second.ref_end) == pytest.approx((20, 50), abs=1.5)


def test_excerpt_between_sampled_frames_is_found_with_a_denser_reference(reference):
    """PDQ is sensitive to motion: at 1 frame/s on both sides an excerpt that starts half a second
    off the reference's sampling grid can miss. Hashing the reference at 4 frames/s fixes that."""
    clips = [videos.Slideshow(videos.UNRELATED_PHOTOS, 3.0, seed=3), videos.Excerpt(reference, 23.5, 33.5)]
    query = video.hash_video(videos.encode(clips, size=(320, 180), fps=15, crf=35))
    dense = video.hash_video(reference, fps=4)
    [segment] = framehash.match_segments(query.hashes, dense.hashes)
    assert (segment.query_start, segment.ref_start, segment.ref_end) == pytest.approx((3, 23.5, 33.5), abs=1.5)


def test_segment_matching_is_fast_on_two_hours_against_ten_minutes():
    rng = np.random.default_rng(7)
    reference = _random_hashes(rng, 7200)
    query = _random_hashes(rng, 600)
    # Query 100..400 s is reference 3000..3300 s with 12 of 256 bits flipped per frame.
    for i in range(100, 400):
        query[i] = FrameHash(float(i), _flip(reference[i + 2900].pdq_hex, rng, 12), 90)
    start = time.monotonic()
    [segment] = framehash.match_segments(query, reference)
    assert time.monotonic() - start < 3.0
    assert (segment.query_start, segment.query_end, segment.ref_start, segment.ref_end) == (100, 399, 3000, 3299)
    assert segment.matched_frames == 300 and segment.offset == 2900


def _random_hashes(rng, n: int) -> list[FrameHash]:
    return [FrameHash(float(t), rng.bytes(32).hex(), 90) for t in range(n)]


def _flip(pdq_hex: str, rng, bits: int) -> str:
    value = int(pdq_hex, 16)
    for bit in rng.choice(256, bits, replace=False):
        value ^= 1 << int(bit)
    return f"{value:064x}"


# ---------------------------------------------------------------- vPDQ


def test_hashes_equal_vpdq_at_the_videos_own_size(reference, tmp_path):
    import vpdq

    path = tmp_path / "reference.mp4"  # synthetic, so a file is fine; vpdq only reads files
    path.write_bytes(reference)
    theirs = vpdq.computeHash(str(path), seconds_per_hash=1.0)
    ours = video.hash_video(reference, max_side=None).hashes
    assert [(h.frame_number, h.quality, h.pdq_hex) for h in ours] == [
        (f.frame_number, f.quality, f.hex) for f in theirs
    ]
    assert [h.t for h in ours] == pytest.approx([f.timestamp for f in theirs], abs=1e-3)


def test_scaled_hashes_are_within_a_few_bits_of_vpdq(reference, reference_hashes, tmp_path):
    """Scaled down, PyAV's FFmpeg scaler and the one vpdq links differ by a grey level here and there."""
    import vpdq

    path = tmp_path / "reference.mp4"
    path.write_bytes(reference)
    theirs = vpdq.computeHash(str(path), seconds_per_hash=1.0, downsample_width=512, downsample_height=288)
    distances = [_distance(h.pdq_hex, f.hex) for h, f in zip(reference_hashes.hashes, theirs, strict=True)]
    assert max(distances) <= 8
    assert distances.count(0) >= 0.8 * len(distances)


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_vpdq_lines_round_trip_in_vpdqs_format(reference_hashes):
    lines = framehash.to_vpdq_lines(reference_hashes.hashes)
    first = reference_hashes.hashes[1]
    assert lines[1] == f"25,{first.quality},{first.pdq_hex},1.000"
    assert framehash.from_vpdq_lines(lines) == list(reference_hashes.hashes)
    compact = [f"{h.pdq_hex},{h.quality},{h.t}" for h in reference_hashes.hashes[:3]]  # ThreatExchange's form
    assert [h.pdq_hex for h in framehash.from_vpdq_lines(compact)] == [h.pdq_hex for h in reference_hashes.hashes[:3]]
    with pytest.raises(UserError, match="line 2"):
        framehash.from_vpdq_lines([lines[0], "25,100,not-a-hash,1.0"])


def test_vpdq_similarity_whole_video_rule(reference, reference_hashes):
    ref = reference_hashes.hashes
    assert framehash.vpdq_similarity(ref, ref).matched
    copy = video.hash_video(videos.encode([videos.Excerpt(reference, 0, 60)], size=(320, 180), fps=15, crf=30))
    whole = framehash.vpdq_similarity(copy.hashes, ref)
    assert whole.matched, whole
    excerpt = framehash.vpdq_similarity(video.hash_video(videos.query_video()).hashes, ref)
    # 10 of the reference's 60 s: most of the query matches, little of the reference does.
    assert excerpt.reference_percent < 30 and not excerpt.matched
