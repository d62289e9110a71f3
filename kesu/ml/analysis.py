"""One look at an image: faces (boxes, quality, embeddings) and nudity labels.

NudeNet's YOLOv8n finds faces and body parts in the same pass; dlib then measures and
embeds each face. A small picture (a thumbnail) is enlarged first and also gets dlib's HOG
detector, which finds the small frontal faces YOLO misses there. Pixels stay in memory:
nothing is written to disk or logged.
"""

import dataclasses
from dataclasses import dataclass
from functools import cache

import dlib
import numpy as np
from PIL import Image, ImageOps

from ..lib.errors import UserError
from . import faces as facelib
from . import nudity, yolo
from .faces import Face
from .nudity import Label

# dlib runs on a copy at most this large: it bounds memory and time for huge originals. A camera JPEG comes
# from kesu.matching.media already reduced (JPEG draft mode: its short side at 1024-2047 px) and is used as
# decoded: resizing it to 1600 px with Lanczos cost more than the whole 320 px detection (bench/cascade.py).
# dlib's landmarks and chips look at the face's box only; YOLO resizes its input itself.
WORK_MAX_SIDE = 3072
# The model needs a face of ~32 px in its input. Faces-dev faces pasted into a 1600 px scene
# (bench/faces_eval.py) were found at 320 in 15/23 cases at 10 % of the long side, 6/23 at
# 7 %, 0/23 at 5 %; adding a 640 pass: 21/23, 20/23, 13/23 (for ~4x the detection time).
# So faces also get a 640 pass when a 40 px face would be under 32 px at 320, i.e. on
# images over 400 px. Nudity labels come from the 320 pass only (the model's training
# resolution).
DETECT_RESOLUTION = 320
SMALL_FACE_RESOLUTION = 640
SMALL_FACE_MIN_SIDE = 400
# The cascade (issue 19): the 640 pass looks for faces the 320 pass is too coarse to see, and costs four
# times as much. A picture whose 320 pass found a face this large (its short side over the picture's long
# side) is a portrait or a selfie: on faces-dev at working size (24 photos) the 640 pass added no face to
# any of the 17 such photos, only a 0.27-score box over the face already found. Smaller faces, or none,
# and the 640 pass runs as before (pasted faces of 5-10 % in bench/faces_eval.py are unchanged).
PORTRAIT_FACE = 0.15
SAME_FACE_IOU = 0.3
# A picture whose long side is under SMALL_PICTURE_SIDE (thumbnails on listings: 90-320 px) is enlarged
# (Lanczos) towards UPSAMPLED_SIDE, at most MAX_UPSAMPLING times, before detection, landmarks and
# alignment, and dlib's HOG detector runs on it too (it finds faces from 80 px: 20 px faces of a 120 px
# thumbnail). Enlarged further, YOLO took interpolation blur for faces (two false faces on a 66 px
# picture at 10x). Measured on faces-dev probes shrunk to 160 / 120 / 90 px: bench/faces_thumbnails.py.
SMALL_PICTURE_SIDE = 480
UPSAMPLED_SIDE = 640
MAX_UPSAMPLING = 4.0
HOG_MIN_SCORE = 0.0  # dlib's own threshold on its SVM margin
# HOG's window is 80 px: on a thumbnail enlarged 4x it sees faces from 20 px, and a 90 px listing shows faces
# of 8-20 px (26 of faces-dev's 63 genuine pairs at 90 px: group photos, distant shots). So HOG also runs on
# the enlarged copy upsampled once more (dlib's pyramid, 2x), keeping only the faces under the window that no
# earlier box covers: its detections at 2x are not a superset of those at 1x (other pyramid levels, another
# suppression), so they only add. Measured with MIN_SIZE 8 (bench/faces_thumbnails.py): TAR at FAR <= 1e-2
# 58 / 46 / 37 of 63 at 160 / 120 / 90 px, against 58 / 43 / 34 without (1 genuine pair left without a face at
# 90 px, against 26). Costs one HOG pass on 4x the pixels (~60-110 ms on a 640 px copy), on small pictures
# only, and not on one where a face already found is TINY_PASS_PORTRAIT of its long side or more (a portrait:
# a face under the window beside it is a bystander's): that skipped 13 / 13 / 12 of faces-dev's 26 probes at
# 160 / 120 / 90 px with the same TAR (0.20 to 0.40 gave the same TAR too; PORTRAIT_FACE's 0.15 lost 2 pairs
# at 120 px: two faces of a group photo on a thumbnail are each 15 % of its side).
TINY_FACE_HOG_UPSAMPLING = 1
HOG_WINDOW = 80
TINY_PASS_PORTRAIT = 0.25
# YOLO's 640 pass is skipped on an enlarged thumbnail: with HOG there, it found no face more on faces-dev
# probes of 160 / 120 / 90 px (same TAR) and halved the faces/s (bench/faces_thumbnails.py: `kesu+640`).
SMALL_PICTURE_YOLO_640 = False
# A reference face can also be banked as it looks on thumbnails of its photo (long sides in px, e.g.
# (160, 96)), where it keeps VIEW_MIN_SIZE px. OFF: on faces-dev it raised TAR at FAR <= 1e-2 for probes
# of 160 / 120 / 90 px (bench/faces_thumbnails.py, `kesu+views`), but degraded embeddings lie near each
# other whoever they show: a stranger's 23 px face (scikit-image's astronaut on a 120 px thumbnail) came
# within 0.593 of her 54 px view (0.602 of her photo, outside the 0.6 match distance), and a confirmed
# hit's bystander's 20 px view within 0.6 of her 32 px one (which the 40 px floor now leaves out).
# A view located by the reference face's own box (no detection on the thumbnail, so no bystander can join),
# where her face is 40 px, JPEG q70: TAR +3 / +3 / +1 of 63 at 160 / 120 / 90 px, +16 of 819 genuine pairs
# pooled over 80-200 px, but the threshold at FAR 1e-2 falls by ~0.04 (strangers nearer too): not adopted
# before a larger set confirms it and the face calibration is refitted with it (bench/faces_variants.py).
REFERENCE_THUMBNAILS: tuple[int, ...] = ()
VIEW_MIN_SIZE = 40


