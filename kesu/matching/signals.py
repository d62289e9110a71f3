"""Signal types: what Kesu derives from a medium to find it again, as plug-ins.

A registry of kind -> SignalType. A type owns its whole signal:

- ``compute``: its values from a `Medium` (the bytes, decoded once, analysed once). A victim's reference
  (``medium.reference``) gets what the bank keeps; a found medium gets what a search needs, so that the
  found medium can be searched later from its values alone, without its pixels;
- ``to_arrays`` / ``from_arrays``: its values as plain, typed numpy arrays and back (the format of its
  ``FORMAT`` version; ``signalfile.py`` puts every type's arrays in one file);
- ``add`` / ``search``: its index class, a banked value put into it, found values searched in it, raw
  scores left on the `Evidence` of each reference they tie the medium to;
- ``explain`` / ``scores`` / ``explained_scores`` / ``features``: what the review page shows of a match, the
  raw scores it left on the evidence (and read back from a stored explanation, for the desk's refit), and
  the calibration's features made of them (the model ``calibration`` names in calibration.json).

Values that could say something about the person (face embeddings, local features) are `secret`: the
bank keeps them sealed with the case's key, the patrol with its own. ``tests/test_signal_contract.py``
runs every registered type through the same cases.
"""

import math

import numpy as np

from ..ml import facesize
from . import calibration, indexes
from .framehash import FrameHash
from .medium import Medium  # noqa: F401 (where callers have always found it)
from .values import (
    FoundMedium,
    SignalValue,
    hex_array,
    known,
    optional_time,
    pack_secrets,
    text_array,
    time_meta,
    unpack_secrets,
)

MIN_QUALITY = 50  # Meta: PDQ hashes of quality < 50 match too easily to trust
VERIFY_TOP = 3  # references per query that get the geometric check
MIN_VOTES = 8  # descriptor matches a reference needs before it is checked


def threshold(kind: str) -> float:
    """The bank's match threshold for a kind (KESU_MATCH_THRESHOLDS)."""
    from django.conf import settings

    return settings.KESU_MATCH_THRESHOLDS[kind]


