"""A photo from a drawing: graphics never score as her picture, her pictures still do.

The bank is the production Bank with its real signal types (PDQ and ORB), filled with the demo case's
pictures; every query is a real JPEG made here (the demo web's fillers, kesu.demo.graphics' flat artwork,
screenshots, text and memes). One test goes through the database and ``services.match`` end to end.
The full 400 fillers are in bench/graphics.py; here a fixed sample of 60.
"""

import io
import json
import random

import pytest
from PIL import Image

from kesu.demo import graphics
from kesu.demo.load import _astronaut, _coffee, _grace_hopper
from kesu.demo.media import filler
from kesu.matching import bank as banks
from kesu.matching import calibration, services, signals
from kesu.matching import image as features
from kesu.matching.bank import Bank
from kesu.matching.signals import Medium, found_medium

FILLER_SAMPLE = sorted(random.Random(19).sample(range(400), 60))


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def jpeg(picture: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_pictures() -> list[Image.Image]:
    return [decoded(data) for _, data in (_astronaut(), _coffee(), _grace_hopper())]


@pytest.fixture(scope="module")
def demo_bank(demo_pictures) -> Bank:
    bank = Bank()
    for owner, picture in enumerate(demo_pictures):
        bank.add_medium(owner, 0, Medium(b"", "image", picture, reference=True), ["pdq", "orb"])
    return bank


def best(bank: Bank, picture: Image.Image):
    found = bank.search(found_medium(Medium(jpeg(picture), "image", picture), ["pdq", "orb"]))
    return found[0] if found else None


def test_demo_fillers_never_score_as_her_picture(demo_bank):
    scores = {}
    for n in FILLER_SAMPLE:
        hit = best(demo_bank, decoded(filler(n)))
        scores[n] = hit.probability if hit else 0.0
    assert max(scores.values()) < calibration.REVIEW_CUT, {n: p for n, p in scores.items() if p >= 0.5}


def test_flat_artwork_screenshots_text_and_memes_never_score_as_her_picture(demo_bank):
    from skimage import data

    photos = [Image.fromarray(getattr(data, name)()).convert("RGB") for name in ("moon", "coins", "rocket", "camera")]
    drawn = graphics.negatives(5, photos)
    assert {name.split(":")[0] for name, _ in drawn} == {"flat", "screenshot", "text", "meme"}
    scores = {}
    for name, picture in drawn:
        hit = best(demo_bank, picture)
        scores[name] = hit.probability if hit else 0.0
    assert max(scores.values()) < calibration.REVIEW_CUT, {n: p for n, p in scores.items() if p >= 0.5}


def crop_20(picture: Image.Image) -> Image.Image:
    """A fifth off each side's length, off centre."""
    w, h = picture.size
    return picture.crop((int(w * 0.14), int(h * 0.06), int(w * 0.94), int(h * 0.86)))


def flipped_and_bordered(picture: Image.Image) -> Image.Image:
    flipped = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = Image.new("RGB", (flipped.width + 80, flipped.height + 80), (255, 255, 255))
    out.paste(flipped, (40, 40))
    return out


@pytest.mark.parametrize("owner", [0, 1, 2])
@pytest.mark.parametrize("copy", [crop_20, flipped_and_bordered])
def test_her_pictures_cropped_or_flipped_and_bordered_are_still_pink(demo_bank, demo_pictures, owner, copy):
    hit = best(demo_bank, decoded(jpeg(copy(demo_pictures[owner]), 80)))
    assert hit is not None and hit.owner == owner
    assert hit.probability >= calibration.PINK, hit.as_dict()


def test_a_crop_is_found_by_local_features_that_explain_themselves(demo_bank, demo_pictures):
    hit = best(demo_bank, crop_20(demo_pictures[0]))
    local = hit.as_dict()["local"]
    assert local["inliers"] >= features.MIN_INLIERS
    assert local["spread"] >= 0.5 and local["texture"] >= 0.3  # over most of what it shows, on a photo's texture
    assert 0.5 < local["coverage"] < 0.8  # a 20 % crop shows about 64 % of the picture
    assert local["agreement"] > 0.9  # and the pictures agree under the transform, not only the corners


def test_graphics_that_passed_the_old_floors_are_refused_and_say_why(demo_bank):
    """Raw checks of fillers against the demo pictures: some agree by chance on 10 or more points over a
    tenth of the picture (the old floors let them through); a new floor refuses each and names itself."""
    index = demo_bank.indexes["orb"]
    reasons = []
    for n in FILLER_SAMPLE:
        local = features.local_features(decoded(filler(n)))
        for owner, pairs in index.vote(local.descriptors).items():
            if len(pairs) < 6:
                continue
            result = features.verify(local, index.features[owner], pairs, raw=True)
            if result.inliers >= features.MIN_INLIERS and result.coverage >= features.MIN_COVERAGE:
                reasons.append(result.refused)
                assert features.verify(local, index.features[owner], pairs).inliers == 0
    assert reasons and set(reasons) <= {"shape", "spread", "texture"}, reasons


def test_a_crop_is_pink_end_to_end_and_a_screenshot_is_not_a_hit(case, astronaut_png):
    banks.forget()
    crop = services.match(jpeg(crop_20(decoded(astronaut_png)), 85)).candidates
    assert crop and crop[0].probability >= calibration.PINK
    assert {"spread", "texture"} <= set(crop[0].evidence["local"])
    screenshot = services.match(jpeg(graphics.screenshot(7))).candidates
    assert all(c.probability < calibration.REVIEW_CUT for c in screenshot)
    banks.forget()


def test_a_desk_refit_of_the_old_local_model_is_set_aside(settings, tmp_path):
    """A refit written before spread and texture were features has 3 weights: the shipped model applies."""
    settings.KESU_CALIBRATION_FILE = str(tmp_path / "calibration-desk.json")
    shipped = signals.probability("local", 30, 60, 0.8, 0.5)
    stale = {"signals": {"local": {"weights": [-28.0, 10.0, 7.4]}, "pdq": {"weights": [10.0, -8.0]}}}
    (tmp_path / "calibration-desk.json").write_text(json.dumps(stale))
    assert signals.probability("local", 30, 60, 0.8, 0.5) == pytest.approx(shipped)
    assert calibration.params()["pdq"]["weights"] == [10.0, -8.0]  # a refit that still fits is kept
