"""The review queue: order and filters, the side-by-side page, decisions (and what they feed), exposure."""

import io
import json
import re
import uuid

import numpy as np
import pytest
from PIL import Image

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.cases import services as cases
from kesu.matching import services as matching
from kesu.matching import signals
from kesu.matching.models import Hit, Signal
from kesu.review import calibration as refitting
from kesu.review import exposure
from kesu.review import services as review
from kesu.review.models import Decision
from kesu.vault import services as vault

SECRET_URL = "https://leak.example/v/private-hanako-0042.html"
OPERATOR = SystemPrincipal("test")


def png(array) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def make_hit(case, probability, *, url=SECRET_URL, signal="pdq", evidence=None, data=None, **fields) -> Hit:
    return Hit.objects.create(
        case=case,
        sha256=fields.pop("sha256", uuid.uuid4().hex * 2),
        signal=signal,
        probability=probability,
        source_url_sealed=vault.seal_text(case.data_key, url, "hit.source_url"),
        source_key=vault.blind_index(url + uuid.uuid4().hex),
        host=matching.host_of_url(url),
        evidence=evidence or {"signal": signal, "pdq": {"distance": 12, "variant": "rot90", "region": "full/full"}},
        blob=vault.store_blob(case.data_key, data) if data else None,
        media_type="image/png" if data else "",
        **fields,
    )


@pytest.fixture(autouse=True)
def english(request):
    """The assertions read English; one test checks the Japanese page."""
    if "clients" in request.fixturenames:
        for client in request.getfixturevalue("clients").values():
            client.cookies["django_language"] = "en"


@pytest.fixture
def other_case(personas, victim_details):
    return cases.create_case(OPERATOR, "csam", details=victim_details, assignees=[personas["outsider"]])


def ids(response) -> list[int]:
    return [hit.pk for hit in response.context["hits"]]


def test_the_queue_puts_csam_and_minors_first_then_probability_nudity_and_age(clients, case, other_case, personas):
    low = make_hit(case, 0.6, nudity=0.9)
    high = make_hit(case, 0.97, nudity=0.1)
    high_nude = make_hit(case, 0.97, nudity=0.8)
    urgent = make_hit(other_case, 0.55)
    make_hit(case, 0.99, status=Hit.Status.REJECTED)  # decided: not waiting
    response = clients["supervisor"].get("/review/")
    assert ids(response) == [urgent.pk, high_nude.pk, high.pk, low.pk]
    html = response.content.decode()
    assert "≥95%" in html and "CSAM" in html
    assert "private-hanako" not in html and "leak.example" in html  # the host only, never her URL
    # staff see only their cases; the other orders
    assert ids(clients["on_case"].get("/review/")) == [high_nude.pk, high.pk, low.pk]
    assert ids(clients["supervisor"].get("/review/?order=nudity"))[:2] == [low.pk, high_nude.pk]
    assert ids(clients["supervisor"].get("/review/?order=age")) == [low.pk, high.pk, high_nude.pk, urgent.pk]


def test_the_review_pages_are_in_japanese(clients, case):
    hit = make_hit(case, 0.97)
    client = clients["on_case"]
    client.cookies["django_language"] = "ja"
    assert "確認キュー" in client.get("/review/").content.decode()
    page = client.get(f"/review/hits/{hit.pk}/").content.decode()
    assert "一致した内容" in page and "確認：ご本人のもの" in page and "What matched" not in page


