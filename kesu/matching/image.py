"""Image features that survive what uploaders do to a picture.

PDQ alone is robust to re-encoding, resizing and colour changes, and with
its 8 dihedral variants to flips and quarter turns. It is blind to crops,
small rotations, added borders and photos of a screen. Three additions close
most of that gap (bench/matching.py measures each one):

- trimming flat borders before hashing (letterboxing, frames, padding);
- hashing sub-regions of each reference, so a crop of the reference is
  itself in the bank;
- local features (ORB) with a RANSAC geometric check, which find a picture
  inside another under rotation, perspective (a screen photo) and heavy
  crops, and say *where* it is.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from . import geometry, screen
from .framehash import bits_to_hex

PDQ_SIDE = 512  # PDQ works on 64x64 internally; larger input only costs time
ORB_SIDE = 640
HASH_SIDE = 1024  # a found picture is reduced once to this for PDQ, the border trim and ORB (signals.Medium.small)
ORB_MIN_SIDE = 480  # smaller pictures are enlarged first: ORB finds too few corners in a thumbnail
ORB_FEATURES = 500
MIN_INLIERS = 10  # fewer points agreeing on a transform happen by chance between unrelated pictures
MIN_COVERAGE = 0.1  # a "copy" showing under a tenth of the reference is a degenerate transform, not a copy
# Chance agreement with a drawing crowds into one or two cells of the reference, or sits on flat ground
# (kesu.matching.geometry; bench/graphics.py). All in one place is refused outright; flat ground only while
# the agreement is as small as chance makes it (the demo fillers reach 26 inliers, copies of flat artwork
# have 40 to 400): above that it is a copy of a drawing, and the calibration weighs spread and texture.
MIN_SPREAD = 0.1
FLAT_TEXTURE = 0.05
FLAT_MAX_INLIERS = 40
FLAT_COPY_INLIERS = 20  # on flat ground on both sides, with close descriptors or agreeing pictures (_flat_copy)
FLAT_BOTH_INLIERS = 15  # the same with both
# The same corner seen twice: the median Hamming distance (of 256 bits) of the inliers' descriptors. Crops and
# screen photos of flat wallpapers that the floors refused: 17-37; chance agreement: 37-55 where both sides are
# flat, 21-57 between a filler and a photo (bench/graphics.py), and under 20 where both sides are near-flat
# patches, whose descriptors all look alike. Not enough on its own: it decides only where the texture of both
# sides already says flat-on-flat and the agreement is large (_flat_copy).
CLOSE_DISTANCE = 28
# geometry.agreement at which a flat copy's corners count as the same though their descriptors are far apart
# (above any chance agreement past the other floors, 0.35 at most in bench/graphics.py), and which an affine
# fallback must reach (_affine_fit): crops agree at 0.97-1.0 under it, chance up to 0.97 on smooth gradients,
# where the inlier floors and the calibration still have their say.
FLAT_AGREEMENT = 0.9
AFFINE_AGREEMENT = 0.8
# Sub-regions hashed for each reference: (scale, x anchor, y anchor), anchors
# as a share of the free room. PDQ tolerates a shift of a few per cent only,
# so regions catch light crops; bench/matching.py measured a 3x3 grid at 90 %
# finding 15 % of 10 % crops and a denser grid at 80 and 70 % adding nearly
# nothing for three times the hashes. Local features do the heavy lifting.
REGIONS = [(0.9, ax, ay) for ax in (0, 0.5, 1) for ay in (0, 0.5, 1)]


@dataclass(frozen=True)
class PdqHash:
    hex: str
    quality: int
    variant: str = "original"  # dihedral variant of the query that produced it
    region: str = "full"  # which part of the reference it covers


@dataclass(frozen=True)
class LocalFeatures:
    points: np.ndarray  # (n, 2) float32, in the coordinates of a ORB_SIDE-bounded copy
    descriptors: np.ndarray  # (n, 32) uint8: 256-bit ORB descriptors
    size: tuple[int, int]  # (width, height) of that copy
    # detail per block (geometry.texture_map); None for references banked before it was kept (issue 19)
    texture: np.ndarray | None = field(default=None, compare=False, repr=False)
    # a small grey copy (geometry.look) for the agreement; None for values made before it was kept
    look: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_bytes(self) -> bytes:
        """Count and size, points, descriptors; then its texture map and its look (each: rows, columns and
        a byte per cell), which the geometric check needs once the pixels are gone (the patrol keeps only
        these values until its search, and of a stranger nothing after it). Bytes written before the map or
        the look existed end earlier and still load."""
        head = np.array([len(self.points), self.size[0], self.size[1]], dtype="<u4").tobytes()
        out = head + self.points.astype("<f4").tobytes() + self.descriptors.astype(np.uint8).tobytes()
        for grid in (self.texture, self.look):
            if grid is None:  # a look is read as the grid after the texture map: none without one
                break
            cells = np.asarray(grid, dtype=np.uint8)
            out += np.array(cells.shape, dtype="<u4").tobytes() + cells.tobytes()
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> "LocalFeatures":
        n, width, height = (int(v) for v in np.frombuffer(raw[:12], dtype="<u4"))
        end = 12 + 40 * n
        points = np.frombuffer(raw[12 : 12 + 8 * n], dtype="<f4").reshape(n, 2)
        descriptors = np.frombuffer(raw[12 + 8 * n : end], dtype=np.uint8).reshape(n, 32)
        texture, end = _grid(raw, end)
        look, _ = _grid(raw, end)
        return cls(points, descriptors, (width, height), texture, look)


def _grid(raw: bytes, start: int) -> tuple[np.ndarray | None, int]:
    """A (rows, columns, bytes) grid written by LocalFeatures.to_bytes at ``start``, and where it ends."""
    if len(raw) <= start:
        return None, start
    rows, cols = (int(v) for v in np.frombuffer(raw[start : start + 8], dtype="<u4"))
    end = start + 8 + rows * cols
    return np.frombuffer(raw[start + 8 : end], dtype=np.uint8).reshape(rows, cols), end


def reduced(image: Image.Image, max_side: int) -> Image.Image:
    """An RGB copy at most ``max_side`` px on its long side (the image itself when it is already): a large
    reduction starts with Pillow's box reduce (reducing_gap), several times faster at camera sizes."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    if max(image.size) <= max_side:
        return image
    factor = max_side / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def rgb_array(image: Image.Image, max_side: int) -> np.ndarray:
    image = image.convert("RGB") if image.mode != "RGB" else image
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(image)


