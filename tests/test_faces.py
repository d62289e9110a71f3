"""Face and nudity analysis on public-domain images that ship in packages.

astronaut (Eileen Collins) and grace_hopper are real faces of two different women; coffee,
rocket and chelsea (a cat) have none. Models load once per module.
"""

import json
from io import BytesIO

import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps
from skimage import data

from kesu.lib.errors import UserError
from kesu.ml import analysis, faces, facesize, nudity
from kesu.ml.analysis import analyse


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(BytesIO(out.getvalue()))


def scaled(image: Image.Image, factor: float) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return Image.open(f).convert("RGB")


@pytest.fixture(scope="module")
def astronaut_result(astronaut):
    return analyse(astronaut)


@pytest.fixture(scope="module")
def hopper_result(hopper):
    return analyse(hopper)


def only_face(result: analysis.Analysis) -> faces.Face:
    assert len(result.usable_faces) == 1, result.to_json()
    return result.usable_faces[0]


@pytest.mark.parametrize("name", ["astronaut_result", "hopper_result"])
def test_a_face_is_found_with_landmarks_inside_its_box(name, request):
    face = only_face(request.getfixturevalue(name))
    x, y, w, h = face.box
    assert w >= faces.MIN_SIZE and h >= faces.MIN_SIZE
    assert len(face.landmarks) == 5
    for px, py in face.landmarks:
        assert x <= px <= x + w and y <= py <= y + h
    assert face.ok and face.reason is None
    assert face.embedding.shape == (128,) and face.embedding.dtype == np.float32
    assert abs(face.quality["yaw"]) < 0.2  # both look at the camera


def test_the_box_is_where_the_face_is(astronaut_result):
    # Eileen Collins' face in scikit-image's astronaut spans about x 175-275, y 75-190.
    x, y, w, h = only_face(astronaut_result).box
    assert 200 < x + w / 2 < 250 and 110 < y + h / 2 < 160


def test_boxes_of_a_large_image_are_in_its_own_pixels(astronaut, astronaut_result):
    big = scaled(astronaut, 4)  # 2048 px: analysed on a 1600 px copy, boxes mapped back
    small_box = np.array(only_face(astronaut_result).box, float)
    big_box = np.array(only_face(analyse(big)).box, float)
    assert np.allclose(big_box, 4 * small_box, atol=0.1 * 4 * small_box[2])


@pytest.mark.parametrize("make", [data.coffee, data.rocket, data.chelsea])
def test_no_face_passes_the_gate_without_a_face(make):
    assert analyse(Image.fromarray(make())).usable_faces == []


def test_the_same_face_survives_recompression_resizing_and_mirroring(
    astronaut, hopper, astronaut_result, hopper_result
):
    for image, original in ((astronaut, astronaut_result), (hopper, hopper_result)):
        copy = ImageOps.mirror(scaled(jpeg(image, 40), 0.5))
        again = only_face(analyse(copy))
        assert faces.face_distance(again.embedding, only_face(original).embedding) <= faces.MATCH_DISTANCE


def test_two_different_women_are_apart(astronaut_result, hopper_result):
    a, b = only_face(astronaut_result).embedding, only_face(hopper_result).embedding
    assert faces.face_distance(a, b) > faces.MATCH_DISTANCE


def thumbnail(image: Image.Image, side: int) -> Image.Image:
    """What adult-site listings show: the picture with its long side shrunk to ``side`` px, JPEG q70."""
    return jpeg(scaled(image, side / max(image.size)), 70)


def test_a_face_in_a_120_px_thumbnail_is_found_embedded_and_measured_in_the_thumbnails_pixels(hopper, hopper_result):
    small = thumbnail(hopper, 120)
    face = only_face(analyse(small))
    full = only_face(hopper_result)
    assert faces.MIN_SIZE <= face.quality["size"] < facesize.FULL_SIZE  # weak, not dropped
    assert face.quality["size"] == pytest.approx(min(full.box[2:]) * 120 / max(hopper.size), rel=0.25)
    x, y, w, h = face.box  # in the thumbnail's own pixels, around the full-size face scaled down
    fx, fy, fw, fh = (v * 120 / max(hopper.size) for v in full.box)
    assert abs(x + w / 2 - (fx + fw / 2)) < fw / 3 and abs(y + h / 2 - (fy + fh / 2)) < fh / 3
    assert faces.face_distance(face.embedding, full.embedding) <= faces.MATCH_DISTANCE