def test_the_queue_filters_by_case_site_and_signal(clients, case, other_case):
    a = make_hit(case, 0.9, url="https://cdn.tube.example/x.jpg")
    b = make_hit(case, 0.8, url="https://board.example/t/1", signal="face", evidence={"face": {"distance": 0.41}})
    c = make_hit(other_case, 0.7, url="https://tube.example/y")
    client = clients["supervisor"]
    assert ids(client.get(f"/review/?case={case.pk}")) == [a.pk, b.pk]
    assert ids(client.get("/review/?site=tube.example")) == [c.pk, a.pk]  # subdomains of the site too
    assert ids(client.get("/review/?signal=face")) == [b.pk]
    assert ids(client.get("/review/?signal=face&case=999999")) == []
    assert ids(client.get(f"/review/?case={case.victim.code.lower()}")) == [a.pk, b.pk]  # her code: all her cases
    assert ids(client.get("/review/?case=V-NONE-NONE")) == []
    assert client.get("/review/?order=bogus&status=bogus&case=x").status_code == 200  # stale links still work


def test_the_item_page_shows_both_sides_blurred_and_what_matched(clients, case, astronaut_png):
    reference = case.references.get(kind="image")
    segments = [{"query_start": 3.0, "query_end": 9.5, "reference_start": 10.0, "reference_end": 16.5,
                 "frames": 7, "mean_distance": 11.2}]  # fmt: skip
    hit = make_hit(case, 0.96, data=astronaut_png[:], reference=reference, nudity=0.7,
                   evidence={"pdq": {"distance": 18, "variant": "flipx", "region": "trimmed/full"},
                             "local": {"inliers": 41, "matches": 120, "coverage": 0.62, "spread": 0.71,
                                       "texture": 0.45, "mirrored": True},
                             "face": {"distance": 0.38, "t": 4.2}, "segments": segments,
                             "scores": {"pdq": 0.96, "face": 0.9}})  # fmt: skip
    response = clients["on_case"].get(f"/review/hits/{hit.pk}/")
    html = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store, private"
    assert f"/cases/{case.pk}/references/{reference.pk}/preview/" in html  # her reference, blurred
    assert f"/review/hits/{hit.pk}/preview/" in html and 'class="blurred big"' in html
    for shown in ("distance 18 of 256 bits", "flipx", "41 of 120 matches agree", "0.38", "3.0–9.5 s", "10.0–16.5 s",
                  "spread over it 0.71", "photo texture 0.45"):  # fmt: skip
        assert shown in html
    assert 'data-key="c"' in html and 'data-key="x"' in html and 'data-key="s"' in html and 'data-key="o"' in html
    # Her URL is on the hit's own page only, opened for it and audited (test_review_context); not in the queue.
    assert SECRET_URL in html and AuditEntry.objects.filter(action="hit.url", case_id=case.pk).count() == 1
    assert clients["outsider"].get(f"/review/hits/{hit.pk}/").status_code == 404


def test_previews_are_blurred_greyscale_made_once_and_audited(clients, case, astronaut_png):
    hit = make_hit(case, 0.9, data=astronaut_png)
    client = clients["on_case"]
    first = client.get(f"/review/hits/{hit.pk}/preview/")
    image = Image.open(io.BytesIO(first.content))
    assert first["Content-Type"] == "image/jpeg" and image.mode == "L" and max(image.size) <= 320
    # Blurred: neighbouring pixels barely differ, unlike the original's sharp edges.
    pixels = np.asarray(image, dtype=float)
    original = np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("L").resize(image.size), dtype=float)
    assert np.abs(np.diff(pixels, axis=1)).mean() < np.abs(np.diff(original, axis=1)).mean() / 2
    assert client.get(f"/review/hits/{hit.pk}/preview/").content == first.content
    assert hit.preview.blob is not None  # kept sealed, not made again
    assert AuditEntry.objects.filter(action="media.preview", case_id=case.pk).count() == 2
    assert clients["outsider"].get(f"/review/hits/{hit.pk}/preview/").status_code == 404