def trim_borders(image: Image.Image, tolerance: int = 12, max_trim: float = 0.35) -> Image.Image:
    """Cut away flat margins (a frame, letterbox or padding of one colour).

    A row or column belongs to the border while its pixels stay within
    `tolerance` of the corner colour. Trimming stops at `max_trim` of a
    side so a dark picture is never trimmed to nothing.
    """
    small = rgb_array(image, 256).astype(np.int16)
    height, width = small.shape[:2]
    box = [0, 0, width, height]
    for side in range(4):
        box = _trim_side(small, box, side, tolerance, max_trim)
    left, top, right, bottom = box
    if (left, top, right, bottom) == (0, 0, width, height):
        return image
    sx, sy = image.width / width, image.height / height
    return image.crop((round(left * sx), round(top * sy), round(right * sx), round(bottom * sy)))


def _trim_side(small: np.ndarray, box: list[int], side: int, tolerance: int, max_trim: float) -> list[int]:
    left, top, right, bottom = box
    height, width = small.shape[:2]
    limit = int((width if side in (0, 2) else height) * max_trim)
    colour = None
    step = 0
    for step in range(limit):
        line = _edge_line(small, (left, top, right, bottom), side, step)
        if colour is None:
            colour = np.median(line, axis=0)
        # a border is one colour all along and all the way in; a gradient or
        # a dark photo edge drifts and stops the trim
        if np.abs(line - colour).max() > tolerance:
            break
    else:
        step = limit
    if step < 2:  # one or two flat lines are the picture's own edge, not a border
        return box
    return [
        left + step * (side == 0),
        top + step * (side == 1),
        right - step * (side == 2),
        bottom - step * (side == 3),
    ]


def _edge_line(small: np.ndarray, box: tuple[int, int, int, int], side: int, step: int) -> np.ndarray:
    left, top, right, bottom = box
    if side == 0:
        return small[top:bottom, left + step]
    if side == 1:
        return small[top + step, left:right]
    if side == 2:
        return small[top:bottom, right - 1 - step]
    return small[bottom - 1 - step, left:right]


def pdq(image: Image.Image) -> tuple[str, int]:
    import pdqhash

    bits, quality = pdqhash.compute(rgb_array(image, PDQ_SIDE))
    return bits_to_hex(bits), int(quality)


