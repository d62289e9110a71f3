"""Video frames: decode and hash with PDQ (framehash.py compares the hashes and finds shared segments).

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
from .framehash import FrameHash, bits_to_hex

DEFAULT_MAX_FRAMES = 4 * 3600  # sampled frames: four hours at 1 fps
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_MAX_PIXELS = 4096 * 2304  # a bit over 4K UHD

_MAX_DECODE_ERRORS = 500  # bad packets in a row before a damaged stream is given up
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
