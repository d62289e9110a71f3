"""Nothing of strangers is kept: a page shows her picture beside a stranger's photo with a face; after the patrol
the stranger's face embedding, bytes and pixels are nowhere (every table, every vault blob opened, every sealed
signal opened, every file of the data directory), while her hit is still there and reviewable."""

import io

import numpy as np
import pytest
from django.conf import settings
from PIL import Image
from test_patrol import jpeg, site, watch_of  # noqa: F401 - site is the local web site fixture
from test_vault import database_dump

from kesu.accounts.principals import SystemPrincipal
from kesu.matching import media, signalfile
from kesu.matching import services as matching
from kesu.matching.models import Hit, Signal
from kesu.patrol import services
from kesu.patrol.models import Fingerprint, Sighting, Stage
from kesu.vault import services as vault
from kesu.vault.models import VaultBlob

OPERATOR = SystemPrincipal("test")


@pytest.fixture
def her_case(personas, victim_details, hopper_jpg):
    from kesu.cases import references
    from kesu.cases import services as cases

    case = cases.create_case(OPERATOR, "ncii", details=victim_details, assignees=[personas["on_case"]],
                             consent=["search", "takedown"])  # fmt: skip
    references.add_file(OPERATOR, case, "hanako_private_1.jpg", hopper_jpg)
    return case


def stranger_embeddings(data: bytes) -> list[bytes]:
    """The stranger's face embeddings, computed here from the photo, as the float32 bytes a store would hold."""
    from kesu.ml.analysis import analyse

    faces = analyse(media.open_image(data)).usable_faces
    return [np.asarray(face.embedding, "<f4").tobytes() for face in faces]