def test_keyboard_decisions_move_to_the_next_hit_and_feed_the_bank_and_the_calibration(clients, case, astronaut_png):
    rotated = png(np.rot90(np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("RGB"))).copy())
    first = make_hit(case, 0.99, data=rotated)
    second = make_hit(case, 0.8)
    third = make_hit(case, 0.7)
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    response = client.post(f"/review/hits/{first.pk}/decide/", {"kind": "confirm"})
    assert response.status_code == 302 and response["Location"] == f"/review/hits/{second.pk}/"
    first.refresh_from_db()
    assert first.status == Hit.Status.CONFIRMED and first.decided_by.username == "hana"
    assert Signal.objects.filter(hit=first, source=Signal.Source.HIT).exists()  # re-uploads now match directly
    decision = Decision.objects.get(hit=first)
    assert (decision.kind, decision.signal, decision.features) == ("confirm", "pdq", [12])
    page = client.get(response["Location"]).content.decode()
    status = re.search(r'<div id="review-status"[^>]*>([^<]*)</div>', page).group(1)
    assert status == f"Hit #{first.pk}: Confirmed."  # said in the status region of the next hit
    # reject, with the filters kept; the last one leads back to the queue
    response = client.post(f"/review/hits/{second.pk}/decide/", {"kind": "reject", "order": "age"})
    assert response["Location"] == f"/review/hits/{third.pk}/?order=age"
    response = client.post(f"/review/hits/{third.pk}/decide/", {"kind": "reject"})
    assert response["Location"] == "/review/"
    queue = client.get("/review/").content.decode()  # the queue says what the last decision was
    assert re.search(r'<div id="review-status"[^>]*>([^<]*)</div>', queue).group(1) == f"Hit #{third.pk}: Rejected."
    # undo: waits again, and the bank forgets it
    client.post(f"/review/hits/{first.pk}/undo/")
    first.refresh_from_db()
    assert first.status == Hit.Status.NEW and not Signal.objects.filter(hit=first).exists()
    assert Decision.objects.get(pk=decision.pk).undone
    # a decided hit cannot be decided twice by a stale page
    client.post(f"/review/hits/{second.pk}/decide/", {"kind": "confirm"})
    assert Hit.objects.get(pk=second.pk).status == Hit.Status.REJECTED


def test_same_content_elsewhere_confirms_every_waiting_copy_of_the_same_file(clients, case):
    sha = "ab" * 32
    hits = [make_hit(case, 0.9, url=f"https://mirror{i}.example/p/1", sha256=sha) for i in range(3)]
    other = make_hit(case, 0.9)
    clients["on_case"].post(f"/review/hits/{hits[0].pk}/decide/", {"kind": "same"})
    assert {h.status for h in Hit.objects.filter(sha256=sha)} == {Hit.Status.CONFIRMED}
    assert Decision.objects.filter(kind="same").count() == 3
    assert Hit.objects.get(pk=other.pk).status == Hit.Status.NEW


def test_reveals_are_audited_counted_and_gently_limited(clients, case, astronaut_png, personas, settings):
    settings.KESU_EXPOSURE_DAILY_LIMIT = 2
    hit = make_hit(case, 0.9, data=astronaut_png)
    client, user = clients["on_case"], personas["on_case"]
    for _ in range(2):
        assert client.get(f"/review/hits/{hit.pk}/media/").status_code == 200
    assert exposure.today(user).count == 2 and exposure.today(user).reached
    refused = client.get(f"/review/hits/{hit.pk}/media/")
    assert refused.status_code == 403 and exposure.today(user).count == 2
    assert client.get(f"/review/hits/{hit.pk}/media/?anyway=1").status_code == 200  # she chose to go on
    assert AuditEntry.objects.filter(action="media.view", case_id=case.pk).count() == 3
    assert 'class="exposure reached"' in client.get(f"/review/hits/{hit.pk}/").content.decode()
    # a reference reveal on the case page counts too
    reference = case.references.get(kind="image")
    client.get(f"/cases/{case.pk}/references/{reference.pk}/media/")
    assert exposure.today(user).count == 4
    # the supervisor sees the team and sets a personal limit; staff cannot
    assert clients["on_case"].get("/review/exposure/").status_code == 404
    supervisor = clients["supervisor"]
    assert "hana" in supervisor.get("/review/exposure/").content.decode()
    supervisor.post("/review/exposure/", {"user": user.pk, "daily": "10"})
    assert exposure.today(user).limit == 10 and not exposure.today(user).reached
    assert AuditEntry.objects.filter(action="exposure.limit").exists()


