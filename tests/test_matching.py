"""The matching engine over a real bank: references in, transformed copies found.

Pictures are public domain and ship in packages (scikit-image, matplotlib);
every copy is made here by real encoders.
"""

import io
import json

import numpy as np
import pytest
from PIL import Image

from kesu.accounts.principals import SystemPrincipal
from kesu.matching import bank, calibration, media, services, signals
from kesu.matching import image as features
from kesu.matching.indexes import HashIndex, VectorIndex
from kesu.matching.models import Hit, Signal

OPERATOR = SystemPrincipal("test")


def encode(picture: Image.Image, fmt="JPEG", **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return Image.fromarray(skimage.data.astronaut())


@pytest.fixture(scope="module")
def coffee():
    import skimage.data

    return Image.fromarray(skimage.data.coffee())


@pytest.fixture(autouse=True)
def fresh_bank():
    bank.forget()
    yield
    bank.forget()


def crop(picture, share):
    w, h = picture.size
    return picture.crop(
        (int(w * share * 0.7), int(h * share * 0.3), int(w * (1 - share * 0.3)), int(h * (1 - share * 0.7)))
    )


def bordered(picture, pad=40):
    out = Image.new("RGB", (picture.width + 2 * pad, picture.height + 2 * pad), (0, 0, 0))
    out.paste(picture, (pad, pad))
    return out


COPIES = {
    "jpeg q30": lambda p: Image.open(io.BytesIO(encode(p, quality=30))),
    "quarter size": lambda p: p.resize((p.width // 4, p.height // 4)),
    "mirrored": lambda p: p.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "quarter turn": lambda p: p.transpose(Image.Transpose.ROTATE_90),
    "crop 20 %": lambda p: crop(p, 0.2),
    "rotated 5°": lambda p: p.rotate(5, resample=Image.Resampling.BICUBIC),
    "black border": bordered,
}


@pytest.mark.parametrize("name", list(COPIES))
def test_transformed_copy_is_found_in_its_case(case, astronaut, name):
    copy = COPIES[name](astronaut.convert("RGB"))
    result = services.match(encode(copy, quality=90))
    best = result.candidates[0]
    assert best.case_id == case.pk
    assert best.reference_id == case.references.filter(kind="image").get().pk
    assert best.probability >= 0.5, best.evidence
    assert set(best.evidence["scores"]) & {"pdq", "local"}


def test_border_is_trimmed_before_hashing(astronaut):
    framed = bordered(astronaut.convert("RGB"), pad=60)
    trimmed = features.trim_borders(framed)
    assert abs(trimmed.width - astronaut.width) <= 3 and abs(trimmed.height - astronaut.height) <= 3
    assert features.trim_borders(astronaut) is astronaut  # a picture without a frame is left alone


def test_a_picture_banked_twice_is_found_as_surely_as_banked_once(astronaut, coffee):
    """A case may bank a picture and a crop of it: the bank's ratio test then finds many corners of a copy
    twice and drops them, the check against each candidate alone (image.candidate_pairs) keeps them."""
    whole, (w, h) = astronaut.convert("RGB"), astronaut.size
    copy = Image.open(io.BytesIO(encode(whole.crop((w * 12 // 100, h * 5 // 100, w * 92 // 100, h * 85 // 100)))))
    part = whole.crop((0, 0, w * 3 // 4, h * 3 // 4))
    found = {}
    for label, banked in (("once", [whole, coffee]), ("twice", [whole, coffee, part])):
        references = bank.Bank()
        for owner, picture in enumerate(banked):
            references.add_medium(owner, 0, signals.Medium(b"", "image", picture, reference=True), ["pdq", "orb"])
        evidence = references.search(signals.found_medium(signals.Medium(b"", "image", copy), ["pdq", "orb"]))
        found[label] = {item.owner: item for item in evidence}
    once, twice = found["once"], found["twice"]
    assert twice[0].scores["local"] >= calibration.PINK and twice[2].scores["local"] >= calibration.PINK
    assert 1 not in twice or twice[1].probability < calibration.REVIEW_CUT  # coffee
    assert twice[0].inliers >= 0.85 * once[0].inliers, (twice[0].inliers, once[0].inliers)


def test_unrelated_picture_is_not_a_hit(case, coffee):
    result = services.match(encode(coffee))
    assert [c for c in result.candidates if c.probability >= 0.5] == []


def test_exact_copy_matches_by_sha256(case, astronaut_png):
    best = services.match(astronaut_png).candidates[0]
    assert best.evidence["exact"] == "sha256" and best.probability == 1.0


def test_face_of_the_victim_is_found_in_a_new_picture(case, hopper_jpg, coffee):
    # A new picture of her: her face pasted, smaller, into an unrelated scene.
    hopper = Image.open(io.BytesIO(hopper_jpg)).convert("RGB")
    face = hopper.crop((90, 40, 420, 420)).resize((220, 253))
    scene = coffee.convert("RGB").resize((900, 600))
    scene.paste(face, (560, 150))
    result = services.match(encode(scene, quality=85))
    faces = [c for c in result.candidates if "face" in c.evidence["scores"]]
    assert faces and faces[0].case_id == case.pk
    assert faces[0].evidence["face"]["distance"] < 0.6
    assert result.faces and any(f["ok"] for f in result.faces)


def test_confirmed_hit_joins_the_bank_and_catches_reuploads(case, astronaut, coffee):
    # A collage: part of her picture beside other content. Found by local features.
    collage = Image.new("RGB", (1000, 520), (240, 240, 240))
    collage.paste(astronaut.convert("RGB").resize((480, 480)), (10, 20))
    collage.paste(coffee.convert("RGB").resize((480, 320)), (510, 100))
    data = encode(collage, quality=90)
    result = services.match(data)
    [hit] = services.record_hits(result, data, "https://forum.example/t/1")
    assert services.record_hits(result, data, "https://forum.example/t/1") == [hit]  # idempotent
    assert services.source_url(hit) == "https://forum.example/t/1"
    assert b"forum.example" not in bytes(Hit.objects.get(pk=hit.pk).source_url_sealed)  # sealed, like her data
    services.confirm_hit(OPERATOR, hit)
    banked = Signal.objects.filter(hit=hit, source="hit")
    assert banked.filter(kind="pdq").exists() and banked.filter(kind="orb").exists()

    reupload = encode(collage.resize((700, 364)), quality=60)
    best = services.match(reupload).candidates
    from_hit = [c for c in best if c.owner == -hit.pk]
    assert from_hit and from_hit[0].evidence.get("pdq", {}).get("distance", 99) <= 31

    services.reject_hit(OPERATOR, hit)
    assert not Signal.objects.filter(hit=hit).exists()
    assert all(c.owner != -hit.pk for c in services.match(reupload).candidates)


def test_bank_is_saved_sealed_updated_and_rebuilt(case, astronaut, coffee):
    from django.conf import settings

    current = bank.current()
    pdq_hex = Signal.objects.filter(case=case, kind="pdq").first().value
    raw = (settings.DATA_DIR / "index" / "bank.ksv").read_bytes()
    assert bytes.fromhex(pdq_hex) not in raw and pdq_hex.encode() not in raw  # sealed, not in the clear
    assert bank.current() is current  # nothing changed: the same bank

    from kesu.cases import references

    references.add_file(OPERATOR, case, "second.jpg", encode(coffee))
    bank.forget()  # a new process: loads the saved file, then adds what is new
    updated = bank.current()
    assert updated.count == Signal.objects.count()
    assert services.match(encode(coffee, quality=50)).candidates[0].case_id == case.pk

    Signal.objects.filter(reference__isnull=False, kind="pdq").delete()
    rebuilt = bank.current()
    assert rebuilt.count == Signal.objects.count() and len(rebuilt.indexes["pdq"]) == 0


def test_closed_cases_are_not_searched(case, astronaut_png):
    from kesu.cases import services as cases

    cases.set_status(OPERATOR, case, "closed")
    assert services.match(astronaut_png).candidates == []


def test_multi_index_hash_is_exact_against_brute_force():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (2000, 32), dtype=np.uint8)
    # clustered codes (near-duplicates) as well as random ones, to stress the buckets
    near = np.repeat(base[:200], 30, axis=0)
    flips = rng.random(near.shape + (8,)) < 0.04
    near = near ^ np.packbits(flips, axis=-1).reshape(near.shape)
    codes = np.concatenate([base, near])
    index = HashIndex()
    index.add(np.arange(len(codes)) + 1000, codes)
    queries = codes[rng.integers(0, len(codes), 150)] ^ np.packbits(rng.random((150, 256)) < 0.06, axis=-1)
    fast = {(f.query, f.id, f.distance) for f in index.search(queries, 31)}
    truth = {(f.query, f.id, f.distance) for f in index.brute_force(queries, 31)}
    assert fast == truth and len(truth) > 150
    assert max(d for _, _, d in truth) <= 31


def test_vector_index_radius_search_and_round_trip():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(50, 128)).astype(np.float32)
    index = VectorIndex()
    index.add(np.arange(50), vectors)
    copy = VectorIndex.from_bytes(index.to_bytes())
    found = copy.search(vectors[7] + 0.01, 0.5)
    assert [f.id for f in found] == [7] and found[0].distance < 0.5


def test_cli_hash_reports_every_signal_and_goes_on_after_bad_files(db, cli, astronaut_png, tmp_path):
    good = tmp_path / "a.png"
    good.write_bytes(astronaut_png)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "cut.png").write_bytes(astronaut_png[: len(astronaut_png) // 3])
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x01garbage" * 100)
    files = [str(tmp_path / n) for n in ("empty.jpg", "cut.png", "junk.mp4", "a.png")]
    code, out, err = cli("hash", *files, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(rows) == 4
    assert rows[0]["error"] == "file is empty"
    assert "damaged or truncated" in rows[1]["error"]
    assert "not an image or video" in rows[2]["error"]
    good_row = rows[3]
    assert good_row["kind"] == "image" and len(good_row["sha256"]) == 64
    assert {s["kind"] for s in good_row["signals"]} == {"pdq"} and len(good_row["signals"]) == 8
    assert good_row["faces"] and good_row["faces"][0]["ok"] and 0 <= good_row["nudity"] < 0.3
    assert len(err.strip().splitlines()) == 3 and "Traceback" not in err


def test_cli_match_in_a_case(cli, case, astronaut, tmp_path):
    query = tmp_path / "found.jpg"
    query.write_bytes(encode(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT), quality=40))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    files = [str(tmp_path / "broken.jpg"), str(query)]
    code, out, err = cli("match", *files, "--case", str(case.pk), "--json", "--record")
    broken, result = (json.loads(line) for line in out.splitlines())
    assert code == 1 and "damaged" in broken["error"] and err.count("\n") == 1
    assert result["hits"][0]["case"] == case.pk and result["hits"][0]["probability"] >= 0.5
    assert Hit.objects.filter(pk__in=result["recorded"], case=case).count() == 1
    code, out, err = cli("match", str(query), "--case", str(case.pk))
    assert code == 0 and out.startswith(f"{query}: case #{case.pk} ") and "PINK" in out


def test_cli_match_refuses_a_case_the_user_cannot_see(cli, case, personas, tmp_path, astronaut_png):
    query = tmp_path / "found.png"
    query.write_bytes(astronaut_png)
    code, out, err = cli("--as", personas["outsider"].username, "match", str(query), "--case", str(case.pk))
    assert code == 1 and "Traceback" not in err and err.count("\n") == 1


def test_decompression_bomb_and_animated_images(db, cli, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (30000, 30000)).save(bomb)  # tiny file, 900 Mpixel when decoded
    frames = [Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 255, 0))]
    gif, webp = tmp_path / "anim.gif", tmp_path / "anim.webp"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(webp, save_all=True, append_images=frames[1:], duration=100, loop=0)
    video = tmp_path / "cut.mp4"
    import videos

    video.write_bytes(videos.reference_video()[: len(videos.reference_video()) // 3])  # moov atom at the end: gone
    code, out, err = cli("hash", str(bomb), str(gif), str(webp), str(video), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 4, err
    assert "decompression bomb" in rows[0]["error"]
    assert rows[1]["kind"] == "image" and rows[1]["mime"] == "image/gif"
    assert rows[2]["kind"] == "image" and rows[2]["mime"] == "image/webp"
    assert "error" in rows[3] and "\n" not in rows[3]["error"] and "Traceback" not in err


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF", "WEBP"])
def test_phone_and_web_formats_are_read(db, fmt, astronaut):
    data = encode(astronaut.convert("RGB"), fmt, quality=80)
    info = media.inspect(data)
    assert info.kind == "image" and info.image.size == astronaut.size
    signals = services.compute_all(services.medium_of(data, info))
    assert any(s.kind == "pdq" and s.quality >= 50 for s in signals)


def test_a_file_lying_about_its_type_is_read_by_its_bytes(cli, db, astronaut_png, tmp_path):
    liar = tmp_path / "holiday.mp4"
    liar.write_bytes(astronaut_png)
    code, out, err = cli("hash", str(liar), "--json")
    assert code == 0 and json.loads(out)["mime"] == "image/png"


def test_video_excerpt_is_found_and_located_through_the_case_bank(case):
    """The issue's segment test end to end: a reference video added to a case,
    a 10-second excerpt re-encoded smaller found with its times in both videos."""
    import videos

    from kesu.cases import references

    reference = references.add_file(OPERATOR, case, "clip.mp4", videos.reference_video())
    assert Signal.objects.filter(reference=reference, kind="vpdq").count() >= 200  # 4 fps over 60 s
    result = services.match(videos.query_video())
    [best] = [c for c in result.candidates if c.reference_id == reference.pk]
    assert best.signal == "vpdq" and best.probability >= 0.95
    [segment] = best.evidence["segments"]
    start, end = videos.EXCERPT
    assert abs(segment["reference_start"] - start) <= 1.5 and abs(segment["reference_end"] - end) <= 1.5
    assert abs(segment["query_start"] - videos.PADDING) <= 1.5
    assert services.match(videos.unrelated_video()).candidates == []


def test_still_from_a_reference_video_is_found(case):
    import av
    import videos

    from kesu.cases import references

    reference = references.add_file(OPERATOR, case, "clip.mp4", videos.reference_video())
    with av.open(io.BytesIO(videos.reference_video())) as container:
        # mid-scene: a frame on a scene cut is a picture of its own
        frame = next(f for f in container.decode(video=0) if f.time >= 42.0)
    still = encode(frame.to_image().resize((320, 180)), quality=70)
    best = services.match(still).candidates[0]
    assert best.reference_id == reference.pk and best.evidence["pdq"]["region"].startswith("frame@")


def test_cli_bank_rebuild_is_for_supervisors_and_reports_sizes(cli, case, personas):
    code, out, err = cli("--as", personas["on_case"].username, "bank", "rebuild")
    assert code == 1 and "supervisor" in err
    code, out, err = cli("--as", personas["supervisor"].username, "bank", "rebuild")
    assert code == 0, err
    assert f"signals {Signal.objects.count()} of 2 items" in out and "pdq " in out and "face " in out


def test_face_match_on_a_nude_image_outranks_one_on_a_clothed_image():
    face = services.Candidate(1, 10, "face", 0.9)
    pdq = services.Candidate(1, 11, "pdq", 0.97)
    assert services.priority(face, nudity=0.9) > services.priority(face, nudity=0.05)
    assert services.priority(face, nudity=0.9) > services.priority(pdq, nudity=0.9)  # the nude face first
    assert services.priority(pdq, nudity=0.9) == services.priority(pdq, nudity=0.0)  # copies rank by probability


def test_picture_pdq_equals_metas_reference_implementation_on_the_same_pixels(astronaut, tmp_path):
    """vpdq is Meta's C++ PDQ/vPDQ; fed a lossless one-frame video of the same
    pixels it must give Kesu's PDQ hash bit for bit."""
    import av
    import vpdq

    path = tmp_path / "still.mkv"  # a generated public-domain picture, so a file is fine
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=1)
        stream.width, stream.height, stream.pix_fmt = astronaut.width, astronaut.height, "bgr0"
        frame = av.VideoFrame.from_image(astronaut.convert("RGB")).reformat(format="bgr0")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    [theirs] = vpdq.computeHash(str(path), seconds_per_hash=0)
    ours, quality = features.pdq(astronaut)
    assert theirs.hex == ours and theirs.quality == quality


def test_a_stricter_face_threshold_drops_a_borderline_face(case, hopper_jpg, coffee, settings):
    hopper = Image.open(io.BytesIO(hopper_jpg)).convert("RGB")
    scene = coffee.convert("RGB").resize((900, 600))
    scene.paste(hopper.crop((90, 40, 420, 420)).resize((220, 253)), (560, 150))
    data = encode(scene, quality=85)
    distance = next(c for c in services.match(data).candidates if "face" in c.evidence["scores"]).evidence["face"]
    settings.KESU_MATCH_THRESHOLDS = {**settings.KESU_MATCH_THRESHOLDS, "face": distance["distance"] * 0.9}
    assert all("face" not in c.evidence["scores"] for c in services.match(data).candidates)


def test_confirmed_hit_banks_her_face_but_not_a_bystanders(personas, victim_details, hopper_jpg, astronaut):
    from kesu.cases import references
    from kesu.cases import services as cases

    case = cases.create_case(OPERATOR, "ncii", details=victim_details, consent=["search"])
    references.add_file(OPERATOR, case, "face.jpg", hopper_jpg, kind_hint="face")
    # Her face (grace_hopper) beside a stranger's (astronaut, in no bank).
    hopper = Image.open(io.BytesIO(hopper_jpg)).convert("RGB").crop((90, 40, 420, 420)).resize((300, 345))
    stranger = astronaut.convert("RGB").crop((130, 30, 330, 250)).resize((300, 330))
    photo = Image.new("RGB", (700, 400), (120, 130, 140))
    photo.paste(hopper, (20, 20))
    photo.paste(stranger, (380, 30))
    data = encode(photo, quality=90)
    result = services.match(data)
    [hit] = services.record_hits(result, data)
    services.confirm_hit(OPERATOR, hit)
    banked = [s.meta["box"] for s in Signal.objects.filter(hit=hit, kind="face")]
    assert banked and all(box[0] < 350 for box in banked)  # only the face on the left: hers


def test_signals_computed_before_are_banked_only_for_the_file_they_came_from(
    case, reference_signals, astronaut_png, hopper_jpg
):
    from kesu.cases import references
    from kesu.lib.errors import UserError

    computed = reference_signals[astronaut_png]
    item = references.add_file(OPERATOR, case, "again.png", astronaut_png, signals=computed)
    assert sorted(item.signals.values_list("kind", flat=True)) == sorted(value.kind for value in computed)
    assert item.pk in {candidate.reference_id for candidate in services.match(astronaut_png).candidates}
    with pytest.raises(UserError, match="not of this file"):
        references.add_file(OPERATOR, case, "other.jpg", hopper_jpg, signals=computed)
