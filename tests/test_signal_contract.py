"""Every registered signal type through the same cases, on real media (like python-threatexchange's
signal-type tests): compute -> serialise -> load -> index -> search -> explain -> forget.

The cases are parametrised over ``signals.REGISTRY``: a type added to it is covered without a line here, and
fails here until it computes, writes, reads, indexes, finds and explains its own media. The media: scikit-image's
astronaut (PNG), matplotlib's grace_hopper (JPEG) and a video made by the demo's encoder (tests/videos.py) from
photos neither picture shows.
"""

import json
import pickle  # only to prove the signal file never reads it
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import videos

from kesu.matching import bank as banks
from kesu.matching import calibration, media, signalfile
from kesu.matching.evidence import Evidence
from kesu.matching.indexes import arrays_to_bytes, bytes_to_arrays
from kesu.matching.signals import REGISTRY, Medium, compute_all, found_medium, score

KESU = Path(__file__).resolve().parent.parent / "kesu"
MEDIA_KINDS = {"astronaut": "image", "hopper": "image", "video": "video"}
OWNERS = {name: number for number, name in enumerate(MEDIA_KINDS, 1)}
CASES = [(kind, name) for kind, t in REGISTRY.items() for name, medium_kind in MEDIA_KINDS.items()
         if medium_kind in t.media_kinds]  # fmt: skip
INDEXED = [kind for kind, t in REGISTRY.items() if t.index_class]
SEARCHES = [(kind, name) for kind in INDEXED for name, medium_kind in MEDIA_KINDS.items()
            if medium_kind in REGISTRY[kind].searches]  # fmt: skip


