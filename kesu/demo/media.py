"""Media for the demo web: public-domain photos, re-encoded the way copies spread, and unrelated fillers.

Everything is made here, deterministically, by real encoders (Pillow, PyAV/libx264, ffmpeg for
HLS) from photos that ship inside installed packages: scikit-image's sample photos and
matplotlib's grace_hopper.jpg. Nothing is downloaded.

Videos are slideshows: each scene pans and zooms across one photo while a disc moves over it,
so frames a second apart differ and every scene looks different from the others. A clip yields
frames for a frame rate and size; ``encode`` turns clips into one video file. ``Excerpt`` cuts a
time range out of an encoded video by decoding it, which is how a re-upload is made: decode,
cut, scale down, re-encode at another frame rate and a worse quality. The tests' videos
(tests/videos.py) are built from the same pieces.

``MediaStore(directory)`` builds the served variants once into a directory; ``filler(n)`` draws
the n-th unrelated picture on demand.
"""

import math
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw, ImageFont

Size = tuple[int, int]  # (width, height)
ZOOM = 1.1  # per scene
PAN = 0.2  # of the room the zoom leaves, per scene
DISC_SPEED = 0.5  # radians/s

REFERENCE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "clock")
UNRELATED_PHOTOS = ("moon", "coins", "brick", "cell", "page", "grass", "text")
FFMPEG = "/usr/bin/ffmpeg"

CLIP_SECONDS = 16.0
EXCERPT = (4.0, 10.0)  # seconds of the reference clip re-uploaded
EXCERPT_SIZE = (426, 240)
EXCERPT_FPS = 15  # a 2 s keyframe interval at this rate lets the HLS muxer cut 2 s segments
FILLER_SIZE = (640, 480)


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


# The demo case's references and the copies the demo web serves ----------------------------------


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS)


def _skimage_photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)())


def grace_hopper_photo() -> Image.Image:
    import matplotlib

    return Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")


def reference_clip() -> bytes:
    """The demo case's reference video: 16 s, 640x360, 25 fps H.264 over the reference photos."""
    return encode([Slideshow(REFERENCE_PHOTOS, CLIP_SECONDS)])


def astronaut_variant() -> bytes:
    """The astronaut re-saved as a site would: 60 % size, JPEG quality 75."""
    return _jpeg(_scaled(_skimage_photo("astronaut"), 0.6), 75)


def coffee_cropped() -> bytes:
    """Coffee with 15 % cut from the left and 10 % from the top, JPEG quality 85.

    A crop moves every block of a whole-image hash (PDQ misses it); local features still match."""
    image = _skimage_photo("coffee")
    box = (round(image.width * 0.15), round(image.height * 0.10), image.width, image.height)
    return _jpeg(image.crop(box), 85)


def grace_hopper_variant() -> bytes:
    """Grace Hopper's portrait at 80 % size, JPEG quality 80."""
    return _jpeg(_scaled(grace_hopper_photo(), 0.8), 80)


def clip_excerpt(reference: bytes) -> bytes:
    """Seconds 4-10 of the reference re-encoded at 426x240, 15 fps, CRF 32, a keyframe every 2 s."""
    return encode([Excerpt(reference, *EXCERPT)], size=EXCERPT_SIZE, fps=EXCERPT_FPS, crf=32, gop=2 * EXCERPT_FPS)


