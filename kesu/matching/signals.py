"""Signal types: what Kesu derives from a medium to find it again, as plug-ins.

A registry of kind -> SignalType. Each type says which media it applies
to, computes its values from a `Medium` (the bytes, decoded once, analysed
once), names the index class that holds the bank's values, adds a banked
value to that index, and searches a found medium in it, leaving raw scores
on the `Evidence` of each reference it ties the medium to.

Values that could say something about the person (face embeddings, local
features) are `secret`: the bank keeps them sealed with the case's key.
"""

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from PIL import Image

from . import indexes

VIDEO_FACE_FRAMES = 24  # faces are searched on this many frames spread over a video
VIDEO_FACE_FPS = 0.2  # at most one every 5 s
# PDQ of a moving picture changes fast (a median 54 bits in half a second in
# our test videos): a reference hashed at 4 fps has a frame within 1/8 s of
# any found frame sampled at 1 fps, whatever the phase of the two samplings.
REFERENCE_FPS = 4.0
FOUND_FPS = 1.0
MIN_QUALITY = 50  # Meta: PDQ hashes of quality < 50 match too easily to trust
VERIFY_TOP = 3  # references per query that get the geometric check
MIN_VOTES = 8  # descriptor matches a reference needs before it is checked


@dataclass(frozen=True)
class SignalValue:
    kind: str
    value: str = ""
    quality: int | None = None
    meta: dict = field(default_factory=dict)
    secret: bytes | None = None  # sealed by the bank, never stored in the clear


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
    def query_hashes(self):
        from . import image as features

        return features.query_hashes(self.image)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


def threshold(kind: str) -> float:
    """The bank's match threshold for a kind (KESU_MATCH_THRESHOLDS)."""
    from django.conf import settings

    return settings.KESU_MATCH_THRESHOLDS[kind]


class SignalType:
    kind: str = ""
    media_kinds: tuple[str, ...] = ("image", "video")  # media it is computed for
    index_class: type | None = None

    @property
    def searches(self) -> tuple[str, ...]:
        """Found media it searches in its index (by default, those it is computed for)."""
        return self.media_kinds

    def compute(self, medium: Medium) -> list[SignalValue]:
        raise NotImplementedError

    def add(self, index, signal_id: int, owner: int, value: SignalValue) -> None:
        """Put one banked value into this type's index."""

    def search(self, bank, medium: Medium, found) -> None:
        """Leave raw scores on found[owner] for every reference the medium matches."""


class Exact(SignalType):
    index_class = indexes.ExactIndex

    def digest(self, medium: Medium) -> str:
        raise NotImplementedError

    def compute(self, medium):
        return [SignalValue(self.kind, self.digest(medium))]

    def add(self, index, signal_id, owner, value):
        index.add(signal_id, value.value)

    def search(self, bank, medium, found):
        for signal_id in bank.indexes[self.kind].search(self.digest(medium)):
            item = found[bank.entries[signal_id][0]]
            item.exact = item.exact or self.kind


class Sha256(Exact):
    kind = "sha256"

    def digest(self, medium):
        return medium.sha256


class Md5(Exact):
    """MD5 only because StopNCII and partners exchange video MD5s."""

    kind = "md5"

    def digest(self, medium):
        return medium.md5


class Pdq(SignalType):
    """Meta's PDQ with its quality. References bank their whole, their
    border-trimmed inside and sub-regions; a found image is searched in 8
    orientations, trimmed of borders when it had any."""

    kind = "pdq"
    media_kinds = ("image",)
    index_class = indexes.HashIndex

    def compute(self, medium):
        from . import image as features

        hashes = features.reference_hashes(medium.image) if medium.reference else features.pdq_dihedral(medium.image)
        return [SignalValue(self.kind, h.hex, h.quality, {"region": h.region, "variant": h.variant}) for h in hashes]

    def add(self, index, signal_id, owner, value):
        if (value.quality or 0) >= MIN_QUALITY:
            index.add([signal_id], indexes.hex_to_codes([value.value]))

    def search(self, bank, medium, found):
        usable = [h for h in medium.query_hashes if h.quality >= MIN_QUALITY]
        codes = indexes.hex_to_codes([h.hex for h in usable])
        for hit in bank.indexes[self.kind].search(codes, int(threshold(self.kind))):
            owner, meta = bank.entries[hit.id]
            query = usable[hit.query]
            found[owner].consider_pdq(int(hit.distance), query.variant, query.region, meta.get("region", "full"))