def test_dlib_finds_a_face_in_a_thumbnail_where_yolo_alone_does_not(astronaut, astronaut_result):
    # Her face ~14 % of a 160 px thumbnail's long side (22 px): the enlarged copy's HOG pass finds it.
    small = thumbnail(astronaut, 160)
    rgb, scale = analysis.working_copy(small)
    assert scale == pytest.approx(min(analysis.MAX_UPSAMPLING, analysis.UPSAMPLED_SIDE / 160), rel=0.01)
    hog = analysis.hog_faces(rgb)
    assert len(hog) == 1 and "rect" in hog[0]
    found = analyse(small).usable_faces
    assert len(found) == 1
    assert faces.face_distance(found[0].embedding, only_face(astronaut_result).embedding) <= faces.MATCH_DISTANCE


def test_a_14_px_face_is_found_by_the_tiny_face_pass_alone_and_embedded(astronaut, astronaut_result):
    # a 73 px picture: enlarged 4x, her face is under HOG's 80 px window; upsampled once more, HOG sees it
    factor = 14 / min(only_face(astronaut_result).box[2:])
    small = scaled(astronaut, factor)
    rgb, scale = analysis.working_copy(small)
    assert analysis.hog_faces(rgb) == [] and len(analysis.hog_faces(rgb, analysis.TINY_FACE_HOG_UPSAMPLING)) == 1
    result = analyse(small)
    face = only_face(result)  # weak, not dropped
    assert faces.MIN_SIZE <= face.quality["size"] < 2 * faces.MIN_SIZE <= facesize.FULL_SIZE
    assert face.embedding is not None and face.reason is None
    x, y, w, h = face.box  # in the 73 px picture's own pixels, where her face is
    fx, fy, fw, fh = (v * factor for v in only_face(astronaut_result).box)
    assert abs(x + w / 2 - (fx + fw / 2)) < fw / 2 and abs(y + h / 2 - (fy + fh / 2)) < fh / 2


def test_the_tiny_face_pass_skips_a_portrait_whose_bystander_it_would_find(astronaut, astronaut_result, hopper):
    # a 160 x 140 thumbnail: the astronaut's face at 14 px in a corner, alone or beside Grace Hopper's 40+ px one
    x, y, w, h = only_face(astronaut_result).box
    tiny = astronaut.crop((x - w, y - h, x + 2 * w, y + 2 * h)).resize((42, 42), Image.Resampling.LANCZOS)
    pictures = []
    for with_hopper in (False, True):
        ground = Image.fromarray(data.coffee()).resize((160, 140))
        if with_hopper:
            ground.paste(scaled(hopper, 140 / hopper.height), (0, 0))
        ground.paste(tiny, (160 - 42, 140 - 42))
        pictures.append(analyse(ground).usable_faces)
    alone, beside = pictures
    assert len(alone) == 1 and alone[0].box[0] > 100 and alone[0].quality["size"] < 2 * faces.MIN_SIZE
    assert len(beside) == 1 and beside[0].box[0] < 100  # hers only: a portrait, where a tiny face is a bystander
    assert min(beside[0].box[2:]) >= analysis.TINY_PASS_PORTRAIT * 160


def test_a_face_under_min_size_is_reported_but_too_small(astronaut, astronaut_result):
    rgb = np.asarray(astronaut)
    x, y, _, _ = only_face(astronaut_result).box
    size = faces.MIN_SIZE - 2
    face = faces.describe(rgb, [x, y, size, size], 0.9)
    assert not face.ok and face.reason == "too small" and face.quality["size"] < faces.MIN_SIZE
    assert face.embedding is None and face.embeddings == []


