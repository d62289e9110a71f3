"""A phone photo of a screen showing her picture: the screen is found and straightened, and PDQ finds the
picture in it (kesu.matching.screen). The screen photos are made here with OpenCV (perspective, a dark bezel,
glare, noise, blur, JPEG); the pictures are scikit-image's public-domain samples."""

import io

import cv2
import numpy as np
from PIL import Image, ImageFilter
from skimage import data

from kesu.matching import calibration, screen
from kesu.matching import image as features
from kesu.matching.bank import Bank
from kesu.matching.signals import Medium, found_medium


def picture(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def screen_photo(image: Image.Image, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    src = np.asarray(image).astype(np.float32) * 0.85 + 20
    height, width = src.shape[:2]
    canvas = (round(width * 1.3), round(height * 1.3))
    shares = np.float32([[0.12, 0.12], [0.88, 0.10], [0.90, 0.90], [0.10, 0.88]]) + rng.uniform(-0.05, 0.05, (4, 2))
    target = (shares * np.float32(canvas)).astype(np.float32)
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    warped = cv2.warpPerspective(src, cv2.getPerspectiveTransform(corners, target), canvas, borderValue=(25, 25, 28))
    yy, xx = np.mgrid[0 : canvas[1], 0 : canvas[0]]
    glare = 50 * np.exp(
        -(((xx - 0.7 * canvas[0]) / (0.3 * canvas[0])) ** 2 + ((yy - 0.3 * canvas[1]) / canvas[1]) ** 2)
    )
    noisy = warped + glare[:, :, None] + rng.normal(0, 5, warped.shape)
    shot = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    out = io.BytesIO()
    shot.save(out, "JPEG", quality=80)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def pdq_distance(a: Image.Image, b: Image.Image) -> int:
    return bin(int(features.pdq(a)[0], 16) ^ int(features.pdq(b)[0], 16)).count("1")


def test_the_screen_in_a_photo_of_it_is_found_and_straightened():
    for name, seed in (("astronaut", 1), ("coffee", 2), ("chelsea", 3)):
        original = picture(name)
        shot = screen_photo(original, seed)
        shown = screen.rectified(shot)
        assert shown is not None
        assert abs(shown.width / shown.height - original.width / original.height) < 0.08
        assert pdq_distance(shown, original) <= 31 < 60 <= pdq_distance(shot, original), name


def test_a_picture_with_no_screen_in_it_has_nothing_to_straighten():
    rng = np.random.default_rng(5)
    noise = Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).filter(ImageFilter.GaussianBlur(3))
    assert screen.rectified(noise) is None
    assert screen.rectified(Image.new("RGB", (400, 300), (90, 90, 90))) is None
    for size in ((1, 1), (40, 30), (3000, 20), (64, 64)):  # a thumbnail, a banner, a flat square: nothing, no error
        assert screen.rectified(Image.new("RGB", size, (10, 10, 10))) is None


def test_a_screen_photo_of_her_picture_is_pink_by_pdq_of_the_screen():
    bank = Bank()
    bank.add_medium(1, 0, Medium(b"", "image", picture("coffee"), reference=True), ["pdq"])
    shot = screen_photo(picture("coffee"), 4)
    hits = bank.search(found_medium(Medium(b"", "image", shot), ["pdq"]))
    assert hits and hits[0].owner == 1
    assert hits[0].pdq_region.startswith("screen/") and hits[0].probability >= calibration.PINK
