"""What tells a photo found again from a chance agreement of corners.

RANSAC finds *a* transform under which some points agree. Between a
photo and an unrelated flat graphic (fills, gradients, shapes, text) the
agreeing points crowd into one corner, lie along one edge, or follow a
transform that squashes the reference onto a sliver; and what they sit on
in the found image is a hard edge between flat colours, not the fine
texture every photo has. The checks here measure exactly that, on the
points the homography kept:

- ``spread``: the share of the visible part of the reference that holds
  inliers (cells of a grid): a copy agrees all over, chance in one place;
- ``texture``: the share of the matched region of the found image that
  has photo-like texture (pixels where the picture changes, not only at
  the edges of flat shapes);
- ``sane``: the homography keeps orientation, is not near-singular where
  the points are, and its scale and shear stay within what crops,
  resizes and photos of a screen do.

And one check that looks at the pictures rather than the points:
``agreement``, how well the found image and the reference laid over it by
the transform agree, pixel by pixel, on small grey copies of both (their
"looks"). Corners that agree by chance leave the rest of the two pictures
unrelated; a copy agrees everywhere it shows, flat ground included.
"""

from dataclasses import dataclass

import cv2
import numpy as np

GRID = 4  # cells per side of the reference for the spread
TEXTURE_BLOCK = 16  # pixels per side of a block of the texture map
BUSY_LEVEL = 3.0  # grey levels per pixel of gradient that count as detail (JPEG ringing and gradients stay under)
MAX_ANISOTROPY = 3.0  # the ratio of the transform's two local scales: a screen photo stays well under 2
MAX_SCALE_SPREAD = 4.0  # how much the local scale may vary over the matched region (perspective)
SCALE_RANGE = (0.05, 20.0)  # local scale from reference to found image (both at ORB size)
LOOK_SIDE = 64  # long side of the grey copy kept for the agreement: 4 KB at most, the layout not the detail
# Glare, a screen's brightness and vignetting are smooth: the agreement compares what is left of both looks after
# their blur at this share of the long side is taken away.
LOOK_SMOOTH = 1 / 8


@dataclass(frozen=True)
class Shape:
    """How the inliers of one homography lie."""

    spread: float  # share of the visible reference cells that hold an inlier (0-1)
    texture: float  # share of the textured blocks under the inliers in the found image (0-1), -1 when unknown
    sane: bool  # orientation kept, not singular, scale and shear bounded
    ref_texture: float = -1.0  # the same share in the reference, -1 when unknown (banked before it was kept)


def texture_map(grey: np.ndarray, enlarged: float = 1.0) -> np.ndarray:
    """Per block of TEXTURE_BLOCK pixels, 1 where it is textured: detail in at least half its pixels.

    Detail is a gradient above BUSY_LEVEL after a light blur. A photo has it
    almost everywhere (skin, fabric, grain); a drawing only along the thin
    edges of its shapes and letters, which cross a block without filling
    half of it; flat fills and gradients have none. Measured on the demo
    pictures and fillers: photos 0.3-0.75 of the blocks under the inliers,
    fillers under 0.1. A thumbnail ``enlarged`` before ORB has its
    gradients spread over that many more pixels: the level is divided by it
    (a 100 px photo read as flat ground lost its crops, bench/graphics.py).
    """
    smooth = cv2.GaussianBlur(grey, (3, 3), 0.8).astype(np.float32)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    busy = (np.hypot(gx, gy) > BUSY_LEVEL / max(1.0, enlarged)).astype(np.float32)
    rows, cols = grey.shape[0] // TEXTURE_BLOCK, grey.shape[1] // TEXTURE_BLOCK
    if not rows or not cols:
        return np.zeros((1, 1), np.float32)
    busy = busy[: rows * TEXTURE_BLOCK, : cols * TEXTURE_BLOCK]
    share = busy.reshape(rows, TEXTURE_BLOCK, cols, TEXTURE_BLOCK).mean(axis=(1, 3))
    return (share >= 0.5).astype(np.float32)


def texture_in(blocks: np.ndarray | None, points: np.ndarray) -> float:
    """Mean detail of the blocks under the hull of ``points`` (found-image pixels); -1 without a map.

    The hull is drawn at block resolution, edges included, so inliers along a line or in one spot
    still name the blocks they sit on."""
    if blocks is None:
        return -1.0
    hull = cv2.convexHull(points.astype(np.float32).reshape(-1, 1, 2)).reshape(-1, 2)
    mask = np.zeros(blocks.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.floor(hull / TEXTURE_BLOCK).astype(np.int32), 1)
    return float(blocks[mask.astype(bool)].mean()) if mask.any() else 0.0


