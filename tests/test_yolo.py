"""Kesu's reading of NudeNet's YOLO output (kesu.ml.yolo) keeps exactly NudeNet's detections.

Public-domain pictures that ship in packages (scikit-image, matplotlib): faces, a cat, objects, text,
at both resolutions Kesu runs, also mirrored, enlarged and on a wide canvas (the padding path).
"""

import matplotlib.cbook
import numpy as np
import pytest
from nudenet import NudeDetector
from PIL import Image
from skimage import data

from kesu.ml import yolo


def pictures() -> list[np.ndarray]:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    astronaut = data.astronaut()
    wide = np.zeros((400, 1200, 3), np.uint8)
    wide[:, 400:800] = np.asarray(Image.fromarray(astronaut).resize((400, 400)))
    group = np.concatenate([astronaut, np.asarray(Image.fromarray(hopper).resize((512, 512)))], axis=1)
    rgb = [astronaut, hopper, data.chelsea(), data.coffee(), data.rocket(), wide, group, astronaut[:, ::-1]]
    rgb.append(np.asarray(Image.fromarray(hopper).resize((hopper.shape[1] * 3, hopper.shape[0] * 3))))
    return [np.ascontiguousarray(p[:, :, ::-1]) for p in rgb]  # BGR, as NudeNet reads files


@pytest.mark.parametrize("resolution", [320, 640])
def test_the_vectorised_reading_gives_nudenets_own_detections(resolution):
    theirs, ours = NudeDetector(inference_resolution=resolution), yolo.detector(resolution)
    found = 0
    for bgr in pictures():
        expected = theirs.detect(bgr)
        assert ours.detect(bgr) == expected
        found += len(expected)
    assert found >= 5  # the pictures gave the comparison something to compare


def test_faces_are_among_the_detections():
    bgr = pictures()[0]
    faces = [d for d in yolo.detector(320).detect(bgr) if d["class"].startswith("FACE_")]
    assert len(faces) == 1 and faces[0]["score"] > 0.5
    x, y, w, h = faces[0]["box"]
    assert 150 < x + w / 2 < 260 and 50 < y + h / 2 < 150  # Eileen Collins' face, top middle of the picture
