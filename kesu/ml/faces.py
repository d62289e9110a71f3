"""Faces: landmarks, alignment, quality and 128-D embeddings, on boxes from the detectors.

Landmarks and alignment are dlib's; the embedding is dlib's ResNet run by ONNX Runtime (kesu.ml.facenet:
the same weights and results, ~20x faster here).

The thresholds below were measured with ``bench/faces_eval.py`` on faces-dev (10 people, 23
photos, plus blurred and shrunk copies of them). That set is small: the numbers have wide
error bars and are starting points to revisit with more data, not proven optima.
"""

import base64
from dataclasses import dataclass, field
from functools import cache

import cv2
import dlib
import face_recognition_models
import numpy as np

from kesu.ml import facenet

# dlib's ResNet was trained on 150x150 chips with 0.25 padding; the same person is within
# 0.6 (L2) with 99.38 % accuracy on LFW according to dlib.
CHIP_SIZE = 150
CHIP_PADDING = 0.25
MATCH_DISTANCE = 0.6
EMBEDDING_DIM = 128

# What is still a hard gate: a face is not embedded below MIN_SIZE px (in the found picture's own
# pixels: at 8 px an eye is one pixel) or turned further than MAX_YAW. Everything else a face can be
# short of (size, sharpness, detection score) is measured and handed to the face signal's calibration,
# which lowers the probability of a weak face instead of dropping it (issue 19: thumbnails on adult-site
# listings show faces of 8-50 px, exactly the ones the desk most needs). 16 px until the thumbnails' tiny
# face pass (analysis.TINY_FACE_HOG_UPSAMPLING): with it, on faces-dev probes of 120 / 90 px, 8 px gave TAR
# at FAR <= 1e-2 46 / 37 of 63, 10 px 46 / 35, 12 px 46 / 36, 16 px 45 / 34 (bench/faces_thumbnails.py;
# the threshold stayed at 0.64-0.66: the strangers' nearest tiny faces came no nearer than the small ones').
# A face under facesize.PINK_MIN_SIZE is never pink on its own, whatever its size.
MIN_SIZE = 8
# Yaw proxy (nose offset along the eye line / eye distance). faces-dev (frontal to
# three-quarter) spans -0.18..+0.14. No profile photos were available to measure the
# limit; from average face geometry (nose base ~0.25 eye distances in front of the eyes)
# 0.35 is roughly 55 degrees; dlib's embeddings (trained mostly on near-frontal faces) degrade beyond.
MAX_YAW = 0.35
# Reference augmentation (see augmented_embeddings): OFF, because it did not measurably help.
# On faces-dev (bank from one photo, query from another; clean, "repost" = face 64 px + JPEG
# q40, "hard" = face 44 px + JPEG q25) TAR at 0.6 and at zero false accepts was 100 % with
# and without it. Jitter x10 and a mirrored chip lowered genuine distances by 0.01-0.03 but
# brought the closest impostor nearer by 0.01-0.03 too (d' +0.05..+0.35: noise at n=23),
# and jitter x10 costs ten embeddings (~0.8 s a face with dlib, which alone jitters). Switch on when a
# larger set shows a gain. On thumbnails (issue 19, bench/faces_variants.py) averaging the mirrored chip's
# embedding into every face's, found and banked, did not help either (TAR at FAR <= 1e-2 on probes of
# 160 / 120 / 90 px: 60 / 43 / 31 of 63 against 58 / 43 / 34), nor did scale jitter, 68 landmarks or chips
# from a Lanczos-enlarged crop.
REFERENCE_JITTERS = 0
REFERENCE_FLIP = False

Box = tuple[int, int, int, int]  # x, y, width, height in the original image's pixels
Point = tuple[int, int]