class SignalType:
    kind: str = ""
    media_kinds: tuple[str, ...] = ("image", "video")  # media it is computed for
    index_class: type | None = None
    FORMAT = 1  # version of the arrays to_arrays writes; a file of another version is refused
    calibration: str | None = None  # its model in calibration.json, when its scores are calibrated

    @property
    def label(self) -> str:
        """The name a hit records for a match this type made."""
        return self.kind

    @property
    def searches(self) -> tuple[str, ...]:
        """Found media it searches in its index (by default, those it is computed for)."""
        return self.media_kinds

    def compute(self, medium: Medium) -> list[SignalValue]:
        raise NotImplementedError

    def to_arrays(self, values: list[SignalValue]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def from_arrays(self, arrays: dict) -> list[SignalValue]:
        raise NotImplementedError

    def add(self, index, signal_id: int, owner: int, value: SignalValue) -> None:
        """Put one banked value into this type's index."""

    def search(self, bank, medium: "FoundMedium", found) -> None:
        """Leave raw scores on found[owner] for every reference the found medium matches."""

    def explain(self, evidence) -> dict:
        """What the review page shows of this type's part in a match (numbers only)."""
        return {}

    def scores(self, evidence) -> list | None:
        """The raw scores this type left on the evidence of a match; None when it left none."""
        return None

    def explained_scores(self, explained: dict) -> list | None:
        """The same raw scores read back from a stored explanation (what a staff decision labels)."""
        return None

    def features(self, *scores) -> list[float]:
        """The calibration's features of raw scores: an intercept first."""
        raise NotImplementedError

    def probability(self, evidence) -> float | None:
        """How likely the match is right, from this type's scores on the evidence; None when it has none."""
        scores = self.scores(evidence)
        return self.calibrated(*scores) if scores and self.calibration is not None else None

    def calibrated(self, *scores) -> float:
        """The probability of raw scores: the calibration's model on their features."""
        return calibration.logistic(self.calibration, self.features(*scores))


class Exact(SignalType):
    index_class = indexes.ExactIndex
    width = 32  # bytes of the digest

    def digest(self, medium: Medium) -> str:
        raise NotImplementedError

    def compute(self, medium):
        return [SignalValue(self.kind, self.digest(medium))]

    def to_arrays(self, values):
        return {"digest": hex_array(values, self.width)}

    def from_arrays(self, arrays):
        return [SignalValue(self.kind, row.tobytes().hex()) for row in arrays["digest"]]

    def add(self, index, signal_id, owner, value):
        index.add(signal_id, value.value)

    def search(self, bank, medium, found):
        for value in medium.of(self.kind):
            for signal_id in bank.indexes[self.kind].search(value.value):
                item = found[bank.entries[signal_id][0]]
                item.exact = item.exact or self.kind

    def explain(self, evidence):
        return {"exact": self.kind} if evidence.exact == self.kind else {}

    def probability(self, evidence):
        return 1.0 if evidence.exact == self.kind else None  # the same bytes


class Sha256(Exact):
    kind = "sha256"

    def digest(self, medium):
        return medium.sha256


class Md5(Exact):
    """MD5 only because StopNCII and partners exchange video MD5s."""

    kind = "md5"
    width = 16

    def digest(self, medium):
        return medium.md5


def usable_pdq(medium: FoundMedium) -> list[SignalValue]:
    return [v for v in medium.of("pdq") if (v.quality or 0) >= MIN_QUALITY]


class Pdq(SignalType):
    """Meta's PDQ with its quality. References bank their whole, their
    border-trimmed inside and sub-regions; a found image is searched in 8
    orientations, trimmed of borders when it had any."""

    kind = "pdq"
    media_kinds = ("image",)
    index_class = indexes.HashIndex
    calibration = "pdq"

    def compute(self, medium):
        from . import image as features

        hashes = features.reference_hashes(medium.small) if medium.reference else medium.query_hashes
        return [SignalValue(self.kind, h.hex, h.quality, {"region": h.region, "variant": h.variant}) for h in hashes]

    def to_arrays(self, values):
        return {
            "codes": hex_array(values, 32),
            "quality": np.array([v.quality or 0 for v in values], "<i2"),
            "region": text_array([v.meta.get("region", "full") for v in values]),
            "variant": text_array([v.meta.get("variant", "original") for v in values]),
        }

    def from_arrays(self, arrays):
        rows = zip(arrays["codes"], arrays["quality"], arrays["region"], arrays["variant"], strict=True)
        return [
            SignalValue(self.kind, code.tobytes().hex(), int(quality), {"region": str(region), "variant": str(variant)})
            for code, quality, region, variant in rows
        ]

    def add(self, index, signal_id, owner, value):
        if (value.quality or 0) >= MIN_QUALITY:
            index.add([signal_id], indexes.hex_to_codes([value.value]))

    def search(self, bank, medium, found):
        usable = usable_pdq(medium)
        for hit in bank.indexes[self.kind].search(hex_array(usable, 32), int(threshold(self.kind))):
            owner, meta = bank.entries[hit.id]
            query = usable[hit.query].meta
            found[owner].consider_pdq(int(hit.distance), query["variant"], query["region"], meta.get("region", "full"))

    def explain(self, evidence):
        if evidence.pdq_distance is None:
            return {}
        pdq = {"distance": evidence.pdq_distance, "variant": evidence.pdq_variant, "region": evidence.pdq_region}
        return {"pdq": pdq}

    def scores(self, evidence):
        return None if evidence.pdq_distance is None else [evidence.pdq_distance]

    def explained_scores(self, explained):
        return [explained["pdq"]["distance"]] if explained.get("pdq") else None

    def features(self, distance):
        return [1.0, distance / 32.0]


class LocalFeatures(SignalType):
    """ORB keypoints and descriptors, checked by RANSAC (secret: a crude
    picture can be rebuilt from dense local features). ORB is not mirror-invariant and flipped
    re-uploads are common: a found image keeps the features of its mirror image too."""

    kind = "orb"
    media_kinds = ("image",)
    index_class = indexes.DescriptorIndex
    calibration = "local"

    @property
    def label(self):
        return "local"

    def compute(self, medium):
        from . import image as features

        out = []
        for mirrored in (False,) if medium.reference else (False, True):
            local = features.local_features(medium.small, mirror=mirrored)
            meta = {"points": len(local.points), **({"mirrored": True} if mirrored else {})}
            out.append(SignalValue(self.kind, meta=meta, secret=local.to_bytes()))
        return out

    def to_arrays(self, values):
        return {
            "points": np.array([v.meta.get("points", 0) for v in values], "<i8"),
            "mirrored": np.array([bool(v.meta.get("mirrored")) for v in values], bool),
            **pack_secrets(values),
        }

    def from_arrays(self, arrays):
        rows = zip(arrays["points"], arrays["mirrored"], unpack_secrets(arrays), strict=True)
        return [SignalValue(self.kind, meta={"points": int(points), **({"mirrored": True} if mirrored else {})},
                            secret=secret) for points, mirrored, secret in rows]  # fmt: skip

    def add(self, index, signal_id, owner, value):
        from . import image as features

        index.add(owner, features.LocalFeatures.from_bytes(value.secret))

    def search(self, bank, medium, found):
        from . import image as features

        index = bank.indexes[self.kind]
        if not len(index):
            return
        for value in medium.of(self.kind):
            local = features.LocalFeatures.from_bytes(value.secret)
            votes = sorted(index.vote(local.descriptors).items(), key=lambda kv: -len(kv[1]))[:VERIFY_TOP]
            for owner, pairs in votes:
                if len(pairs) >= MIN_VOTES:
                    reference = index.features[owner]
                    result = features.verify(local, reference, features.candidate_pairs(local, reference, pairs))
                    found[owner].consider_local(result, bool(value.meta.get("mirrored")))

    def explain(self, evidence):
        if not evidence.inliers:
            return {}
        return {"local": {"inliers": evidence.inliers, "matches": evidence.matches,
                          "coverage": round(evidence.coverage, 3), "spread": round(evidence.spread, 3),
                          "texture": round(evidence.texture, 3), "agreement": round(evidence.agreement, 3),
                          "mirrored": evidence.mirrored}}  # fmt: skip

    def scores(self, evidence):
        if not evidence.inliers:
            return None
        return [evidence.inliers, evidence.matches, evidence.spread, evidence.texture, evidence.agreement]

    def explained_scores(self, explained):
        local = explained.get("local")
        if not local:
            return None
        return [local["inliers"], local["matches"], local.get("spread", 1.0), local.get("texture", 1.0),
                local.get("agreement", -1.0)]  # fmt: skip

    def features(self, inliers, matches, spread=1.0, texture=1.0, agreement=-1.0):
        """Spread and texture (kesu.matching.geometry) default to a copy's: decisions recorded before they
        were measured, and a texture that could not be (-1), count as the photo they were taken for. The
        agreement enters centred on 0.5, and one unknown (-1: a reference banked before looks were kept, a
        decision recorded before) as 0.5: it then neither raises nor lowers the probability."""
        ratio = inliers / matches if matches else 0.0
        agreement = min(1.0, max(0.0, agreement)) - 0.5 if agreement > -1.0 else 0.0
        return [1.0, math.log1p(inliers), ratio, spread, texture if texture >= 0 else 1.0, agreement]


class VideoFrames(SignalType):
    """PDQ of about one frame a second (vPDQ-compatible), with its time;
    a found video is matched segment by segment, a found still frame by frame."""

    kind = "vpdq"
    media_kinds = ("video",)
    searches = ("image", "video")
    index_class = indexes.FrameIndex
    calibration = "video"

    def compute(self, medium):
        return [SignalValue(self.kind, h.pdq_hex, h.quality, {"t": round(h.t, 3)}) for h in medium.video_hashes.hashes]

    def to_arrays(self, values):
        return {
            "codes": hex_array(values, 32),
            "quality": np.array([v.quality or 0 for v in values], "<i2"),
            "t": np.array([v.meta.get("t", 0.0) for v in values], "<f8"),
        }

    def from_arrays(self, arrays):
        rows = zip(arrays["codes"], arrays["quality"], arrays["t"], strict=True)
        return [SignalValue(self.kind, code.tobytes().hex(), int(quality), {"t": round(float(t), 3)})
                for code, quality, t in rows]  # fmt: skip

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
        usable = usable_pdq(medium)
        for hit in index.hashes.search(hex_array(usable, 32), int(threshold(self.kind))):
            owner, t = index.frame_of(hit.id)
            found[owner].consider_pdq(int(hit.distance), usable[hit.query].meta["variant"], f"frame@{t:g}s", "video")

    def _segments(self, index, medium, found):
        from .framehash import match_segments

        frames = [FrameHash(v.meta.get("t", 0.0), v.value, v.quality or 0) for v in medium.of(self.kind)]
        query = [frame for frame in frames if frame.usable]
        if not query:
            return
        radius = int(threshold(self.kind))
        found_frames = index.hashes.search(indexes.hex_to_codes([q.pdq_hex for q in query]), radius)
        for owner in {index.frame_of(h.id)[0] for h in found_frames}:
            segments = match_segments(query, index.frames_of(owner), max_distance=radius)
            if segments:
                found[owner].segments = segments

    def explain(self, evidence):
        return {"segments": [_segment(s) for s in evidence.segments]} if evidence.segments else {}

    def scores(self, evidence):
        if not evidence.segments:
            return None
        return [max(s.matched_frames for s in evidence.segments), min(s.mean_distance for s in evidence.segments)]

    def explained_scores(self, explained):
        segments = explained.get("segments")
        return [max(s["frames"] for s in segments), min(s["mean_distance"] for s in segments)] if segments else None

    def features(self, frames, mean_distance):
        return [1.0, math.log1p(frames), mean_distance / 32.0]


def _segment(s) -> dict:
    return {
        "query_start": round(s.query_start, 2),
        "query_end": round(s.query_end, 2),
        "reference_start": round(s.ref_start, 2),
        "reference_end": round(s.ref_end, 2),
        "frames": s.matched_frames,
        "mean_distance": round(s.mean_distance, 1),
    }


class Face(SignalType):
    """Face embeddings (dlib ResNet, 128-D) with the face's size and sharpness, which its calibration weighs
    (kesu.ml.facesize). Values without a size (before issue 19) passed the old 40 px gate: full-sized."""

    kind = "face"
    index_class = indexes.VectorIndex
    calibration = "face"
    DIM = 128

    def compute(self, medium):
        out = []
        for t, analysis in medium.analyses():
            for number, face in enumerate(analysis.usable_faces):
                embeddings = face.embeddings if medium.reference else [face.embedding]
                meta = {"box": list(face.box), "face": number, "size": round(face.quality["size"], 1),
                        "sharpness": round(face.quality["sharpness"], 1), **time_meta(optional_time(t))}  # fmt: skip
                for embedding in embeddings:
                    out.append(SignalValue(self.kind, meta=meta, secret=np.asarray(embedding, "<f4").tobytes()))
        return out

    def to_arrays(self, values):
        secrets = b"".join(v.secret for v in values)
        return {
            "embedding": np.frombuffer(secrets, "<f4").reshape(len(values), self.DIM),
            "box": np.array([v.meta.get("box", [0, 0, 0, 0]) for v in values], "<i8").reshape(len(values), 4),
            "face": np.array([v.meta.get("face", 0) for v in values], "<i4"),
            "t": np.array([optional_time(v.meta.get("t")) for v in values], "<f8"),
            **{q: np.array([v.meta.get(q, np.nan) for v in values], "<f4") for q in ("size", "sharpness")},
        }

    def from_arrays(self, arrays):
        quality = [arrays.get(q, np.full(len(arrays["face"]), np.nan)) for q in ("size", "sharpness")]
        rows = zip(arrays["embedding"], arrays["box"], arrays["face"], arrays["t"], *quality, strict=True)
        return [SignalValue(self.kind, secret=embedding.astype("<f4").tobytes(), meta={"box": [int(x) for x in box],
                            "face": int(face), **known(t=t, size=size, sharpness=sharp)})
                for embedding, box, face, t, size, sharp in rows]  # fmt: skip

    def add(self, index, signal_id, owner, value):
        index.add([signal_id], np.frombuffer(value.secret, dtype="<f4"))

    def search(self, bank, medium, found):
        index = bank.indexes[self.kind]
        if not len(index):
            return
        for value in medium.of(self.kind):
            for hit in index.search(np.frombuffer(value.secret, "<f4"), threshold(self.kind)):
                found[bank.entries[hit.id][0]].consider_face(hit.distance, value.meta)

    def explain(self, evidence):
        extra = {"size": evidence.face_size, "sharpness": evidence.face_sharpness, "t": evidence.face_time}
        extra = {k: round(v, 3) for k, v in extra.items() if v is not None}
        face = {"distance": round(evidence.face_distance, 4), **extra} if evidence.face_distance is not None else None
        return {"face": face} if face else {}

    def scores(self, evidence):
        return None if evidence.face_distance is None else [evidence.face_distance, evidence.face_size,
                                                             evidence.face_sharpness]  # fmt: skip

    def explained_scores(self, explained):
        face = explained.get("face")
        return [face["distance"], face.get("size"), face.get("sharpness")] if face else None

    def features(self, distance, size=None, sharpness=None):
        return facesize.features(distance, size, sharpness)  # None: recorded before sizes were, as full-sized

    def calibrated(self, distance, size=None, sharpness=None):
        return min(super().calibrated(distance, size, sharpness), facesize.ceiling(size))  # small: never pink alone


class Nudity(SignalType):
    """NudeNet's body-part detections as one review-priority score (no index); none for a video
    without a frame to look at."""

    kind = "nudity"

    def compute(self, medium):
        scores = [analysis.nudity for _, analysis in medium.analyses()]
        return [SignalValue(self.kind, f"{max(scores):.3f}")] if scores else []

    def to_arrays(self, values):
        return {"score": np.array([float(v.value) for v in values], "<f8")}

    def from_arrays(self, arrays):
        return [SignalValue(self.kind, f"{score:.3f}") for score in arrays["score"]]


REGISTRY: dict[str, SignalType] = {
    signal_type.kind: signal_type
    for signal_type in (Sha256(), Md5(), Pdq(), LocalFeatures(), VideoFrames(), Face(), Nudity())
}
BY_LABEL: dict[str, SignalType] = {signal_type.label: signal_type for signal_type in REGISTRY.values()}


def compute_all(medium: Medium, kinds: list[str] | None = None) -> list[SignalValue]:
    values: list[SignalValue] = []
    for signal_type in REGISTRY.values():
        if medium.kind in signal_type.media_kinds and (kinds is None or signal_type.kind in kinds):
            values += signal_type.compute(medium)
    return values


def found_medium(medium: Medium, kinds: list[str] | None = None) -> FoundMedium:
    """What a search needs of a found medium, computed once: after this its pixels can go."""
    notes = []
    if medium.kind == "video":
        hashes = medium.video_hashes
        flags = {"truncated": hashes.truncated, "time limit reached": hashes.timed_out,
                 "frame cap reached": hashes.capped}  # fmt: skip
        notes = [note for note, flag in flags.items() if flag]
    faces = medium.faces_json() if kinds is None or "face" in kinds else []
    return FoundMedium(medium.kind, medium.sha256, compute_all(medium, kinds), faces, notes)


def score(evidence) -> None:
    """Set evidence.probability and evidence.signal: those of its strongest signal (see calibration.py on why
    not a product), with every type's probability in evidence.scores."""
    candidates = {}
    for signal_type in REGISTRY.values():
        probability = signal_type.probability(evidence)
        if probability is not None:
            candidates[signal_type.label] = probability
    evidence.scores = {k: round(v, 4) for k, v in candidates.items()}
    if candidates:
        evidence.signal, evidence.probability = max(candidates.items(), key=lambda kv: kv[1])


def probability(label: str, *scores) -> float:
    """A calibrated type's probability for raw scores, by the name a hit records (the review, benchmarks)."""
    return BY_LABEL[label].calibrated(*scores)


def explain(evidence) -> dict:
    """Numbers only, for the hit record, the CLI and the review screen: every type's part."""
    out: dict = {"signal": evidence.signal, "probability": round(evidence.probability, 4), "scores": evidence.scores}
    for signal_type in REGISTRY.values():
        out |= signal_type.explain(evidence)
    return out