def needles(data: bytes, embeddings: list[bytes]) -> dict[str, bytes]:
    """Windows of the stranger's embeddings, file bytes and decoded pixels."""
    out = {}
    for number, embedding in enumerate(embeddings):
        for start in range(0, len(embedding) - 16, 96):
            out[f"face {number} embedding @{start}"] = embedding[start : start + 16]
    scan = data.index(b"\xff\xda") + 64  # the coded picture: the headers before it are any encoder's tables
    for start in range(scan, len(data) - 48, (len(data) - scan) // 12):
        out[f"file bytes @{start}"] = data[start : start + 48]
    pixels = np.asarray(media.open_image(data).convert("RGB"))
    for row in range(40, pixels.shape[0], pixels.shape[0] // 6):
        out[f"pixel row {row}"] = pixels[row, 100:116].tobytes()
    return out


def everything_kept() -> bytes:
    """Every table as stored, every vault blob and sealed signal opened, every file under the data directory."""
    opened = [vault.read_blob(blob) for blob in VaultBlob.objects.all()]
    opened += [vault.open_bytes(s.case.data_key, s.sealed, f"signal.{s.kind}")
               for s in Signal.objects.exclude(sealed=None).select_related("case__data_key")]  # fmt: skip
    files = [p.read_bytes() for p in settings.DATA_DIR.rglob("*") if p.is_file()]
    return b"\n".join([database_dump(), *opened, *files])


def one_page(web, shown: dict[str, bytes]):
    """A listing with one item page showing ``shown`` (path -> JPEG bytes), watched; the patrol started and drained."""
    web.html("/latest", '<a href="/v/1">one</a>')
    web.html("/v/1", "".join(f'<img src="{path}">' for path in shown))
    for path, data in shown.items():
        web.pages[path] = (200, "image/jpeg", data)
    watch = watch_of(web)
    patrol(watch)
    return watch


def patrol(watch) -> None:
    services.start(watch)
    services.drain(seconds=120)


def found_in(kept: bytes, pieces: dict[str, bytes]) -> list[str]:
    as_text = kept.lower()  # the SQLite dump writes binary columns as X'hex', PostgreSQL's as \\x hex
    return [name for name, piece in pieces.items() if piece in kept or piece.hex().encode() in as_text]


@pytest.fixture
def pictures(hopper_jpg, astronaut_png) -> tuple[bytes, bytes]:
    """Her picture as found (a smaller JPEG of her reference) and a stranger's photo with a face."""
    return jpeg(hopper_jpg, 0.8, 80), jpeg(astronaut_png, 1.0, 92)


def test_a_stranger_on_her_page_leaves_nothing_but_her_hit_stays_reviewable(db, her_case, site, pictures, clients):  # noqa: F811
    hers, stranger = pictures
    embeddings = stranger_embeddings(stranger)
    assert embeddings, "the stranger's photo must show a usable face for this test to mean anything"
    pieces = needles(stranger, embeddings)
    # The scan would see the embeddings where they would be kept: in a fingerprint's signals, opened.
    would_keep = signalfile.dumps(matching.found(stranger))
    assert all(piece in would_keep for name, piece in pieces.items() if name.startswith("face"))
    watch = one_page(site, {"/m/her.jpg": hers, "/m/stranger.jpg": stranger})

    (hit,) = Hit.objects.filter(case=her_case)
    assert hit.probability >= 0.95
    assert found_in(everything_kept(), pieces) == []
    strange = Fingerprint.objects.get(sha256=matching.found(stranger).sha256)
    assert (strange.blob, strange.computed, strange.stranger_through) == (None, None, Signal.objects.latest("pk").pk)
    kept = Fingerprint.objects.get(sha256=hit.sha256)
    assert kept.computed is not None and kept.blob is not None  # what her hit needs stays

    page = clients["on_case"].get(f"/review/hits/{hit.pk}/")
    assert page.status_code == 200 and f"/review/hits/{hit.pk}/preview/" in page.content.decode()
    assert clients["on_case"].get(f"/review/hits/{hit.pk}/preview/").status_code == 200

    # Seen again: skipped by its SHA-256, nothing of it stored again; her picture is found again where it is.
    Hit.objects.all().delete()
    patrol(watch)
    assert Hit.objects.filter(case=her_case).count() == 1
    again = Sighting.objects.filter(fingerprint=strange).order_by("-pk").first()
    assert again.stage == Stage.DONE and again.completions >= 2
    assert found_in(everything_kept(), pieces) == []


def test_a_stranger_seen_again_after_the_bank_grew_is_searched_again_and_found(db, her_case, site, astronaut_png):  # noqa: F811
    from kesu.cases import references

    picture = jpeg(astronaut_png, 0.7, 85)
    watch = one_page(site, {"/m/1.jpg": picture})
    assert not Hit.objects.exists()
    assert Fingerprint.objects.get().computed is None  # a stranger then

    # Later the same picture turns out to be hers: a reference added, the bank grew.
    references.add_file(OPERATOR, her_case, "hanako_private_2.png", astronaut_png)
    patrol(watch)
    (hit,) = Hit.objects.filter(case=her_case)
    assert vault.read_blob(hit.blob) == picture
    assert Fingerprint.objects.get().computed is not None


def test_the_patrol_keeps_signals_only_as_typed_arrays(db, her_case, site, hopper_jpg):  # noqa: F811
    one_page(site, {"/m/her.jpg": jpeg(hopper_jpg, 0.8, 80)})
    item = Fingerprint.objects.get()
    kept = vault.read_blob(item.computed)
    loaded = signalfile.loads(kept)
    assert loaded.sha256 == item.sha256 and loaded.of("face") and loaded.of("pdq")
    image = Image.open(io.BytesIO(site.pages["/m/her.jpg"][2]))
    assert np.asarray(image)[100, 100:116].tobytes() not in kept  # values, not pixels


def test_a_rejected_hit_or_a_deleted_case_leaves_only_the_sha256_once_the_undo_window_closed(
    db,
    her_case,
    site,  # noqa: F811 - the local web site fixture
    pictures,
    personas,
):
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from kesu.cases import services as cases
    from kesu.patrol import forgetting
    from kesu.review import services as review

    hers, stranger = pictures
    watch = one_page(site, {"/m/her.jpg": hers})
    (hit,) = Hit.objects.filter(case=her_case)
    pieces = needles(hers, stranger_embeddings(hers))  # what the patrol computed of the found picture
    review.decide(personas["on_case"], hit, "reject")  # not hers after all: a stranger who looks like her
    hour = timedelta(hours=1)
    assert forgetting.forget_disowned(now=timezone.now() + 23 * hour) == 0  # she may still take it back
    assert found_in(everything_kept(), pieces) != []

    assert forgetting.forget_disowned(now=timezone.now() + 25 * hour) == 2  # its fingerprint and the hit's copy
    hit.refresh_from_db()
    item = Fingerprint.objects.get(sha256=hit.sha256)
    assert (hit.blob, item.blob, item.computed) == (None, None, None) and hit.evidence  # numbers stay
    assert item.stranger_through == Signal.objects.latest("pk").pk
    assert found_in(everything_kept(), pieces) == []
    patrol(watch)  # seen again: skipped by its SHA-256, nothing stored again, no new hit
    assert Hit.objects.filter(case=her_case).count() == 1 and Fingerprint.objects.get().computed is None

    # A deleted case disowns its hits' media at once: another woman's case, her picture found, the case deleted.
    from kesu.cases import references

    other = cases.create_case(OPERATOR, "ncii", assignees=[personas["on_case"]], consent=["search", "takedown"])
    references.add_file(OPERATOR, other, "second.jpg", stranger)
    site.pages["/m/her.jpg"] = (200, "image/jpeg", jpeg(stranger, 0.9, 85))
    patrol(watch)
    assert Hit.objects.filter(case=other).exists() and not Hit.objects.filter(case=her_case, status="new").exists()
    assert Fingerprint.objects.filter(computed__isnull=False).count() == 1
    cases.delete_case(personas["supervisor"], other)
    assert forgetting.forget_disowned() == 1
    assert not Fingerprint.objects.filter(Q(computed__isnull=False) | Q(blob__isnull=False)).exists()