@cache
def raw(name: str) -> bytes:
    if name == "astronaut":
        from conftest import png_bytes
        from skimage import data

        return png_bytes(data.astronaut())
    if name == "hopper":
        import matplotlib

        return (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes()
    return videos.encode([videos.Slideshow(videos.UNRELATED_PHOTOS, 12.0, seed=2)], size=(320, 180), fps=15)


def medium(name: str, reference: bool) -> Medium:
    info = media.inspect(raw(name))
    return Medium(raw(name), info.kind, info.image, reference=reference)


@cache
def banked(name: str) -> tuple:
    """What a victim's reference puts in the bank."""
    return tuple(compute_all(medium(name, reference=True)))


@cache
def found(name: str):
    """What the patrol keeps of a found medium: its values, no pixels."""
    return found_medium(medium(name, reference=False))


def of(values, kind: str) -> list:
    return [v for v in values if v.kind == kind]


def bank_of(kind: str, leave_out: str = "") -> banks.Bank:
    bank, signal_id = banks.Bank(), 0
    for name in MEDIA_KINDS:
        if name != leave_out:
            for value in of(banked(name), kind):
                signal_id += 1
                bank.add(signal_id, OWNERS[name], 1, value)
    return bank


def explained_by(kind: str, bank: banks.Bank, name: str) -> dict[int, Evidence]:
    """Owner -> evidence, for the owners this type alone tied the found medium to."""
    out: dict[int, Evidence] = defaultdict(Evidence)
    REGISTRY[kind].search(bank, found(name), out)
    for item in out.values():
        score(item)
    return {owner: item for owner, item in out.items() if REGISTRY[kind].explain(item)}


def test_every_registered_type_computes_values_for_some_contract_medium():
    for kind, signal_type in REGISTRY.items():
        assert any(of(banked(n), kind) for n in MEDIA_KINDS if MEDIA_KINDS[n] in signal_type.media_kinds), kind
        assert any(found(n).of(kind) for n in MEDIA_KINDS if MEDIA_KINDS[n] in signal_type.media_kinds), kind


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_values_are_plain_typed_arrays_that_load_back_the_same(kind, name):
    signal_type = REGISTRY[kind]
    for values in (of(banked(name), kind), found(name).of(kind)):
        arrays = signal_type.to_arrays(values)
        assert arrays and all(isinstance(a, np.ndarray) and not a.dtype.hasobject for a in arrays.values())
        assert signal_type.from_arrays(bytes_to_arrays(arrays_to_bytes(**arrays))) == values


@pytest.mark.parametrize("name", MEDIA_KINDS)
def test_the_found_medium_file_holds_every_type_and_loads_back_the_same(name):
    kept = signalfile.dumps(found(name))
    loaded = signalfile.loads(kept)
    assert loaded == found(name)
    assert json.loads(bytes_to_arrays(kept)["header"].tobytes())["types"] == {
        kind: t.FORMAT for kind, t in REGISTRY.items() if MEDIA_KINDS[name] in t.media_kinds
    }
    assert raw(name)[1000:1064] not in kept  # the medium's bytes are not in it


@pytest.mark.parametrize(("kind", "name"), SEARCHES)
def test_a_banked_medium_is_found_by_its_own_values_explained_and_nothing_else_is(kind, name):
    signal_type = REGISTRY[kind]
    bank = bank_of(kind)
    assert (len(bank.indexes[kind]) > 0) == any(of(banked(n), kind) for n in MEDIA_KINDS)
    tied = explained_by(kind, bank, name)
    expected = {OWNERS[name]} if of(banked(name), kind) else set()
    assert not expected or found(name).of(kind)  # what a reference banks, the same medium found has too
    assert set(tied) == expected
    for evidence in tied.values():
        explained = evidence.as_dict()
        assert json.loads(json.dumps(explained)) == explained  # numbers and text only: the hit record keeps it
        assert evidence.scores[signal_type.label] == pytest.approx(signal_type.probability(evidence), abs=1e-4)
        assert signal_type.probability(evidence) >= calibration.PINK  # the same medium: no doubt left
        if signal_type.calibration:
            back = signal_type.explained_scores(explained)
            assert back == pytest.approx(signal_type.scores(evidence), abs=0.06)
            weights = calibration.shipped_params()[signal_type.calibration]["weights"]
            assert len(signal_type.features(*back)) == len(weights)


@pytest.mark.parametrize("kind", INDEXED)
def test_the_bank_file_holds_each_index_and_finds_the_same(kind):
    bank = bank_of(kind)
    again = banks.from_bytes(banks.to_bytes(bank))
    state = (bank.max_id, bank.count, bank.id_sum, bank.owners, bank.entries)
    assert (again.max_id, again.count, again.id_sum, again.owners, again.entries) == state
    for name in MEDIA_KINDS:
        if MEDIA_KINDS[name] in REGISTRY[kind].searches:
            first = {o: e.as_dict() for o, e in explained_by(kind, bank, name).items()}
            assert {o: e.as_dict() for o, e in explained_by(kind, again, name).items()} == first


@pytest.mark.parametrize(("kind", "name"), SEARCHES)
def test_a_forgotten_medium_is_found_no_more(kind, name):
    """A reference deleted (or a case closed) leaves the rebuilt bank: nothing of it still matches."""
    assert OWNERS[name] not in explained_by(kind, bank_of(kind, leave_out=name), name)


RAN: list[str] = []


def _ran(text: str) -> None:
    RAN.append(text)


class Payload:
    def __reduce__(self):
        return _ran, ("code ran",)


def test_the_signal_file_refuses_other_formats_and_never_runs_what_it_reads():
    assert pickle.loads(pickle.dumps(Payload())) is None and RAN == ["code ran"]  # the payload works...
    RAN.clear()
    for bad in (b"", b"not signals", pickle.dumps(Payload()), arrays_to_bytes(x=np.zeros(3))):
        with pytest.raises(signalfile.FormatError):
            signalfile.loads(bad)
    assert RAN == []  # ...and the signal file never ran it
    arrays = bytes_to_arrays(signalfile.dumps(found("hopper")))
    header = json.loads(arrays["header"].tobytes())
    header["types"]["pdq"] += 1  # written by a later Kesu
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with pytest.raises(signalfile.FormatError, match="pdq"):
        signalfile.loads(arrays_to_bytes(**arrays))


def test_no_module_of_kesu_uses_python_object_serialisation():
    used = [str(p.relative_to(KESU)) for p in KESU.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and p.suffix != ".mo" and b"pickle" in p.read_bytes().lower()]  # fmt: skip
    assert used == []