@dataclass(frozen=True)
class Analysis:
    faces: list[Face]  # largest first
    nudity: float  # review priority in [0, 1], see kesu.ml.nudity
    labels: list[Label]  # why: body-part detections, most important first

    @property
    def usable_faces(self) -> list[Face]:
        """Faces with an embedding: the only ones to match with (weak ones too: their quality goes with them)."""
        return [face for face in self.faces if face.ok]

    def to_json(self) -> dict:
        return {
            "faces": [face.to_json() for face in self.faces],
            "nudity": round(self.nudity, 3),
            "labels": [label.to_json() for label in self.labels],
        }


def detector(resolution: int = DETECT_RESOLUTION) -> yolo.Detector:
    return yolo.detector(resolution)


def working_copy(image: Image.Image) -> tuple[np.ndarray, float]:
    """An upright RGB uint8 array at most WORK_MAX_SIDE on its long side (a small picture enlarged towards
    UPSAMPLED_SIDE), and its scale (the copy's size over the original's)."""
    if image.width < 1 or image.height < 1:
        raise UserError("image is empty")
    try:
        if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation: faces must be upright
            image = ImageOps.exif_transpose(image)
        if image.mode not in ("RGB", "L"):
            image = _flatten(image)
        scale = min(1.0, WORK_MAX_SIDE / max(image.size))
        if max(image.size) < SMALL_PICTURE_SIDE:
            scale = min(MAX_UPSAMPLING, UPSAMPLED_SIDE / max(image.size))
        if scale != 1.0:
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            # enlarging a thumbnail: Lanczos (measured, see above); reducing: bilinear after a box reduce
            filter_ = Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BILINEAR
            image = image.resize(size, filter_, reducing_gap=2.0 if scale < 1 else None)
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


@cache
def hog() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


def hog_faces(rgb: np.ndarray, upsampling: int = 0) -> list[dict]:
    """dlib's HOG detections, as detections with their own rectangle (its landmark model's box), in ``rgb``'s
    pixels; ``upsampling``: dlib enlarges the picture 2x that many times first (faces under its 80 px window)."""
    rects, scores, _ = hog().run(rgb, upsampling, HOG_MIN_SCORE)
    return [
        {"box": [r.left(), r.top(), r.width(), r.height()], "rect": r, "score": min(1.0, 0.5 + s / 4)}
        for r, s in zip(rects, scores, strict=True)
    ]