DIHEDRAL = ["original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flip_plus1", "flip_minus1"]


def pdq_dihedral(image: Image.Image) -> list[PdqHash]:
    """The 8 dihedral variants in one pass (pdqhash's own, bit-exact with Meta's)."""
    import pdqhash

    hashes, quality = pdqhash.compute_dihedral(rgb_array(image, PDQ_SIDE))
    return [PdqHash(bits_to_hex(bits), int(quality), variant) for bits, variant in zip(hashes, DIHEDRAL, strict=True)]


def region_box(size: tuple[int, int], scale: float, ax: float, ay: float) -> tuple[int, int, int, int]:
    width, height = size
    w, h = round(width * scale), round(height * scale)
    x, y = round((width - w) * ax), round((height - h) * ay)
    return x, y, x + w, y + h


def reference_hashes(image: Image.Image) -> list[PdqHash]:
    """What a reference puts in the bank: its trimmed whole and its sub-regions.

    Queries are hashed in all 8 orientations, so the bank holds one
    orientation only.
    """
    small = image.convert("RGB")
    small.thumbnail((PDQ_SIDE * 2, PDQ_SIDE * 2))
    out = [PdqHash(*pdq(small))]
    trimmed = trim_borders(small)
    if trimmed is not small:  # a reference that came with a frame: bank the picture inside too
        out.append(PdqHash(*pdq(trimmed), region="trimmed"))
        small = trimmed
    for scale, ax, ay in REGIONS:
        part = small.crop(region_box(small.size, scale, ax, ay))
        out.append(PdqHash(*pdq(part), region=f"{scale:g}@{ax:g},{ay:g}"))
    return out


def query_hashes(image: Image.Image) -> list[PdqHash]:
    """A found image hashed in 8 orientations, trimmed of borders when it had any, and the screen it shows
    straightened when it may be a photo of one (matching/screen.py)."""
    out = pdq_dihedral(image)
    trimmed = trim_borders(image)
    if trimmed is not image:
        out += [PdqHash(h.hex, h.quality, h.variant, "trimmed") for h in pdq_dihedral(trimmed)]
    shown = screen.rectified(image)
    if shown is not None:
        out += [PdqHash(h.hex, h.quality, h.variant, "screen") for h in pdq_dihedral(shown)]
    return out


def local_features(image: Image.Image, mirror: bool = False) -> LocalFeatures:
    scale = 1.0
    if max(image.size) < ORB_MIN_SIDE:
        scale = ORB_MIN_SIDE / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
    grey = cv2.cvtColor(rgb_array(image, ORB_SIDE), cv2.COLOR_RGB2GRAY)
    if mirror:
        grey = np.ascontiguousarray(grey[:, ::-1])
    keypoints, descriptors = _spread_keypoints(grey)
    size, texture, look = (grey.shape[1], grey.shape[0]), geometry.texture_map(grey, scale), geometry.look(grey)
    if descriptors is None:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size, texture, look)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    return LocalFeatures(points, descriptors, size, texture, look)


def _spread_keypoints(grey: np.ndarray, grid: int = 4):
    """ORB keypoints spread over the picture: the strongest few per cell of a
    grid, then the strongest of the rest. ORB alone keeps the strongest
    corners anywhere, and a caption or logo pasted on a copy is all corners:
    it would take the whole budget and leave the picture itself unseen."""
    for threshold in (10, 4):  # smooth pictures (gradients, skin, flat artwork) need a lower corner threshold
        orb = cv2.ORB_create(nfeatures=ORB_FEATURES * 4, fastThreshold=threshold)
        found = orb.detect(grey, None)
        if len(found) >= ORB_FEATURES // 2:
            break
    height, width = grey.shape
    cells: dict[tuple[int, int], list] = {}
    for kp in sorted(found, key=lambda k: -k.response):
        cells.setdefault((int(kp.pt[0] * grid / width), int(kp.pt[1] * grid / height)), []).append(kp)
    share = ORB_FEATURES // (grid * grid)
    kept = [kp for cell in cells.values() for kp in cell[:share]]
    rest = sorted((kp for cell in cells.values() for kp in cell[share:]), key=lambda k: -k.response)
    kept += rest[: ORB_FEATURES - len(kept)]
    return orb.compute(grey, kept)


RATIO = 0.8  # Lowe's ratio test, here between two pictures (the bank's own is indexes.DescriptorIndex.RATIO)
MAX_DISTANCE = 64  # Hamming distance of 256-bit descriptors beyond which two corners are not the same


