"""Synthetic test videos, made by real encoders (PyAV/libx264) in memory.

Content is public domain: scikit-image's sample photos. The clips and the encoder are the demo
web's (kesu/demo/media.py): ``Slideshow`` pans and zooms across photos, ``Excerpt`` cuts a
time range out of an encoded video, ``encode`` turns clips into one video file. A reference uses
one set of photos, "unrelated" videos another, so they share no pictures.
"""

from fractions import Fraction
from functools import cache
from io import BytesIO

import av
from av.video.reformatter import VideoReformatter

from kesu.demo.media import REFERENCE_PHOTOS, UNRELATED_PHOTOS, Excerpt, Size, Slideshow, encode

__all__ = ["REFERENCE_PHOTOS", "UNRELATED_PHOTOS", "Excerpt", "Slideshow", "encode"]


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