def small_picture_faces(rgb: np.ndarray, found: list[dict]) -> list[dict]:
    """The faces dlib's HOG adds to ``found`` on an enlarged thumbnail: those at its own scale, then the tiny
    ones of the pass upsampled once more (TINY_FACE_HOG_UPSAMPLING), unless the picture is a portrait."""
    added = [d for d in hog_faces(rgb) if _new_face(d, found)]
    if TINY_FACE_HOG_UPSAMPLING and not _portrait(rgb, [*found, *added], TINY_PASS_PORTRAIT):
        tiny = [d for d in hog_faces(rgb, TINY_FACE_HOG_UPSAMPLING) if d["box"][2] < HOG_WINDOW]
        added += [d for d in tiny if _new_face(d, [*found, *added])]
    return added


def _portrait(rgb: np.ndarray, faces: list[dict], share: float = PORTRAIT_FACE) -> bool:
    """Whether one of ``faces`` is large for the picture (``share`` of its long side at least)."""
    side = max(rgb.shape[:2])
    return any(min(d["box"][2], d["box"][3]) >= share * side for d in faces)


def _new_face(det: dict, kept: list[dict]) -> bool:
    return all(_iou(det["box"], k["box"]) <= SAME_FACE_IOU for k in kept)


def detect(rgb: np.ndarray, *, small: bool = False) -> tuple[list[dict], list[dict]]:
    """(face detections, all detections of the 320 pass) on a working copy; ``small``: an enlarged
    thumbnail, which dlib's HOG detector searches too. A reference goes through the same cascade as a found
    picture: the same photo must give the same boxes, so that an exact copy's face lies at distance ~0."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # NudeNet takes what cv2.imread gives: BGR
    found = detector(DETECT_RESOLUTION).detect(bgr)
    face_passes = [[d for d in found if d["class"] in nudity.FACE_CLASSES]]
    if _needs_small_face_pass(rgb, face_passes[0], small):
        more = detector(SMALL_FACE_RESOLUTION).detect(bgr)
        face_passes.append([d for d in more if d["class"] in nudity.FACE_CLASSES])
    merged = _merge(*face_passes)
    if small:  # YOLO's boxes first; HOG adds the faces it alone found
        merged += small_picture_faces(rgb, merged)
    return merged, found


def _needs_small_face_pass(rgb: np.ndarray, faces: list[dict], small: bool) -> bool:
    """Whether faces too small for the 320 pass may be there (see PORTRAIT_FACE)."""
    if max(rgb.shape[:2]) <= SMALL_FACE_MIN_SIDE or (small and not SMALL_PICTURE_YOLO_640):
        return False
    return not _portrait(rgb, faces)


def analyse(image: Image.Image, *, reference: bool = False) -> Analysis:
    """Faces and nudity of a decoded image. ``reference`` adds augmented embeddings
    (for building a case's face bank from the victim's own photos)."""
    rgb, scale = working_copy(image)
    face_dets, found = detect(rgb, small=scale > 1.0)
    described = facelib.describe_all(rgb, face_dets, scale=scale, reference=reference)
    if reference:
        described = [_with_thumbnail_views(image, face) for face in described]
    described.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    body = nudity.labels(found, scale)
    return Analysis(faces=described, nudity=nudity.score(body), labels=body)


def _with_thumbnail_views(image: Image.Image, face: Face) -> Face:
    """A reference face with the embeddings of the same face on thumbnails of the photo (REFERENCE_THUMBNAILS):
    a small face found on a listing lies nearer to those than to the sharp one."""
    if not face.ok:
        return face
    extra = []
    for side in REFERENCE_THUMBNAILS:
        factor = side / max(image.size)
        if factor >= 1.0:
            continue
        small = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                             Image.Resampling.LANCZOS)  # fmt: skip
        rgb, scale = working_copy(small)
        dets = [d for d in detect(rgb, small=scale > 1.0)[0]
                if _iou([v / scale / factor for v in d["box"]], list(face.box)) > SAME_FACE_IOU]  # fmt: skip
        views = facelib.describe_all(rgb, dets[:1], scale=scale)
        extra += [f.embedding for f in views if f.ok and f.quality["size"] >= VIEW_MIN_SIZE]
    return dataclasses.replace(face, embeddings=[*face.embeddings, *extra])


def reference_embeddings(image: Image.Image) -> list[np.ndarray]:
    """Embeddings for a case's face bank from one reference photo: those of its largest face
    that has one (a reference photo shows the victim; smaller faces may be others).
    Empty when no face is usable."""
    usable = analyse(image, reference=True).usable_faces
    return list(usable[0].embeddings) if usable else []
