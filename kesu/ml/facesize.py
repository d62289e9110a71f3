"""How a face's size and sharpness weigh in the probability of a face match (no model is loaded here: the
matcher imports it).

A face is embedded from ``faces.MIN_SIZE`` px up, however blurred; a face smaller than FULL_SIZE, or less
sharp than SHARP, carries less of the person, so the face signal's calibration (`features`) is given its
`smallness` and `blurriness`, and a face under PINK_MIN_SIZE never makes a hit pink on its own: it reaches
review instead.
"""

import math

# A face this large (px in the found picture) or larger counts as full-sized. Measured when the old gate
# was set: faces shrunk to 40 px moved their embedding by 0.22 (median; max 0.29) from the full-size
# one, at 32 px by 0.29 (max 0.38), next to genuine pairs' 0.38 (median) and the 0.6 match limit.
FULL_SIZE = 64
# Under this size the fit is not trusted to say "pink" on a face alone: the calibration set holds few
# small genuine faces (faces-dev and its thumbnails: 162 genuine pairs under 40 px, 41 of 40-63 px),
# their genuine distances spread (median 0.51 under 40 px, 0.40 from 64 px) while strangers come as near
# as to large faces (nearest impostor 0.53 under 40 px, 0.56 from 64 px: bench/calibrate.py).
PINK_MIN_SIZE = FULL_SIZE
SMALL_FACE_CEILING = 0.9  # under calibration.PINK, over calibration.REVIEW_CUT
# Variance of the Laplacian on the aligned chip's centre (faces.sharpness) from which a face counts as sharp:
# sharp faces-dev chips measured >= 77; a chip blurred with sigma 1.5 a median 20, whose embedding moved by
# 0.20. A 23 px face on a 120 px thumbnail measures ~10.
SHARP = 64.0


def smallness(size: float | None) -> float:
    """0 for a full-sized face (or one of unknown size, written before sizes were), +1 per halving under FULL_SIZE."""
    return 0.0 if size is None else max(0.0, math.log2(FULL_SIZE / max(size, 1.0)))


def blurriness(sharpness: float | None) -> float:
    """0 for a sharp face (or one whose sharpness was not recorded), +1 per halving under SHARP."""
    return 0.0 if sharpness is None else max(0.0, math.log2(SHARP / max(sharpness, 1.0)))


def features(distance: float, size: float | None = None, sharpness: float | None = None) -> list[float]:
    """The face calibration's features (an intercept first): the distance, how much smaller than full-sized
    and how much blurrier than sharp the found face was, and the distance's interaction with its smallness."""
    small = smallness(size)
    return [1.0, distance, small, distance * small, blurriness(sharpness)]


def ceiling(size: float | None) -> float:
    """The highest probability a face match of this size (px in the found picture) may have on its own."""
    return SMALL_FACE_CEILING if size is not None and size < PINK_MIN_SIZE else 1.0
