"""dlib's face embedding network converted to ONNX (kesu.ml.facenet) against dlib itself, on real faces.

astronaut (skimage) and grace_hopper (matplotlib) are aligned as the pipeline aligns them; each chip is
also embedded mirrored and blurred, so that the comparison does not rest on one kind of picture.
"""

import cv2
import face_recognition_models
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image
from skimage import data

from kesu.ml import analysis, facenet, faces

MAX_COMPONENT = 1e-3
MAX_DISTANCE = 0.01


@pytest.fixture(scope="module")
def chips() -> list[np.ndarray]:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = Image.open(fh).convert("RGB")
    out = []
    for image in (Image.fromarray(data.astronaut()), hopper):
        rgb, scale = analysis.working_copy(image)
        chip = faces._measure(rgb, analysis.detect(rgb)[0][0], scale).chip
        out += [chip, np.ascontiguousarray(chip[:, ::-1]), cv2.GaussianBlur(chip, (0, 0), 3)]
    return out


@pytest.fixture(scope="module")
def dlib_embeddings(chips) -> np.ndarray:
    vectors = faces._encoder().compute_face_descriptor(chips, 0)
    return np.array([np.asarray(v) for v in vectors], dtype=np.float32)


def test_onnx_embeddings_are_dlibs(chips, dlib_embeddings):
    onnx = facenet.embed_batch(chips)
    assert onnx.shape == (6, 128) and onnx.dtype == np.float32
    assert np.abs(onnx - dlib_embeddings).max() < MAX_COMPONENT
    assert np.linalg.norm(onnx - dlib_embeddings, axis=1).max() < MAX_DISTANCE
    # and the faces are told apart as dlib tells them: the two women are far apart, a mirrored chip is near
    assert faces.face_distance(onnx[0], onnx[3]) > faces.MATCH_DISTANCE
    assert faces.face_distance(onnx[0], onnx[1]) < faces.MATCH_DISTANCE


def test_one_face_alone_two_threads_and_a_batch_agree(chips, dlib_embeddings):
    alone = np.stack([facenet.embed_batch([chip], threads=1)[0] for chip in chips])
    assert np.abs(alone - facenet.embed_batch(chips, threads=2)).max() < 1e-5
    assert np.linalg.norm(faces.embed(chips[0]) - dlib_embeddings[0]) < MAX_DISTANCE
    assert faces.embed_batch([]) == [] and facenet.embed_batch([]).shape == (0, 128)


def test_a_chip_of_another_size_is_refused(chips):
    with pytest.raises(ValueError, match="150x150"):
        facenet.embed_batch([chips[0][:100]])


def test_a_damaged_model_file_is_refused():
    with open(face_recognition_models.face_recognition_model_location(), "rb") as fh:
        model = fh.read()
    with pytest.raises(facenet.FormatError, match="ends early"):
        facenet.parse(model[: len(model) // 2])
    with pytest.raises(facenet.FormatError, match="more than"):
        facenet.parse(model + b"\0")
    shape = face_recognition_models.pose_predictor_five_point_model_location()
    with open(shape, "rb") as fh, pytest.raises(facenet.FormatError):
        facenet.parse(fh.read())  # a dlib file, but of another kind
