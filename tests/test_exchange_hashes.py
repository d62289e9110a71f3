"""Cases that hold only hashes (issue 21, item 5): a reference made of PDQ, MD5, SHA-256 or vPDQ hashes alone,
banked so the patrol's match finds her copies, reviewed without a picture of hers."""

import hashlib
import io
import json

import pytest
from PIL import Image
from threatexchange.signal_type.pdq.signal import PdqSignal

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.cases import services as cases
from kesu.cases.models import ReferenceItem
from kesu.exchange import services as exchange
from kesu.exchange.hashes import Hash
from kesu.lib.errors import UserError
from kesu.matching import services as matching
from kesu.matching.models import Signal

pytestmark = pytest.mark.django_db
OPERATOR = SystemPrincipal("test")


@pytest.fixture
def bare_case(personas, victim_details):
    """A case with no reference yet: she never gave the desk a picture."""
    return cases.create_case(
        OPERATOR, "ncii", details=victim_details, assignees=[personas["on_case"]], consent=["search", "takedown"]
    )


def jpeg(data: bytes, quality: int = 70) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def her_pdq(data: bytes) -> str:
    """The PDQ her device makes: threatexchange's own hasher, as StopNCII's and HMA's tools use."""
    return PdqSignal.hash_from_bytes(data)


def test_a_pdq_from_her_device_finds_a_jpeg_recompressed_copy_with_no_picture_kept(bare_case, astronaut_png, settings):
    item = exchange.add_hash_reference(
        OPERATOR, bare_case, [Hash("pdq", her_pdq(astronaut_png))], "hashed on her device"
    )
    assert item.kind == "hashes" and item.blob is None and item.preview is None and not item.is_media
    result = matching.match(jpeg(astronaut_png))
    [candidate] = result.candidates
    assert candidate.reference_id == item.pk and candidate.signal == "pdq"
    assert candidate.evidence["pdq"]["distance"] <= settings.KESU_MATCH_THRESHOLDS["pdq"]
    assert matching.match(jpeg(_other_picture())).candidates == []


def _other_picture() -> bytes:
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.coffee()).save(out, "PNG")
    return out.getvalue()


def test_md5_and_sha256_find_the_exact_copy(bare_case, hopper_jpg):
    by_md5 = exchange.add_hash_reference(
        OPERATOR, bare_case, [Hash("video_md5", hashlib.md5(hopper_jpg).hexdigest().upper())], "from StopNCII, MD5"
    )
    [candidate] = matching.match(hopper_jpg).candidates
    assert candidate.reference_id == by_md5.pk and candidate.evidence["exact"] == "md5" and candidate.probability == 1
    other = cases.create_case(OPERATOR, "ncii", consent=["search"])
    by_sha = exchange.add_hash_reference(OPERATOR, other, [Hash("sha256", hashlib.sha256(hopper_jpg).hexdigest())], "x")
    found = {c.reference_id: c.evidence.get("exact") for c in matching.match(hopper_jpg).candidates}
    assert found == {by_md5.pk: "md5", by_sha.pk: "sha256"}
    assert matching.match(jpeg(hopper_jpg, 90)).candidates == []  # other bytes: an exact hash is exact


def test_vpdq_frames_find_an_excerpt_of_her_video(bare_case, tmp_path):
    import videos
    from threatexchange.extensions.vpdq.vpdq_util import hash_file_compact, vpdq_to_json

    path = tmp_path / "her.mp4"  # public-domain synthetic video: a file is fine
    path.write_bytes(videos.reference_video())
    signal = vpdq_to_json(hash_file_compact(str(path), 1.0))  # threatexchange's vPDQ, one frame a second
    item = exchange.add_hash_reference(OPERATOR, bare_case, [Hash("vpdq", signal)], "hashed on her device")
    [candidate] = matching.match(videos.query_video()).candidates
    assert candidate.reference_id == item.pk and candidate.signal == "vpdq"
    [segment] = candidate.evidence["segments"]
    assert abs(segment["reference_start"] - videos.EXCERPT[0]) <= 1.5
    assert matching.match(videos.unrelated_video()).candidates == []


@pytest.mark.parametrize(
    "given, message",
    [
        (Hash("pdq", "abc"), "bad pdq hash"),
        (Hash("pdq", "f" * 64 + ",20"), "quality 20 is under 50"),
        (Hash("pdq", "f" * 64 + ",high"), "bad pdq quality"),
        (Hash("md5", "zz" * 16), "bad video_md5 hash"),
        (Hash("tlsh", "T1" + "a" * 70), "unknown hash type 'tlsh'"),
        (Hash("vpdq", "[not json"), "bad vpdq hash"),
        (Hash("vpdq", "[]"), "no frames"),
    ],
)
def test_a_bad_hash_is_named_in_one_line_and_nothing_is_stored(bare_case, given, message):
    good = Hash("pdq", "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")
    with pytest.raises(UserError, match=message) as error:
        exchange.add_hash_reference(OPERATOR, bare_case, [good, given], "imported")
    assert "\n" not in str(error.value)
    assert not ReferenceItem.objects.filter(case=bare_case).exists() and not Signal.objects.filter(case=bare_case)


def test_the_label_is_sealed_and_the_audit_names_kinds_not_hashes(bare_case, astronaut_png):
    from kesu.cases import references

    code = her_pdq(astronaut_png)
    item = exchange.add_hash_reference(OPERATOR, bare_case, [Hash("pdq", code)], "imported from list.txt, line 1")
    assert references.label(bare_case, item) == "imported from list.txt, line 1"
    assert b"list.txt" not in bytes(item.label_sealed)
    entry = AuditEntry.objects.filter(action="reference.create").latest("pk")
    assert entry.detail.get("signals") == ["pdq"] and code not in json.dumps(entry.detail)


def test_the_review_page_shows_the_found_item_alone_with_the_hash_distance(bare_case, clients, astronaut_png):
    item = exchange.add_hash_reference(OPERATOR, bare_case, [Hash("pdq", her_pdq(astronaut_png))], "her device")
    [hit] = matching.record_hits(matching.match(jpeg(astronaut_png)), jpeg(astronaut_png), "https://leak.example/a")
    assert hit.reference_id == item.pk
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    html = client.get(f"/review/hits/{hit.pk}/").content.decode()
    assert "holds only hashes" in html and f"/references/{item.pk}/" not in html
    assert f"/review/hits/{hit.pk}/preview/" in html  # the found item, blurred
    assert f"distance {hit.evidence['pdq']['distance']} of 256 bits" in html
    page = client.get(f"/cases/{bare_case.pk}/").content.decode()
    assert "Hashes only" in page and "her device" in page
