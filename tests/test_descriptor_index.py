"""The local-feature index's inverted file (kesu.matching.indexes.DescriptorIndex, issue 19): from IVF_MIN
descriptors on, votes come from the nearest lists only, and a copy still finds its own picture.

Pictures: the photographs that ship inside scikit-image (CC0 / public domain). IVF_MIN is lowered so a
bank of a few pictures is filed the way a desk's bank of hundreds is.
"""

import numpy as np
import pytest
from PIL import Image
from skimage import data

from kesu.matching import image as features
from kesu.matching.indexes import DescriptorIndex
from kesu.matching.signals import MIN_VOTES

NAMES = ["astronaut", "camera", "coffee", "chelsea", "rocket", "brick", "grass", "gravel", "coins", "clock",
         "immunohistochemistry", "hubble_deep_field", "moon", "page", "text", "retina", "cell"]  # fmt: skip


@pytest.fixture(scope="module")
def pictures() -> list[Image.Image]:
    out = []
    for name in NAMES:
        array = getattr(data, name)()
        out.append(Image.fromarray(np.asarray(array, np.uint8)).convert("RGB"))
    return out


@pytest.fixture(scope="module")
def local(pictures):
    return [features.local_features(p) for p in pictures]


def filed(local, monkeypatch, count=None) -> DescriptorIndex:
    monkeypatch.setattr(DescriptorIndex, "IVF_MIN", 2000)
    index = DescriptorIndex()
    for owner, features_ in enumerate(local[:count]):
        index.add(owner, features_)
    index.vote(local[0].descriptors[:1])  # files what was added
    return index


def test_a_bank_over_ivf_min_is_searched_through_its_inverted_file(local, monkeypatch):
    index = filed(local, monkeypatch)
    assert index.ivf is not None and index.ivf.ntotal == index.flat.ntotal == sum(len(f.descriptors) for f in local)
    assert index.ivf.nlist == int(np.sqrt(index.flat.ntotal)) and index.ivf.nprobe == DescriptorIndex.NPROBE


def test_a_copy_still_votes_for_its_own_picture_first(local, pictures, monkeypatch):
    index = filed(local, monkeypatch)
    for owner in (0, 2, 4, 14):  # astronaut, coffee, rocket, text: cropped by a fifth, shrunk, re-encoded
        picture = pictures[owner]
        crop = picture.crop((picture.width // 10, picture.height // 10, picture.width * 9 // 10, picture.height))
        copy = features.local_features(crop.resize((crop.width * 3 // 4, crop.height * 3 // 4)))
        votes = sorted(index.vote(copy.descriptors).items(), key=lambda kv: -len(kv[1]))
        assert votes[0][0] == owner and len(votes[0][1]) >= MIN_VOTES
        assert features.verify(copy, local[owner], votes[0][1]).inliers >= features.MIN_INLIERS


def test_pictures_added_later_join_the_file_and_growth_retrains_it(local, monkeypatch):
    index = filed(local, monkeypatch, count=8)
    trained = index.ivf
    index.add(8, local[8])
    index.vote(local[8].descriptors[:1])
    assert index.ivf is trained and index.ivf.ntotal == index.flat.ntotal  # appended to the trained file
    for owner in range(9, len(local)):  # the bank more than doubles: the centroids are trained again
        index.add(owner, local[owner])
    index.vote(local[0].descriptors[:1])
    assert index.ivf is not trained and index.ivf.ntotal == index.flat.ntotal


def test_under_ivf_min_the_scan_stays_exact(local):
    index = DescriptorIndex()
    for owner, features_ in enumerate(local[:3]):
        index.add(owner, features_)
    index.vote(local[0].descriptors[:1])
    assert index.ivf is None
