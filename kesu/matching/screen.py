"""A photo of a screen: the screen found and straightened, so that PDQ sees the picture it shows.

Re-uploads are often phone photos of a monitor: the picture sits in a tilted quadrilateral on a dark bezel,
under glare and moiré. Local features find such a copy when the picture has corners; flat artwork has few,
and moiré and glare push its descriptors apart (bench/graphics.py screen_photo misses: Kay, Opal, desert,
Painting-Colors). PDQ of the straightened screen finds them at 6-28 bits, where the whole photo is 100 or
more away. Bench pictures whose copies are not screen photos show such a quadrilateral too (a crop's hard
edge, a rotation's black corners); hashing it costs one more PDQ, and its distance to anything unrelated is
chance, as for any other query hash.
"""

import cv2
import numpy as np
from PIL import Image

FIND_SIDE = 256  # the quadrilateral is looked for on a copy this size, its corners then refined at full size
MIN_SIDE = 64  # a picture smaller than this on either side is no photo of a screen worth straightening
AREA = (0.25, 0.97)  # share of the picture a screen covers: less is a detail, more is the picture's own frame


def rectified(image: Image.Image) -> Image.Image | None:
    """The largest four-sided region in the picture, straightened to a rectangle; None when there is none."""
    if min(image.size) < MIN_SIDE:
        return None
    rgb = np.asarray(image.convert("RGB"))
    corners = quadrilateral(rgb)
    if corners is None:
        return None
    top_left, top_right, bottom_right, bottom_left = corners
    width = round(max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left)))
    height = round(max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right)))
    if min(width, height) < 16:
        return None
    target = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    matrix = cv2.getPerspectiveTransform(corners, target)
    return Image.fromarray(cv2.warpPerspective(rgb, matrix, (width, height), flags=cv2.INTER_AREA))


def quadrilateral(rgb: np.ndarray) -> np.ndarray | None:
    """Corners (top-left, top-right, bottom-right, bottom-left; float32, full-size pixels) of the largest
    convex four-sided outline covering AREA of the picture: edges (Canny) or a bright region on a dark one
    (Otsu)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, FIND_SIDE / max(height, width))
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.dilate(cv2.Canny(grey, 20, 60), np.ones((3, 3), np.uint8))
    _, bright = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    found = [q for mask in (edges, bright) for q in _outlines(mask)]
    if not found:
        return None
    corners = _ordered(max(found, key=lambda q: cv2.contourArea(q)) / scale)
    if corners is None:
        return None
    if (np.abs(corners - np.clip(corners, 0, [width, height])) > 0.02 * max(height, width)).any():
        return None  # further out than a side's lines meeting just past the picture's edge
    corners = np.clip(corners, 0, [width - 1, height - 1]).astype(np.float32)
    return _refined(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), corners, scale)


def _outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Convex four-sided hulls of the mask's contours within AREA (small-copy pixels, float32 (4, 2))."""
    low, high = (share * (mask.shape[0] - 1) * (mask.shape[1] - 1) for share in AREA)  # the frame's own outline: 1
    out = []
    for contour in cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[0]:
        hull = cv2.convexHull(contour)
        if low <= cv2.contourArea(hull) <= high:
            corners = _four_sides(cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True).reshape(-1, 2))
            if corners is not None:
                out.append(corners)
    return out


def _four_sides(polygon: np.ndarray) -> np.ndarray | None:
    """The corners of a convex polygon's four longest sides, each where two neighbours meet (float32 (4, 2));
    None unless it has four to six sides. A side that fades into the bezel (a dark corner of the picture)
    leaves a short bevel or two, which this takes back into the four."""
    if not 4 <= len(polygon) <= 6:
        return None
    polygon = polygon.astype(np.float64)
    ends = np.roll(polygon, -1, axis=0)
    longest = sorted(np.argsort(-np.linalg.norm(ends - polygon, axis=1))[:4])
    sides = [(polygon[i], ends[i]) for i in longest]
    corners = [_meet(*sides[k - 1], *sides[k]) for k in range(4)]
    return None if any(c is None for c in corners) else np.float32(corners)


def _meet(a1: np.ndarray, a2: np.ndarray, b1: np.ndarray, b2: np.ndarray) -> np.ndarray | None:
    """Where the line through a1, a2 meets the line through b1, b2 (None when they are near parallel)."""
    da, db = a2 - a1, b2 - b1
    cross = da[0] * db[1] - da[1] * db[0]
    if abs(cross) < 1e-6 * np.linalg.norm(da) * np.linalg.norm(db):
        return None
    t = ((b1 - a1)[0] * db[1] - (b1 - a1)[1] * db[0]) / cross
    return a1 + t * da


def _ordered(corners: np.ndarray) -> np.ndarray | None:
    """Top-left, top-right, bottom-right, bottom-left (by the sums and differences of the coordinates); None
    for a quadrilateral turned near 45 degrees, whose corners these do not tell apart."""
    sums, differences = corners.sum(axis=1), corners[:, 1] - corners[:, 0]
    picks = [int(np.argmin(sums)), int(np.argmin(differences)), int(np.argmax(sums)), int(np.argmax(differences))]
    return np.float32([corners[i] for i in picks]) if len(set(picks)) == 4 else None


def _refined(grey: np.ndarray, corners: np.ndarray, scale: float) -> np.ndarray:
    """Each corner moved to the full-size picture's corner within the small copy's pixel: found at 256 px, a
    screen's corners are a few full-size pixels off, enough to cost PDQ 10-20 bits."""
    window = min(max(2, round(1.5 / scale)), (min(grey.shape) - 5) // 2)  # OpenCV's bound on the window
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.01)
    return cv2.cornerSubPix(grey, corners.reshape(-1, 1, 2).copy(), (window, window), (-1, -1), criteria).reshape(4, 2)
