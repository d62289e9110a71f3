"""The agreement of two pictures under a transform (kesu.matching.geometry.agreement): a copy agrees with her
picture all over, an unrelated picture does not, whatever corners happened to line up; and what the geometric
check does with it (the flat-copy rule, the affine fallback, values made before looks were kept).

Pictures: scikit-image's public-domain samples, shipped inside the package."""

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data

from kesu.matching import geometry, signals
from kesu.matching import image as features


def picture(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)()).convert("RGB")


BOX = (40, 70, 450, 480)  # a 20 % crop of a 512 px picture, off centre


def crop_transform(reference: features.LocalFeatures, query: features.LocalFeatures) -> np.ndarray:
    """The true transform from the reference's ORB-size copy to the crop's (enlarged to ORB_MIN_SIDE)."""
    scale = query.size[0] / (BOX[2] - BOX[0])
    return np.array([[scale, 0, -BOX[0] * scale], [0, scale, -BOX[1] * scale], [0, 0, 1.0]])


def agreement(reference: features.LocalFeatures, query: features.LocalFeatures) -> float:
    return geometry.agreement(crop_transform(reference, query), query.look, query.size, reference.look, reference.size)


def with_glare(image: Image.Image) -> Image.Image:
    """Darker, then a bright smooth patch, as a photo of a screen has."""
    pixels = np.asarray(image).astype(np.float32) * 0.8 + 20
    yy, xx = np.mgrid[0 : image.height, 0 : image.width]
    glare = 70 * np.exp(
        -(((xx - 0.7 * image.width) / (0.3 * image.width)) ** 2 + ((yy - 0.3 * image.height) / image.height) ** 2)
    )
    return Image.fromarray(np.clip(pixels + glare[:, :, None], 0, 255).astype(np.uint8))


def test_a_crop_agrees_with_her_picture_and_an_unrelated_picture_does_not():
    reference = features.local_features(picture("astronaut"))
    assert agreement(reference, features.local_features(picture("astronaut").crop(BOX))) > 0.95
    assert agreement(reference, features.local_features(with_glare(picture("astronaut").crop(BOX)))) > 0.8
    for other in ("coffee", "chelsea", "rocket"):
        assert abs(agreement(reference, features.local_features(picture(other).resize((512, 512)).crop(BOX)))) < 0.4


def test_flat_artwork_agrees_with_its_copy_and_not_with_other_flat_artwork():
    """Smooth shapes on flat ground: nothing for texture to see, everything for the agreement."""

    def drawing(seed: int) -> Image.Image:
        rng = np.random.default_rng(seed)
        image = Image.new("RGB", (512, 512), tuple(int(v) for v in rng.integers(0, 255, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y, r = (int(v) for v in rng.integers(40, 470, 3))
            draw.ellipse(
                (x - r // 4, y - r // 4, x + r // 4, y + r // 4), fill=tuple(int(v) for v in rng.integers(0, 255, 3))
            )
        return image

    reference = features.local_features(drawing(1))
    assert agreement(reference, features.local_features(drawing(1).crop(BOX))) > 0.95
    assert agreement(reference, features.local_features(drawing(2).crop(BOX))) < 0.5


def test_looks_are_kept_in_the_bytes_and_values_made_before_them_still_load():
    local = features.local_features(picture("astronaut"))
    assert local.look is not None and max(local.look.shape) == geometry.LOOK_SIDE and local.look.dtype == np.uint8
    again = features.LocalFeatures.from_bytes(local.to_bytes())
    assert np.array_equal(again.look, local.look) and np.array_equal(again.texture, local.texture)
    before = features.LocalFeatures.from_bytes(local.to_bytes()[: -(8 + local.look.size)])
    assert before.look is None and np.array_equal(before.texture, local.texture)
    assert geometry.agreement(np.eye(3), local.look, local.size, before.look, before.size) == -1.0


def test_an_unknown_agreement_neither_raises_nor_lowers_the_probability():
    unknown = signals.probability("local", 18, 90, 0.6, 0.5, -1.0)
    assert unknown == pytest.approx(signals.probability("local", 18, 90, 0.6, 0.5, 0.5))
    assert (
        signals.probability("local", 18, 90, 0.6, 0.5, 1.0)
        >= unknown
        >= signals.probability("local", 18, 90, 0.6, 0.5, 0.0)
    )


def test_the_affine_fallback_keeps_a_crops_transform_and_refuses_chance_points():
    reference = features.local_features(picture("astronaut"))
    query = features.local_features(picture("astronaut").crop(BOX))
    truth = crop_transform(reference, query)
    rng = np.random.default_rng(3)
    src = rng.uniform([BOX[0] + 10, BOX[1] + 10], [BOX[2] - 10, BOX[3] - 10], (30, 2)).astype(np.float32)
    dst = (src @ truth[:2, :2].T + truth[:2, 2]).astype(np.float32) + rng.normal(0, 1, src.shape).astype(np.float32)
    matrix, mask, agreement = features._affine_fit(src, dst, query, reference)
    assert matrix is not None and mask.sum() >= 25 and np.allclose(matrix, truth, atol=0.05 * truth[0, 0] + 2)
    assert agreement >= features.AFFINE_AGREEMENT
    unrelated = features.local_features(picture("coffee").resize((512, 512)).crop(BOX))
    assert features._affine_fit(src, dst, unrelated, reference) == (None, None, -1.0)


FLAT = geometry.Shape(spread=0.4, texture=0.01, sane=True, ref_texture=0.01)


def test_flat_ground_on_both_sides_needs_close_corners_or_pictures_that_agree():
    """Patak's screen photo in bench/graphics.py: 24 inliers on flat ground, descriptors 38 bits apart (glare
    and moiré), the pictures agreeing at 0.94: a copy. The same points with pictures that do not agree: chance."""
    assert features._refusal(24, 1.0, FLAT, 38, 0.94) == ""
    assert features._refusal(24, 1.0, FLAT, 38, 0.5) == "texture"
    assert features._refusal(24, 1.0, FLAT, 20, 0.5) == ""  # close descriptors, as before
    assert features._refusal(17, 1.0, FLAT, 17, 0.95) == ""  # both: fewer points do (Elarun's 20 % crop)
    assert features._refusal(17, 1.0, FLAT, 17, 0.5) == "texture"
    assert features._refusal(17, 1.0, FLAT, 38, 0.95) == "texture"
    assert features._refusal(12, 1.0, FLAT, 12, 0.99) == "texture"  # too few points whatever else agrees