def candidate_pairs(query: LocalFeatures, reference: LocalFeatures, voted: np.ndarray) -> np.ndarray:
    """The point pairs the geometric check gets for one shortlisted reference: the bank's votes for it, joined
    by the query matched against that reference alone (Lowe's two-picture ratio test).

    The bank's ratio test weighs a match against the nearest descriptor of any *other* reference, which
    is right for shortlisting but vetoes a copy's matches wherever the bank holds the same picture twice
    (a reference and a crop or tile of it, banked for one case): the runner-up is then as near as the
    best. Against the candidate alone that cannot happen. The union keeps what the bank's test keeps of a
    picture's own repeated texture, which the two-picture test would veto in turn. bench/graphics.py
    --quick, whose bank holds tiles of some of its sources: pink recall of crop_20 86.4 -> 90.9 %, crop_30
    86.4 -> 95.5 %, resize_25 95.5 -> 100 %, no false positive; about 1.4 ms per candidate checked.
    """
    if not len(query.descriptors) or len(reference.descriptors) < 2:
        return voted
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, reference.descriptors, k=2)
    own = [(m[0].queryIdx, m[0].trainIdx) for m in knn
           if len(m) == 2 and m[0].distance <= MAX_DISTANCE and m[0].distance < RATIO * m[1].distance]  # fmt: skip
    if not own:
        return voted
    return np.unique(np.concatenate([np.asarray(voted, np.int64).reshape(-1, 2), np.array(own, np.int64)]), axis=0)


@dataclass(frozen=True)
class Verification:
    inliers: int
    matches: int
    coverage: float  # share of the reference's area the found copy shows (0-1)
    spread: float = 0.0  # share of that visible part over which the inliers lie (0-1)
    texture: float = 0.0  # share of the matched region of the found image with photo-like detail (0-1)
    refused: str = ""  # the check that turned the transform down, if one did
    distance: float = 64.0  # median Hamming distance of the inliers' descriptors (bits of 256)
    ref_texture: float = -1.0  # as texture, in the reference (-1: banked without its texture map)
    agreement: float = -1.0  # geometry.agreement of the two pictures under the transform (-1: a look unknown)
    affine: bool = False  # the transform is the affine fallback (_affine_fit), the homography having folded


def verify(query: LocalFeatures, reference: LocalFeatures, pairs: np.ndarray, raw: bool = False) -> Verification:
    """RANSAC: do the matched points agree on one perspective transform, the way a copy of a photo does?

    `pairs` holds (query index, reference index) rows of descriptor matches.
    `raw` skips the floors (calibration looks at what chance agreement
    gives below them) and reports what would have refused it.
    Unrelated pictures give a handful of scattered inliers; a copy gives
    dozens that agree, spread over what it shows, on textured ground.
    """
    if len(pairs) < 6:
        return Verification(0, len(pairs), 0.0, refused="pairs")
    src = reference.points[pairs[:, 1]]
    dst = query.points[pairs[:, 0]]
    matrix, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 5.0, maxIters=2000, confidence=0.999)
    affine = matrix is None or not _plausible(matrix, reference.size, query.size)
    if affine:
        matrix, mask, agreement = _affine_fit(src, dst, query, reference)
        if matrix is None:
            return Verification(0, len(pairs), 0.0, refused="transform")
    else:
        agreement = geometry.agreement(matrix, query.look, query.size, reference.look, reference.size)
    kept = mask.ravel().astype(bool)
    inliers = int(kept.sum())
    coverage, seen = _coverage(matrix, reference.size, query.size)
    if inliers < 4:  # MAGSAC can end with fewer than it needs: nothing to measure
        return Verification(inliers if raw else 0, len(pairs), coverage if raw else 0.0, refused="inliers")
    found = geometry.shape(matrix, src[kept], dst[kept], seen, reference.size, query.texture, reference.texture)
    distance = float(np.median(_hamming(query.descriptors[pairs[kept, 0]], reference.descriptors[pairs[kept, 1]])))
    refused = _refusal(inliers, coverage, found, distance, agreement)
    if refused and not raw:
        return Verification(0, len(pairs), 0.0, refused=refused)
    shape = {"spread": found.spread, "texture": found.texture, "ref_texture": found.ref_texture}
    return Verification(inliers, len(pairs), coverage, refused=refused, distance=distance, agreement=agreement,
                        affine=affine, **shape)  # fmt: skip