def test_a_blurred_face_is_embedded_with_its_sharpness_measured(astronaut, astronaut_result):
    result = analyse(astronaut.filter(ImageFilter.GaussianBlur(4)))
    face = only_face(result)  # weak, not dropped: its sharpness goes with it
    assert face.quality["sharpness"] < only_face(astronaut_result).quality["sharpness"] / 4
    assert face.embedding is not None


def test_faces_embedded_in_one_batch_are_those_embedded_one_by_one(astronaut_result, hopper, astronaut):
    chips = []
    for image in (astronaut, hopper):
        rgb, _ = analysis.working_copy(image)
        det = analysis.detect(rgb)[0][0]
        chips.append(faces.align(rgb, faces.locate(rgb, det["box"])))
    batch = faces.embed_batch(chips)
    assert len(batch) == 2 and faces.embed_batch([]) == []
    for chip, vector in zip(chips, batch, strict=True):
        assert faces.face_distance(vector, faces.embed(chip)) < 1e-4


def test_clothed_portraits_get_a_low_nudity_score(astronaut_result, hopper_result):
    for result in (astronaut_result, hopper_result):
        assert 0.0 <= result.nudity < 0.3
        assert all(label.name not in nudity.FACE_CLASSES for label in result.labels)


def test_nudity_score_weights_exposed_parts_over_covered_ones():
    found = nudity.labels(
        [
            {"class": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 10, 10]},
            {"class": "BELLY_COVERED", "score": 0.9, "box": [0, 10, 10, 10]},
            {"class": "FEMALE_GENITALIA_EXPOSED", "score": 0.6, "box": [20, 40, 10, 10]},
        ],
        scale=0.5,
    )
    assert [label.name for label in found] == ["FEMALE_GENITALIA_EXPOSED", "BELLY_COVERED"]
    assert found[0].box == (40, 80, 20, 20)  # back in the original's pixels
    assert nudity.score(found) == pytest.approx(0.6)
    assert nudity.score(found[1:]) < 0.1
    assert nudity.score([]) == 0.0