def spread(ref_points: np.ndarray, seen: np.ndarray, ref_size: tuple[int, int]) -> float:
    """Share of the reference's grid cells inside the visible polygon ``seen`` that hold an inlier."""
    width, height = ref_size
    polygon = seen.astype(np.float32).reshape(-1, 1, 2)
    occupied = set(
        zip(
            np.clip((ref_points[:, 0] * GRID / width).astype(int), 0, GRID - 1),
            np.clip((ref_points[:, 1] * GRID / height).astype(int), 0, GRID - 1),
            strict=True,
        )
    )
    visible = hits = 0
    for col in range(GRID):
        for row in range(GRID):
            centre = ((col + 0.5) * width / GRID, (row + 0.5) * height / GRID)
            if cv2.pointPolygonTest(polygon, centre, False) >= 0:
                visible += 1
                hits += (col, row) in occupied
    if not visible:  # a small crop inside one cell: the cell it shows
        return 1.0 if occupied else 0.0
    return min(1.0, hits / visible)


def sane(matrix: np.ndarray, ref_points: np.ndarray) -> bool:
    """The homography's local behaviour where the inliers are: orientation, scale, shear, perspective."""
    jacobians = _jacobians(matrix, np.asarray(ref_points, dtype=np.float64).reshape(-1, 2))
    if jacobians is None:
        return False
    dets = np.linalg.det(jacobians)
    if (dets <= 0).any():  # mirrored or folded: mirrored copies are searched as such
        return False
    singular = np.linalg.svd(jacobians, compute_uv=False)  # (n, 2), largest first
    ratios = singular[:, 0] / np.maximum(singular[:, 1], 1e-9)
    scales = np.sqrt(dets)
    low, high = SCALE_RANGE
    return bool(
        ratios.max() <= MAX_ANISOTROPY
        and low <= scales.min()
        and scales.max() <= high
        and scales.max() / scales.min() <= MAX_SCALE_SPREAD
    )


def _jacobians(matrix: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """The homography's derivative at every point at once, (n, 2, 2); None where a point maps to infinity.

    One array operation for all inliers: a loop of 2 x 2 decompositions was a third of a match query.
    """
    x, y = points[:, 0], points[:, 1]
    w = matrix[2, 0] * x + matrix[2, 1] * y + matrix[2, 2]
    if not len(w) or (np.abs(w) < 1e-9).any():
        return None
    mapped = np.stack([(matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]) / w,
                       (matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]) / w], axis=1)  # fmt: skip
    return (matrix[:2, :2][None] - mapped[:, :, None] * matrix[2, :2][None, None, :]) / w[:, None, None]


def shape(matrix, ref_points, query_points, seen, ref_size, query_texture, ref_texture=None) -> Shape:
    return Shape(
        spread=spread(ref_points, seen, ref_size),
        texture=texture_in(query_texture, query_points),
        sane=sane(matrix, ref_points),
        ref_texture=texture_in(ref_texture, ref_points),
    )


def look(grey: np.ndarray) -> np.ndarray:
    """A grey copy with a long side of LOOK_SIDE px (uint8): what the agreement compares."""
    height, width = grey.shape
    factor = min(1.0, LOOK_SIDE / max(height, width))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def agreement(matrix, query_look, query_size, ref_look, ref_size) -> float:
    """Correlation (-1 to 1) of the found image's look and the reference's look laid over it by ``matrix`` (a
    homography between the ORB-size copies), where the reference shows, once the smooth part of each
    (glare, brightness) is taken away; -1 when either look is unknown or they overlap on too few pixels.

    On bench/graphics.py's pairs (band-passed, looks of 64 px): crops of her pictures 0.97-1.0, screen
    photos 0.5-0.98 (glare and moiré), chance agreement that passed the other floors under 0.4.
    """
    if query_look is None or ref_look is None:
        return -1.0
    to_query = np.diag([query_look.shape[1] / query_size[0], query_look.shape[0] / query_size[1], 1.0])
    from_ref = np.diag([ref_size[0] / ref_look.shape[1], ref_size[1] / ref_look.shape[0], 1.0])
    small = to_query @ matrix @ from_ref
    height, width = query_look.shape
    laid = cv2.warpPerspective(ref_look.astype(np.float32), small, (width, height), flags=cv2.INTER_LINEAR)
    inside = cv2.warpPerspective(np.ones(ref_look.shape, np.uint8), small, (width, height), flags=cv2.INTER_NEAREST)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)  # the edge mixes in the border
    if inside.sum() < 20:
        return -1.0
    a, b = _detail(query_look.astype(np.float32), inside), _detail(laid, inside)
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / norm) if norm > 0 else 0.0


def _detail(picture: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """The picture inside the mask less its smooth part (a blur normalised to the mask), zero-mean."""
    weight = inside.astype(np.float32)
    sigma = LOOK_SMOOTH * max(picture.shape)
    smooth = cv2.GaussianBlur(picture * weight, (0, 0), sigma) / (cv2.GaussianBlur(weight, (0, 0), sigma) + 1e-6)
    values = (picture - smooth)[inside]
    return values - values.mean()
