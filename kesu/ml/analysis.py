"""One look at an image: faces (boxes, quality, embeddings) and nudity labels.

NudeNet's YOLOv8n finds faces and body parts in the same pass; dlib then measures and
embeds each face. Pixels stay in memory: nothing is written to disk or logged.
"""

from dataclasses import dataclass
from functools import cache

import numpy as np
from nudenet import NudeDetector
from PIL import Image, ImageOps

from ..lib.errors import UserError
from . import faces as facelib
from . import nudity
from .faces import Face
from .nudity import Label

# dlib runs on a copy at most this large: enough for any face the detector can find (it
# misses faces under ~5 % of the long side, i.e. 80 px here, and the size gate is 40 px),
# and it bounds memory and time for camera-sized originals.
WORK_MAX_SIDE = 1600
# The model needs a face of ~32 px in its input. Faces-dev faces pasted into a 1600 px scene
# (bench/faces_eval.py) were found at 320 in 15/23 cases at 10 % of the long side, 6/23 at
# 7 %, 0/23 at 5 %; adding a 640 pass: 21/23, 20/23, 13/23 (for ~4x the detection time).
# So faces also get a 640 pass when a 40 px face would be under 32 px at 320, i.e. on
# images over 400 px. Nudity labels come from the 320 pass only (the model's training
# resolution).
DETECT_RESOLUTION = 320
SMALL_FACE_RESOLUTION = 640
SMALL_FACE_MIN_SIDE = 400
SAME_FACE_IOU = 0.3


@dataclass(frozen=True)
class Analysis:
    faces: list[Face]  # largest first
    nudity: float  # review priority in [0, 1], see kesu.ml.nudity
    labels: list[Label]  # why: body-part detections, most important first

    @property
    def usable_faces(self) -> list[Face]:
        """Faces that passed the quality gate: the only ones to match with."""
        return [face for face in self.faces if face.ok]

    def to_json(self) -> dict:
        return {
            "faces": [face.to_json() for face in self.faces],
            "nudity": round(self.nudity, 3),
            "labels": [label.to_json() for label in self.labels],
        }


@cache
def detector(resolution: int = DETECT_RESOLUTION) -> NudeDetector:
    """One ONNX session per resolution and process (loading costs ~0.1 s)."""
    return NudeDetector(inference_resolution=resolution)


def working_copy(image: Image.Image) -> tuple[np.ndarray, float]:
    """An upright RGB uint8 array at most WORK_MAX_SIDE on its long side, and its scale."""
    if image.width < 1 or image.height < 1:
        raise UserError("image is empty")
    try:
        if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation: faces must be upright
            image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            image = _flatten(image)
        scale = min(1.0, WORK_MAX_SIDE / max(image.size))
        if scale < 1.0:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, TypeError) as exc:
        raise UserError(f"image cannot be analysed ({type(exc).__name__})") from None
    return np.ascontiguousarray(rgb), scale


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with transparent areas on white (their stored colour is arbitrary)."""
    if "A" not in image.getbands() and "transparency" not in image.info:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _iou(a: list[float], b: list[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - w * h
    return w * h / union if union > 0 else 0.0


def _merge(*passes: list[dict]) -> list[dict]:
    """Face detections of several passes, one per face: the most confident box wins."""
    kept: list[dict] = []
    for det in sorted((d for found in passes for d in found), key=lambda d: d["score"], reverse=True):
        if all(_iou(det["box"], k["box"]) <= SAME_FACE_IOU for k in kept):
            kept.append(det)
    return kept


def detect(rgb: np.ndarray) -> tuple[list[dict], list[dict]]:
    """(face detections, all detections of the 320 pass) on a working copy."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # NudeNet takes what cv2.imread gives: BGR
    found = detector(DETECT_RESOLUTION).detect(bgr)
    face_passes = [[d for d in found if d["class"] in nudity.FACE_CLASSES]]
    if max(rgb.shape[:2]) > SMALL_FACE_MIN_SIDE:
        small = detector(SMALL_FACE_RESOLUTION).detect(bgr)
        face_passes.append([d for d in small if d["class"] in nudity.FACE_CLASSES])
    return _merge(*face_passes), found


def analyse(image: Image.Image, *, reference: bool = False) -> Analysis:
    """Faces and nudity of a decoded image. ``reference`` adds augmented embeddings
    (for building a case's face bank from the victim's own photos)."""
    rgb, scale = working_copy(image)
    face_dets, found = detect(rgb)
    described = [facelib.describe(rgb, d["box"], d["score"], scale=scale, reference=reference) for d in face_dets]
    described.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    body = nudity.labels(found, scale)
    return Analysis(faces=described, nudity=nudity.score(body), labels=body)


def reference_embeddings(image: Image.Image) -> list[np.ndarray]:
    """Embeddings for a case's face bank from one reference photo: those of its largest face
    that passes the gate (a reference photo shows the victim; smaller faces may be others).
    Empty when no face is usable."""
    usable = analyse(image, reference=True).usable_faces
    return list(usable[0].embeddings) if usable else []