def test_small_faces_in_a_large_image_are_found(astronaut, astronaut_result):
    # A face ~5.5 % of the long side (88 px of 1600): the 320 pass alone misses it, the 640 pass finds it.
    x, y, w, h = only_face(astronaut_result).box
    crop = astronaut.crop((x - w // 2, y - h // 2, x + w + w // 2, y + h + h // 2)).resize((176, 176))
    scene = Image.fromarray(data.rocket()).resize((1600, 1068))
    scene.paste(crop, (900, 500))
    bgr = np.ascontiguousarray(np.asarray(scene)[:, :, ::-1])
    assert not [d for d in analysis.detector(320).detect(bgr) if d["class"] in nudity.FACE_CLASSES]
    found = analyse(scene).usable_faces
    assert len(found) == 1
    fx, fy, fw, fh = found[0].box
    assert 900 <= fx + fw / 2 <= 1076 and 500 <= fy + fh / 2 <= 676


def test_reference_photos_give_the_bank_embeddings(astronaut, astronaut_result):
    bank = analysis.reference_embeddings(astronaut)
    assert analysis.REFERENCE_THUMBNAILS == ()  # off: see kesu.ml.analysis
    assert len(bank) == 1 + faces.REFERENCE_FLIP
    assert faces.face_distance(bank[0], only_face(astronaut_result).embedding) < 0.05
    assert analysis.reference_embeddings(Image.fromarray(data.coffee())) == []


def test_thumbnail_views_of_a_reference_face_are_banked_when_switched_on(hopper, hopper_result, monkeypatch):
    monkeypatch.setattr(analysis, "REFERENCE_THUMBNAILS", (160, 96))
    bank = analysis.reference_embeddings(hopper)
    # the face as it is, then as it looks on a 160 px thumbnail of the photo (54 px); on a 96 px one it has
    # 33 px, under the views' floor: too degraded to bank
    assert analysis.VIEW_MIN_SIZE == 40 and len(bank) == 1 + faces.REFERENCE_FLIP + 1
    assert faces.face_distance(bank[0], only_face(hopper_result).embedding) < 0.05
    small = only_face(analyse(thumbnail(hopper, 120))).embedding
    assert faces.face_distance(small, bank[-1]) < faces.face_distance(small, bank[0])


def test_augmentation_adds_a_mirrored_embedding_when_switched_on(astronaut, astronaut_result, monkeypatch):
    monkeypatch.setattr(faces, "REFERENCE_FLIP", True)
    bank = analysis.reference_embeddings(astronaut)
    plain = only_face(astronaut_result).embedding
    assert len(bank) == 2
    assert faces.face_distance(bank[0], plain) < 0.05
    assert 0.02 < faces.face_distance(bank[1], plain) < faces.MATCH_DISTANCE  # a different, still matching view


def test_json_has_boxes_and_scores_but_no_biometrics(astronaut_result):
    out = astronaut_result.to_json()
    text = json.dumps(out)
    assert set(out) == {"faces", "nudity", "labels"}
    assert set(out["faces"][0]) == {"box", "score", "quality", "ok", "reason"}
    assert "embedding" not in text and "landmarks" not in text


def test_embeddings_round_trip_as_text(astronaut_result):
    emb = only_face(astronaut_result).embedding
    text = faces.to_text(emb)
    assert isinstance(text, str) and len(text) == 684  # base64 of 512 bytes
    assert np.array_equal(faces.from_text(text), emb)
    with pytest.raises(ValueError):
        faces.from_text(text[:-8])


def test_distances_are_vectorised_l2():
    rng = np.random.default_rng(1)
    bank = rng.normal(size=(5, 128)).astype(np.float32)
    queries = rng.normal(size=(3, 128)).astype(np.float32)
    expected = np.array([[faces.face_distance(q, b) for b in bank] for q in queries])
    assert np.allclose(faces.distances(queries, bank), expected, atol=1e-4)
    assert np.allclose(faces.distances(queries[0], bank), expected[0], atol=1e-4)
    assert faces.distances(bank[2], bank)[2] == pytest.approx(0.0, abs=1e-3)


def test_yaw_is_zero_when_frontal_and_signed_when_turned():
    frontal = np.array([[70, 50], [60, 50], [30, 50], [40, 50], [50, 80]], float)
    turned = frontal.copy()
    turned[4, 0] = 62  # nose base moved 0.4 eye distances to the right
    assert faces.yaw(frontal) == pytest.approx(0.0)
    assert faces.yaw(turned) == pytest.approx(0.4)
    assert faces.rejection({"size": 100, "score": 0.9, "yaw": 0.4, "sharpness": 100}) == "turned away (profile)"
    assert faces.rejection({"size": 100, "score": 0.9, "yaw": -0.4, "sharpness": 100}) == "turned away (profile)"
    assert faces.rejection({"size": 100, "score": 0.9, "yaw": 0.1, "sharpness": 100}) is None
    assert faces.rejection({"size": 20, "score": 0.2, "yaw": 0.1, "sharpness": 3}) is None  # weak: weighed, not dropped


def test_unreadable_images_are_user_errors(astronaut):
    out = BytesIO()
    astronaut.save(out, "JPEG")
    truncated = Image.open(BytesIO(out.getvalue()[:2000]))
    with pytest.raises(UserError, match="cannot be analysed") as exc:
        analyse(truncated)
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError):
        analyse(Image.new("RGB", (0, 0)))


def test_images_in_other_modes_are_analysed(astronaut):
    grey = analyse(astronaut.convert("L"))
    transparent = astronaut.convert("RGBA")
    assert len(grey.usable_faces) == 1
    assert len(analyse(transparent).usable_faces) == 1


def test_nothing_is_written_while_analysing(astronaut, monkeypatch):
    import cv2

    def refuse(*args, **kwargs):
        raise AssertionError("analysis must not write images")

    monkeypatch.setattr(Image.Image, "save", refuse)
    monkeypatch.setattr(cv2, "imwrite", refuse)
    assert analyse(astronaut).usable_faces