def write_hls(video: bytes, directory: Path) -> None:
    """Split an H.264 MP4 into an HLS VOD set (index.m3u8, seg<N>.ts) without re-encoding."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "source.mp4"
    source.write_bytes(video)
    command = [FFMPEG, "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-c", "copy"]
    command += ["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"]
    command += ["-hls_segment_filename", str(directory / "seg%d.ts"), str(directory / "index.m3u8")]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    finally:
        source.unlink()


def thumbnail(data: bytes, width: int = 200) -> bytes:
    """A small JPEG of an image, as listings show."""
    image = Image.open(BytesIO(data))
    image.thumbnail((width, width))
    return _jpeg(image, 70)


def video_poster(reference: bytes) -> bytes:
    """The excerpt's first frame, small, for the player's poster and the listing thumbnail."""
    frame = next(Excerpt(reference, EXCERPT[0], EXCERPT[0] + 1.0).frames(1, EXCERPT_SIZE))
    image = frame.to_image().resize(EXCERPT_SIZE, Image.Resampling.BILINEAR)
    return _jpeg(image, 70)


# Fillers -----------------------------------------------------------------------------------------


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=512)
def filler(n: int) -> bytes:
    """The n-th unrelated picture: a JPEG, 640x480, of a gradient and random shapes seeded by n.

    Flat colours and hard edges, nothing like a photo, and every n draws another layout, so
    fillers match neither the references nor each other."""
    rng = random.Random(f"kesu-filler-{n}")
    first, second = (Image.new("RGB", FILLER_SIZE, tuple(rng.randrange(256) for _ in range(3))) for _ in range(2))
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(FILLER_SIZE)
    image = Image.composite(first, second, gradient)
    draw = ImageDraw.Draw(image)
    width, height = FILLER_SIZE
    for _ in range(rng.randint(6, 14)):
        _shape(draw, rng, width, height)
    draw.text((24, height - 80), f"filler {n}", fill="white", font=_font(48), stroke_width=3, stroke_fill="black")
    return _jpeg(image, 80)


def _shape(draw: ImageDraw.ImageDraw, rng: random.Random, width: int, height: int) -> None:
    colour = tuple(rng.randrange(256) for _ in range(3))
    x0, y0 = rng.randrange(width), rng.randrange(height)
    x1, y1 = x0 + rng.randint(40, 300), y0 + rng.randint(40, 300)
    kind = rng.randrange(4)
    if kind == 0:
        draw.rectangle((x0, y0, x1, y1), fill=colour)
    elif kind == 1:
        draw.ellipse((x0, y0, x1, y1), fill=colour)
    elif kind == 2:
        draw.polygon([(rng.randrange(width), rng.randrange(height)) for _ in range(3)], fill=colour)
    else:
        draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(6, 30))


# The store ---------------------------------------------------------------------------------------

STORE_VERSION = "1"  # bump when a variant changes, so stores built earlier are rebuilt
FILES = {
    "reference_clip": "reference.mp4",
    "astronaut": "astronaut.jpg",
    "coffee_cropped": "coffee_cropped.jpg",
    "grace_hopper": "grace_hopper.jpg",
    "clip_excerpt": "clip_excerpt.mp4",
    "clip_poster": "clip_poster.jpg",
}


class MediaStore:
    """The demo web's media, built once into ``directory`` and read from there afterwards.

    Built in a temporary sibling directory and renamed into place, so a half-built store is never
    seen, and two processes building at once both end with the same complete store."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._bytes: dict[str, bytes] = {}

    @property
    def complete(self) -> bool:
        marker = self.directory / "VERSION"
        return marker.is_file() and marker.read_text() == STORE_VERSION

    def build(self) -> "MediaStore":
        if self.complete:
            return self
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".media-", dir=self.directory.parent))
        try:
            _build_into(staging)
            if self.directory.exists() and not self.complete:
                shutil.rmtree(self.directory)  # an old version; a racing builder may have just replaced it
            os.replace(staging, self.directory)
        except OSError:
            if not self.complete:
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self

    def path(self, name: str) -> Path:
        return self.directory / FILES[name]

    def read(self, name: str) -> bytes:
        if name not in self._bytes:
            self._bytes[name] = self.path(name).read_bytes()
        return self._bytes[name]

    @property
    def hls_directory(self) -> Path:
        return self.directory / "hls"

    def hls_files(self) -> dict[str, bytes]:
        """The HLS set by file name: index.m3u8 and its segments."""
        return {file.name: file.read_bytes() for file in sorted(self.hls_directory.iterdir())}


def _build_into(directory: Path) -> None:
    reference = reference_clip()
    excerpt = clip_excerpt(reference)
    made = {
        "reference_clip": reference,
        "astronaut": astronaut_variant(),
        "coffee_cropped": coffee_cropped(),
        "grace_hopper": grace_hopper_variant(),
        "clip_excerpt": excerpt,
        "clip_poster": video_poster(reference),
    }
    for name, data in made.items():
        (directory / FILES[name]).write_bytes(data)
    write_hls(excerpt, directory / "hls")
    (directory / "VERSION").write_text(STORE_VERSION)
