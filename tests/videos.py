"""Synthetic test videos, made by real encoders (PyAV/libx264) in memory.

Content is public domain: scikit-image's sample photos. Each scene pans and
zooms across one photo while a disc moves over it, so frames a second apart
differ and every scene looks different from the others. A reference uses
one set of photos, "unrelated" videos another, so they share no pictures.

A clip yields RGB frames for a given frame rate and size; ``encode`` turns a
list of clips into one video file (bytes). ``Excerpt`` cuts a time range out
of an encoded video by decoding it, which is how a re-upload is made: decode,
cut, scale down, re-encode at another frame rate and a worse quality.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from io import BytesIO

import av
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw

Size = tuple[int, int]  # (width, height)
ZOOM = 1.1  # per scene
PAN = 0.2  # of the room the zoom leaves, per scene
DISC_SPEED = 0.5  # radians/s

REFERENCE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "clock")
UNRELATED_PHOTOS = ("moon", "coins", "brick", "cell", "page", "grass", "text")


@cache
def photo(name: str, width: int, mirrored: bool = False) -> Image.Image:
    """The photo scaled so that a frame-shaped window of ``width`` pixels fits it; zooming then only enlarges,
    which PIL does much faster than shrinking a big photo every frame."""
    from skimage import data

    image = Image.fromarray(getattr(data, name)()).convert("RGB")
    scale = width / min(image.width, image.height * 16 / 9)
    image = image.resize((round(image.width * scale) + 1, round(image.height * scale) + 1), Image.Resampling.LANCZOS)
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else image


@dataclass(frozen=True)
class Slideshow:
    """Pan/zoom across photos with a cut every ``scene_seconds``; a disc moves over it.

    Photos repeat after one round, mirrored and panned the other way, so the
    repeat does not look like the first showing."""

    photos: tuple[str, ...]
    duration: float
    scene_seconds: float = 4.0
    seed: int = 0

    def frames(self, fps: float, size: Size) -> Iterator[av.VideoFrame]:
        # Drawn at half size (4x fewer pixels for PIL); the encoder's scaler enlarges it.
        half = (size[0] // 2, size[1] // 2)
        for i in range(round(self.duration * fps)):
            yield av.VideoFrame.from_image(self.render(i / fps, half))

    def render(self, t: float, size: Size) -> Image.Image:
        scene, u = divmod(t / self.scene_seconds, 1.0)
        rounds, index = divmod(int(scene) + self.seed, len(self.photos))
        mirrored = rounds % 2 == 1
        image = photo(self.photos[index], size[0], mirrored)
        frame = image.resize(size, Image.Resampling.BILINEAR, box=_window(image.size, size, 1.0 - u if mirrored else u))
        _draw_disc(frame, t + self.seed, size)
        return frame


def _window(photo_size: Size, size: Size, u: float) -> tuple[float, float, float, float]:
    """A crop box with the output's aspect ratio, zooming in from 1x to ZOOMx while it pans diagonally.

    Slow, like a real camera move: frames half a second apart stay within PDQ match distance,
    frames seconds apart do not."""
    pw, ph = photo_size
    aspect = size[0] / size[1]
    w = min(pw, ph * aspect) / (1.0 + (ZOOM - 1.0) * u)
    h = w / aspect
    x = (pw - w) * (0.5 + PAN * (u - 0.5))
    y = (ph - h) * (0.5 - PAN * (u - 0.5))
    return (x, y, x + w, y + h)


def _draw_disc(frame: Image.Image, t: float, size: Size) -> None:
    w, h = size
    r = h // 14
    cx = w / 2 + (w / 2 - r) * math.sin(DISC_SPEED * t)
    cy = h / 2 + (h / 2 - r) * math.cos(0.6 * DISC_SPEED * t)
    ImageDraw.Draw(frame).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(250, 220, 40), outline=(0, 0, 0), width=2)


@dataclass(frozen=True)
class Excerpt:
    """``start``..``end`` seconds of an encoded video, resampled to the new frame rate."""

    video: bytes
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def frames(self, fps: float, size: Size) -> Iterator[av.VideoFrame]:
        wanted = [self.start + i / fps for i in range(round(self.duration * fps))]
        previous = None
        for t, frame in _decoded(self.video, self.start):
            # Frame-rate conversion: each output time shows the latest source frame at or before it.
            while wanted and t > wanted[0] + 1e-6:
                wanted.pop(0)
                if previous is not None:
                    yield previous
            if not wanted:
                return
            previous = frame
        for _ in wanted:
            yield previous


def _decoded(video: bytes, start: float) -> Iterator[tuple[float, av.VideoFrame]]:
    with av.open(BytesIO(video)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(0.0, start - 1.0) / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            yield float(frame.pts * stream.time_base), frame


def encode(
    clips: list,
    *,
    size: Size = (640, 360),
    fps: int = 25,
    crf: int = 23,
    codec: str = "libx264",
    gop: int | None = None,
    format: str = "mp4",
    fragmented: bool = False,
) -> bytes:
    """Encode the clips one after another (H.264 in MP4 unless told otherwise).

    ``fragmented``: the index comes first and the media in pieces, as streamed MP4s are, so a
    cut-off file still plays up to the cut (a plain MP4 written here keeps its index at the end)."""
    out = BytesIO()
    scaler = VideoReformatter()  # one scaler context for all frames: ~5x faster than frame.reformat
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fragmented else {}
    with av.open(out, "w", format=format, options=options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        # ultrafast keeps generation quick; B-frames back on, so decoders must reorder frames as in real files.
        x264 = {"crf": str(crf), "preset": "ultrafast", "x264-params": "bframes=2"}
        stream.options = x264 if codec == "libx264" else {}
        if gop:
            stream.codec_context.gop_size = gop
        index = 0
        for clip in clips:
            for frame in clip.frames(fps, size):
                frame = scaler.reformat(frame, *size, format="yuv420p", interpolation="AREA")
                frame.pts, frame.time_base = index, Fraction(1, fps)  # the encoder's clock, not the source's
                container.mux(stream.encode(frame))
                index += 1
        container.mux(stream.encode(None))
    return out.getvalue()


def variable_rate_video(times: list[float], size: Size = (320, 180)) -> bytes:
    """Frames shown at the given times (seconds), irregularly, as phones record in low light."""
    show = Slideshow(REFERENCE_PHOTOS, max(times) + 1.0)
    scaler = VideoReformatter()
    out = BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "23", "preset": "ultrafast"}
        for t in times:
            frame = av.VideoFrame.from_image(show.render(t, size))
            frame = scaler.reformat(frame, *size, format="yuv420p")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


# The videos the tests use. Cached: the test session and the benchmark build each once.

EXCERPT = (23.0, 33.0)  # seconds of the reference in the query
PADDING = 3.0  # seconds of unrelated content before the excerpt in the query


@cache
def reference_video() -> bytes:
    """60 s, 640x360, 25 fps H.264."""
    return encode([Slideshow(REFERENCE_PHOTOS, 60.0)])


@cache
def query_video() -> bytes:
    """3 s of unrelated content, then reference 23..33 s: 320x180, 15 fps, CRF 35."""
    clips = [Slideshow(UNRELATED_PHOTOS, PADDING, seed=3), Excerpt(reference_video(), *EXCERPT)]
    return encode(clips, size=(320, 180), fps=15, crf=35)


@cache
def two_excerpts_video() -> bytes:
    """Reference 5..13 s, then 2 s unrelated, then reference 40..50 s: 320x180, 15 fps, CRF 35."""
    ref = reference_video()
    clips = [Excerpt(ref, 5.0, 13.0), Slideshow(UNRELATED_PHOTOS, 2.0, seed=5), Excerpt(ref, 40.0, 50.0)]
    return encode(clips, size=(320, 180), fps=15, crf=35)


@cache
def unrelated_video() -> bytes:
    """20 s from photos the reference never shows, with other motion: 480x270, 30 fps."""
    return encode([Slideshow(UNRELATED_PHOTOS, 20.0, scene_seconds=3.0, seed=1)], size=(480, 270), fps=30)
