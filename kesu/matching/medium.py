"""A medium as the signal types see it: the bytes, decoded once, and what several types share."""

import hashlib
from dataclasses import dataclass
from functools import cached_property

from PIL import Image

VIDEO_FACE_FRAMES = 24  # faces are searched on this many frames spread over a video
VIDEO_FACE_FPS = 0.2  # at most one every 5 s
# PDQ of a moving picture changes fast (a median 54 bits in half a second in
# our test videos): a reference hashed at 4 fps has a frame within 1/8 s of
# any found frame sampled at 1 fps, whatever the phase of the two samplings.
REFERENCE_FPS = 4.0
FOUND_FPS = 1.0


@dataclass
class Medium:
    """One image or video, with what the signal types share (decoded once)."""

    data: bytes
    kind: str  # "image" or "video"
    image: Image.Image | None = None
    reference: bool = False  # a victim's reference: augment faces, hash sub-regions

    @cached_property
    def analysis(self):
        from ..ml.analysis import analyse

        return analyse(self.image, reference=self.reference) if self.image is not None else None

    @cached_property
    def video_hashes(self):
        from . import video

        if self.kind != "video":
            return None
        return video.hash_video(self.data, fps=REFERENCE_FPS if self.reference else FOUND_FPS)

    @cached_property
    def frame_analyses(self) -> list:
        """(time, Analysis) for a sample of frames: faces and nudity in videos."""
        from ..ml.analysis import analyse
        from . import video

        if self.kind != "video":
            return []
        duration = self.video_hashes.duration or 0.0
        fps = min(VIDEO_FACE_FPS, VIDEO_FACE_FRAMES / duration) if duration > 0 else VIDEO_FACE_FPS
        frames = video.decode_frames(self.data, fps=fps, max_frames=VIDEO_FACE_FRAMES)
        return [(f.t, analyse(Image.fromarray(f.rgb), reference=self.reference)) for f in frames.frames]

    def analyses(self) -> list:
        if self.kind == "image":
            return [(None, self.analysis)]
        return self.frame_analyses

    def faces_json(self) -> list[dict]:
        """Boxes, scores and quality of every face found (no embeddings)."""
        return [
            {**face.to_json(), **({"t": round(t, 3)} if t is not None else {})}
            for t, analysis in self.analyses()
            for face in analysis.faces
        ]

    @cached_property
    def small(self) -> Image.Image | None:
        """The picture reduced once for the hashes and local features, which look at 256-640 px: each of them
        resizing a camera-sized decode on its own cost more than all of them together (issue 19)."""
        from . import image as features

        return features.reduced(self.image, features.HASH_SIDE) if self.image is not None else None

    @cached_property
    def query_hashes(self):
        from . import image as features

        return features.query_hashes(self.small)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()