@dataclass(frozen=True)
class Face:
    box: Box
    score: float
    landmarks: tuple[Point, ...]  # dlib 5-point order: one eye's corners, the other's, nose base
    quality: dict[str, float]
    ok: bool
    reason: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)  # only when ok
    embeddings: list[np.ndarray] = field(default_factory=list, compare=False, repr=False)  # + augmented

    def to_json(self) -> dict:
        """Boxes, scores and quality only: no embeddings, no landmarks (biometric data stays in memory)."""
        return {
            "box": list(self.box),
            "score": round(self.score, 3),
            "quality": {k: round(v, 3) for k, v in self.quality.items()},
            "ok": self.ok,
            "reason": self.reason,
        }


@cache
def _predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())


@cache
def _encoder() -> dlib.face_recognition_model_v1:
    """dlib's own runner of the network: only for jittered embeddings (dlib's random jitter), see embed."""
    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


def dlib_box(box: tuple[float, float, float, float]) -> dlib.rectangle:
    """NudeNet's face box as the box dlib's landmark model was trained on.

    Measured against dlib's own HOG detector on faces-dev: same size (median ratio 1.00 wide,
    0.98 high) but centred 6 % of the height higher, and square. Embeddings from this box were
    0.04 (median; max 0.14) from those from dlib's box, against 0.05 (max 0.16) for the raw box.
    """
    x, y, w, h = box
    side = (w + h) / 2
    cx, cy = x + w / 2, y + h / 2 - 0.06 * h
    return dlib.rectangle(round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))


def locate(rgb: np.ndarray, box: tuple[float, float, float, float]) -> dlib.full_object_detection:
    """Five landmarks of the face in ``box`` (x, y, w, h) of an RGB uint8 array."""
    return _predictor()(rgb, dlib_box(box))


def points(shape: dlib.full_object_detection) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def align(rgb: np.ndarray, shape: dlib.full_object_detection) -> np.ndarray:
    """The canonical 150x150 chip dlib's embedding network expects (eyes level, fixed scale)."""
    return dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def embed(chip: np.ndarray, jitters: int = 0) -> np.ndarray:
    """128-D float32 embedding of an aligned chip; ``jitters`` > 1 averages that many randomly jittered
    copies, computed by dlib (~58 ms each: bench/faces_eval.py's augmentation study, REFERENCE_JITTERS)."""
    if jitters > 1:
        vector = _encoder().compute_face_descriptor(np.ascontiguousarray(chip), jitters)
        return np.asarray(vector, dtype=np.float32)
    return facenet.embed_batch([chip])[0]


def sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian on the chip's centre (the face, not the padding around it)."""
    grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
    margin = CHIP_SIZE // 5
    return float(cv2.Laplacian(grey, cv2.CV_64F)[margin:-margin, margin:-margin].var())


def yaw(landmarks: np.ndarray) -> float:
    """Nose offset from the eye midpoint along the eye line, in eye distances: 0 when frontal."""
    eyes = sorted([landmarks[0:2].mean(axis=0), landmarks[2:4].mean(axis=0)], key=lambda p: p[0])
    axis = eyes[1] - eyes[0]
    distance = float(np.linalg.norm(axis))
    if distance < 1e-6:
        return float("inf")  # landmarks collapsed: not a usable face
    return float(np.dot(landmarks[4] - (eyes[0] + eyes[1]) / 2, axis / distance) / distance)


def rejection(quality: dict[str, float]) -> str | None:
    """Why a face may not be embedded at all, or None (weaker faces are embedded and weighed by calibration)."""
    if quality["size"] < MIN_SIZE:
        return "too small"
    if abs(quality["yaw"]) > MAX_YAW:
        return "turned away (profile)"
    return None


def augmented_embeddings(chip: np.ndarray) -> list[np.ndarray]:
    """Embeddings of one reference chip for a case's face bank: the plain one first, then the
    augmented ones if REFERENCE_JITTERS / REFERENCE_FLIP ask for them (the first is then jittered
    too). A found face matches the bank if it is close to any of them.
    """
    out = [embed(chip, REFERENCE_JITTERS)]
    if REFERENCE_FLIP:
        out.append(embed(np.ascontiguousarray(chip[:, ::-1]), REFERENCE_JITTERS))
    return out