def _affine_fit(src: np.ndarray, dst: np.ndarray, query: LocalFeatures, reference: LocalFeatures):
    """An affine transform where the homography folded or collapsed, kept only if the pictures agree under it;
    with its inlier mask and that agreement (None, None, -1 when refused).

    With few inliers bunched in part of a crop, the homography's two perspective terms are free to fold the
    reference's far corners; crops, resizes and small rotations are affine, and six parameters fit where
    eight do not. A fit of chance points would let drawings through (a similarity fit tried before without
    this check passed a demo filler at 0.979): it must make the two looks agree as a copy's do.
    bench/graphics.py: crop_20 of Elarun, folded before, agrees at 0.97 under its affine fit.
    """
    fitted, mask = cv2.estimateAffine2D(src, dst, method=cv2.USAC_MAGSAC, ransacReprojThreshold=5.0)
    if fitted is None:
        return None, None, -1.0
    matrix = np.vstack([fitted, [0.0, 0.0, 1.0]])
    if not _plausible(matrix, reference.size, query.size):
        return None, None, -1.0
    agreement = geometry.agreement(matrix, query.look, query.size, reference.look, reference.size)
    return (matrix, mask, agreement) if agreement >= AFFINE_AGREEMENT else (None, None, -1.0)


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.unpackbits(np.bitwise_xor(a, b), axis=1).sum(axis=1)


def _refusal(inliers: int, coverage: float, found: geometry.Shape, distance: float, agreement: float) -> str:
    if inliers < MIN_INLIERS:
        return "inliers"
    if coverage < MIN_COVERAGE:
        return "coverage"
    if not found.sane:
        return "shape"
    if found.spread < MIN_SPREAD:
        return "spread"
    flat_ground = 0 <= found.texture < FLAT_TEXTURE  # -1: no pixels to look at
    if flat_ground and inliers < FLAT_MAX_INLIERS and not _flat_copy(inliers, found, distance, agreement):
        return "texture"
    return ""


def _flat_copy(inliers: int, found: geometry.Shape, distance: float, agreement: float) -> bool:
    """Flat ground on both sides, the same corners, and many of them: a copy of flat artwork, not chance.

    Screen photos and crops of flat wallpapers agree on 20-37 points at a median distance of 17-28; chance
    between two flat pictures on fewer, or farther apart (bench/graphics.py, flat wallpapers and their tiles
    against fillers and drawings). Or the two pictures agree all over under the transform, as chance does not
    (a screen photo's glare and moiré raise its distance: Patak's 24 points at 38, agreeing at 0.94). Both
    together let fewer points through (a 20 % crop of Elarun: 17 points, 17 bits apart, the pictures agreeing
    under its affine fit)."""
    flat = 0 <= found.ref_texture < FLAT_TEXTURE
    signs = (distance <= CLOSE_DISTANCE) + (agreement >= FLAT_AGREEMENT)
    return flat and signs > 0 and inliers >= (FLAT_BOTH_INLIERS if signs == 2 else FLAT_COPY_INLIERS)


def _plausible(matrix: np.ndarray, ref_size: tuple[int, int], query_size: tuple[int, int]) -> bool:
    """Refuse degenerate transforms (collapsed, mirrored, wildly skewed)."""
    corners = _corners(ref_size)
    mapped = cv2.perspectiveTransform(corners, matrix)
    area = cv2.contourArea(mapped)
    if not np.isfinite(area) or area < 0.01 * query_size[0] * query_size[1]:
        return False
    return cv2.isContourConvex(mapped.astype(np.float32).reshape(-1, 1, 2))


def _corners(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return np.array([[[0, 0]], [[width, 0]], [[width, height]], [[0, height]]], dtype=np.float32)


def _coverage(matrix: np.ndarray, ref_size: tuple[int, int], query_size: tuple[int, int]) -> tuple[float, np.ndarray]:
    """How much of the reference lies inside the found image, and that part (a polygon in reference pixels)."""
    inverse = np.linalg.inv(matrix)
    seen = cv2.perspectiveTransform(_corners(query_size), inverse).reshape(-1, 2)
    width, height = ref_size
    seen[:, 0] = seen[:, 0].clip(0, width)
    seen[:, 1] = seen[:, 1].clip(0, height)
    return float(cv2.contourArea(seen.astype(np.float32)) / (width * height)), seen