class LocalFeatures(SignalType):
    """ORB keypoints and descriptors, checked by RANSAC (secret: a crude
    picture can be rebuilt from dense local features)."""

    kind = "orb"
    media_kinds = ("image",)
    index_class = indexes.DescriptorIndex

    def compute(self, medium):
        from . import image as features

        local = features.local_features(medium.image)
        return [SignalValue(self.kind, meta={"points": len(local.points)}, secret=local.to_bytes())]

    def add(self, index, signal_id, owner, value):
        from . import image as features

        index.add(owner, features.LocalFeatures.from_bytes(value.secret))

    def search(self, bank, medium, found):
        from . import image as features

        index = bank.indexes[self.kind]
        if not len(index):
            return
        for mirrored in (False, True):  # ORB is not mirror-invariant; flipped re-uploads are common
            local = features.local_features(medium.image, mirror=mirrored)
            votes = sorted(index.vote(local.descriptors).items(), key=lambda kv: -len(kv[1]))[:VERIFY_TOP]
            for owner, pairs in votes:
                if len(pairs) >= MIN_VOTES:
                    result = features.verify(local, index.features[owner], pairs)
                    found[owner].consider_local(result, mirrored)


class VideoFrames(SignalType):
    """PDQ of about one frame a second (vPDQ-compatible), with its time;
    a found video is matched segment by segment, a found still frame by frame."""

    kind = "vpdq"
    media_kinds = ("video",)
    searches = ("image", "video")
    index_class = indexes.FrameIndex

    def compute(self, medium):
        return [SignalValue(self.kind, h.pdq_hex, h.quality, {"t": round(h.t, 3)}) for h in medium.video_hashes.hashes]

    def add(self, index, signal_id, owner, value):
        index.add_frame(signal_id, owner, value.meta.get("t", 0.0), value.value, value.quality or 0)

    def search(self, bank, medium, found):
        index = bank.indexes[self.kind]
        if not len(index):
            return
        if medium.kind == "image":
            self._still(index, medium, found)
        else:
            self._segments(index, medium, found)

    def _still(self, index, medium, found):
        """A still (a thumbnail, a screenshot) taken from a reference video."""
        usable = [h for h in medium.query_hashes if h.quality >= MIN_QUALITY]
        for hit in index.hashes.search(indexes.hex_to_codes([h.hex for h in usable]), int(threshold(self.kind))):
            owner, t = index.frame_of(hit.id)
            found[owner].consider_pdq(int(hit.distance), usable[hit.query].variant, f"frame@{t:g}s", "video")

    def _segments(self, index, medium, found):
        from .framehash import match_segments

        query = [h for h in medium.video_hashes.hashes if h.usable]
        if not query:
            return
        radius = int(threshold(self.kind))
        found_frames = index.hashes.search(indexes.hex_to_codes([q.pdq_hex for q in query]), radius)
        for owner in {index.frame_of(h.id)[0] for h in found_frames}:
            segments = match_segments(query, index.frames_of(owner), max_distance=radius)
            if segments:
                found[owner].segments = segments


class Face(SignalType):
    """Face embeddings (dlib ResNet, 128-D) of faces that passed the quality gate."""

    kind = "face"
    index_class = indexes.VectorIndex

    def compute(self, medium):
        out = []
        for t, analysis in medium.analyses():
            for number, face in enumerate(analysis.usable_faces):
                embeddings = face.embeddings if medium.reference else [face.embedding]
                meta = {"box": list(face.box), "face": number, **({"t": round(t, 3)} if t is not None else {})}
                for embedding in embeddings:
                    out.append(SignalValue(self.kind, meta=meta, secret=np.asarray(embedding, "<f4").tobytes()))
        return out

    def add(self, index, signal_id, owner, value):
        index.add([signal_id], np.frombuffer(value.secret, dtype="<f4"))

    def search(self, bank, medium, found):
        index = bank.indexes[self.kind]
        if not len(index):
            return
        for t, analysis in medium.analyses():
            for face in analysis.usable_faces:
                for hit in index.search(np.asarray(face.embedding, np.float32), threshold(self.kind)):
                    found[bank.entries[hit.id][0]].consider_face(hit.distance, t)


class Nudity(SignalType):
    """NudeNet's body-part detections as one review-priority score (no index)."""

    kind = "nudity"

    def compute(self, medium):
        scores = [analysis.nudity for _, analysis in medium.analyses()]
        return [SignalValue(self.kind, f"{max(scores, default=0.0):.3f}")]


REGISTRY: dict[str, SignalType] = {
    signal_type.kind: signal_type
    for signal_type in (Sha256(), Md5(), Pdq(), LocalFeatures(), VideoFrames(), Face(), Nudity())
}


def compute_all(medium: Medium, kinds: list[str] | None = None) -> list[SignalValue]:
    values: list[SignalValue] = []
    for signal_type in REGISTRY.values():
        if medium.kind in signal_type.media_kinds and (kinds is None or signal_type.kind in kinds):
            values += signal_type.compute(medium)
    return values