@dataclass
class _Measured:
    det: dict
    marks: np.ndarray
    chip: np.ndarray
    quality: dict[str, float]
    reason: str | None


def _measure(rgb: np.ndarray, det: dict, scale: float) -> _Measured:
    """Landmarks, chip and quality of one detection (``box`` x, y, w, h and ``score``; ``rect``, a dlib
    rectangle, when dlib's own detector found it: its landmark model was trained on those boxes)."""
    shape = _predictor()(rgb, det["rect"]) if "rect" in det else locate(rgb, det["box"])
    marks = points(shape)
    chip = align(rgb, shape)
    # in the found picture's pixels when the copy was enlarged (what the picture really holds of the
    # face), in the copy's when it was reduced (what the embedding saw)
    size = float(min(det["box"][2], det["box"][3])) / max(scale, 1.0)
    quality = {"size": size, "score": float(det["score"]), "yaw": yaw(marks), "sharpness": sharpness(chip)}
    return _Measured(det, marks, chip, quality, rejection(quality))


def embed_batch(chips: list[np.ndarray]) -> list[np.ndarray]:
    """Embeddings of many aligned chips in one run of the network."""
    return list(facenet.embed_batch(chips))


def describe_all(rgb: np.ndarray, detections: list[dict], *, scale: float = 1.0, reference: bool = False) -> list[Face]:
    """The faces found at ``detections`` in ``rgb`` (a working copy ``scale`` times the original's size),
    every embeddable one embedded in one batch. Boxes and landmarks are returned in the original's pixels."""
    measured = [_measure(rgb, det, scale) for det in detections]
    usable = [m for m in measured if m.reason is None]
    if reference:
        vectors = [augmented_embeddings(m.chip) for m in usable]
    else:
        vectors = [[v] for v in embed_batch([m.chip for m in usable])]
    embedded = {id(m): v for m, v in zip(usable, vectors, strict=True)}
    return [_face(m, embedded.get(id(m), []), scale) for m in measured]


def _face(m: _Measured, embeddings: list[np.ndarray], scale: float) -> Face:
    return Face(
        box=tuple(round(v / scale) for v in m.det["box"]),
        score=float(m.det["score"]),
        landmarks=tuple((round(x / scale), round(y / scale)) for x, y in m.marks),
        quality=m.quality,
        ok=m.reason is None,
        reason=m.reason,
        embedding=embeddings[0] if embeddings else None,
        embeddings=embeddings,
    )


def describe(rgb: np.ndarray, box, score: float, *, scale: float = 1.0, reference: bool = False) -> Face:
    """One face found at ``box`` (x, y, w, h) in ``rgb``: see describe_all."""
    return describe_all(rgb, [{"box": box, "score": score}], scale=scale, reference=reference)[0]


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance between two embeddings; the same person is usually within MATCH_DISTANCE."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def distances(query: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """L2 distances from one query (128,) to each bank row (m, 128) -> (m,),
    or from each of n queries (n, 128) -> (n, m)."""
    q = np.asarray(query, np.float64)  # float64: float32 cancellation leaves ~0.004 at distance 0
    b = np.asarray(bank, np.float64).reshape(-1, EMBEDDING_DIM)
    q2 = np.atleast_2d(q)
    # |q - b|^2 = |q|^2 + |b|^2 - 2 q.b: one matrix product instead of an (n, m, 128) array.
    squared = (q2 * q2).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * q2 @ b.T
    out = np.sqrt(np.maximum(squared, 0.0))
    return out[0] if q.ndim == 1 else out


def to_text(embedding: np.ndarray) -> str:
    """Base64 of the float32 little-endian bytes: how embeddings are stored."""
    return base64.b64encode(np.asarray(embedding, dtype="<f4").reshape(EMBEDDING_DIM).tobytes()).decode("ascii")


def from_text(text: str) -> np.ndarray:
    raw = base64.b64decode(text, validate=True)
    if len(raw) != 4 * EMBEDDING_DIM:
        raise ValueError(f"a face embedding has {4 * EMBEDDING_DIM} bytes, not {len(raw)}")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)