def decided(case, kind, features, n):
    for _ in range(n):
        hit = make_hit(case, 0.5, evidence={"pdq": {"distance": features}})
        Decision.objects.create(hit=hit, kind=kind, signal="pdq", probability=0.5, features=[features])


def test_decisions_refit_the_calibration_towards_what_staff_saw(case, settings, tmp_path, clients):
    settings.KESU_CALIBRATION_FILE = str(tmp_path / "calibration-desk.json")
    settings.KESU_CALIBRATION_MIN_DECISIONS = 10
    shipped = signals.probability("pdq", 40)
    decided(case, "confirm", 8, 10)
    assert not refitting.refit(OPERATOR)[0].refitted  # not enough rejections yet
    # Staff keep rejecting hits at distance 40 the shipped model was fairly sure of, and confirm close ones.
    decided(case, "reject", 40, 15)
    decided(case, "confirm", 20, 10)
    result = {r.signal: r for r in refitting.refit(OPERATOR)}["pdq"]
    assert result.refitted and result.loss_after < result.loss_before
    assert signals.probability("pdq", 40) < shipped  # every process re-reads the refitted file
    assert signals.probability("pdq", 8) > 0.9
    assert AuditEntry.objects.filter(action="calibration.refit").exists()
    page = clients["supervisor"].get("/review/calibration/").content.decode()
    assert "refitted from decisions" in page
    clients["supervisor"].post("/review/calibration/", {"action": "forget"})
    assert signals.probability("pdq", 40) == pytest.approx(shipped)


def test_record_hits_keeps_the_host_in_the_clear_and_the_url_sealed(case, astronaut_png):
    result = matching.match(astronaut_png)
    [hit] = matching.record_hits(result, astronaut_png, "https://Hanako.Board.example:8443/p/photo.png")
    assert hit.host == "board.example"  # the site, not the host name (which can carry her name)
    assert b"hanako" not in bytes(hit.source_url_sealed).lower()
    assert review.place(case.assignees.first(), review.Filters(), hit.pk).position == 1


def test_the_command_line_lists_the_queue_and_decides(cli, case, personas):
    hit = make_hit(case, 0.97)
    code, out, _ = cli("review", "queue", "--json")
    assert code == 0 and json.loads(out)[0]["hit"] == hit.pk and json.loads(out)[0]["site"] == "leak.example"
    assert "private-hanako" not in out
    code, out, _ = cli("review", "decide", str(hit.pk), "reject")
    assert code == 0 and Hit.objects.get(pk=hit.pk).status == Hit.Status.REJECTED
    code, _, err = cli("review", "decide", str(hit.pk), "reject")
    assert code != 0 and f"#{hit.pk}" in err and "Traceback" not in err
    code, out, _ = cli("review", "exposure", "--user", "hana", "--limit", "7", "--json")
    assert code == 0 and {"user": "hana", "today": 0, "week": 0, "limit": 7} in json.loads(out)


def test_pages_of_the_queue_run_on_from_the_urgent_hits_to_the_others(clients, case, other_case, monkeypatch):
    monkeypatch.setattr(review, "PER_PAGE", 2)
    urgent = [make_hit(other_case, p) for p in (0.9, 0.8, 0.7)]
    others = [make_hit(case, p) for p in (0.99, 0.6)]
    pages = [ids(clients["supervisor"].get(f"/review/?page={n}")) for n in (1, 2, 3)]
    assert pages == [[urgent[0].pk, urgent[1].pk], [urgent[2].pk, others[0].pk], [others[1].pk]]
    assert clients["supervisor"].get("/review/").context["page"].paginator.count == 5
