"""A reviewer's context on a hit (issue 20 item 5): the page it was found on and its site in the knowledge base,
the capture's screenshot (blurred, revealed only through the audited, counted reveal), the evidence bundle's
state, a blur level of her own for her session, and checking a bundle keeps her in the queue."""

import io

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image
from test_review import SECRET_URL, make_hit

from kesu.audit.models import AuditEntry
from kesu.evidence import bundle as bundles
from kesu.evidence.models import EvidenceBundle
from kesu.review import exposure
from kesu.vault import services as vault


@pytest.fixture(autouse=True)
def english(request):
    if "clients" in request.fixturenames:
        for client in request.getfixturevalue("clients").values():
            client.cookies["django_language"] = "en"


def captured(case, astronaut_png, *, url=SECRET_URL, status=EvidenceBundle.Status.DONE, screenshot=True):
    """A bundle of the hit's page as the capture keeps it: a zip sealed in the vault, its URL sealed."""
    files = {"screenshot.png": astronaut_png} if screenshot else {"dom.html": b"<html></html>"}
    done = status != EvidenceBundle.Status.PENDING
    return EvidenceBundle.objects.create(
        case=case,
        url_sealed=vault.seal_text(case.data_key, url, "evidence.url"),
        reason=EvidenceBundle.Reason.PATROL,
        status=status,
        blob=vault.store_blob(case.data_key, bundles.to_zip(files)) if done else None,
        finished_at=timezone.now() if done else None,
    )


def sharpness(jpeg: bytes) -> float:
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)), dtype=float)
    return float(np.abs(np.diff(pixels, axis=1)).mean())


def test_the_hit_page_shows_the_page_url_its_site_and_the_capture(clients, case, leak, astronaut_png):
    from kesu.sites.models import Organisation, Role, Site

    host = Organisation.objects.create(role=Role.HOST, key="as64500", name="Example Hosting KK")
    Site.objects.filter(domain="leak.example").update(host=host, server_country="NL")
    hit = make_hit(case, 0.9, data=astronaut_png)
    item = captured(case, astronaut_png)
    client = clients["on_case"]
    html = client.get(f"/review/hits/{hit.pk}/").content.decode()
    assert SECRET_URL in html and 'href="/sites/leak.example/"' in html
    assert "Leak Tube" in html and "Example Hosting KK (NL)" in html
    assert '<span class="tag capture-captured">Captured</span>' in html
    assert f"/review/hits/{hit.pk}/screenshot/" in html and f"/review/hits/{hit.pk}/screenshot/media/" in html
    assert f"/cases/{case.pk}/evidence/{item.pk}/verify/" in html
    # Opening her URL is audited, with the hit; the queue still names the host alone.
    assert AuditEntry.objects.filter(action="hit.url", case_id=case.pk).count() == 1
    assert SECRET_URL not in client.get("/review/").content.decode()
    assert clients["outsider"].get(f"/review/hits/{hit.pk}/").status_code == 404


@pytest.mark.parametrize(
    "status, expected",
    [
        (EvidenceBundle.Status.PENDING, "Capture requested"),
        (EvidenceBundle.Status.FAILED, "Capture failed"),
        (None, ""),
    ],
)
def test_the_capture_state_is_requested_captured_or_failed_with_its_time(
    clients, case, astronaut_png, status, expected
):
    url = "https://unknown-site.example/p/1"
    hit = make_hit(case, 0.9, url=url, data=astronaut_png)
    captured(case, astronaut_png)  # another page's capture is not this hit's
    if status:
        captured(case, astronaut_png, url=url, status=status, screenshot=False)
    html = clients["on_case"].get(f"/review/hits/{hit.pk}/").content.decode()
    assert "unknown-site.example" in html and "not in the knowledge base" in html
    if status is None:
        assert "Not captured yet" in html
    else:
        assert f'<span class="tag capture-{"requested" if status == "pending" else "failed"}">{expected}</span>' in html
    assert f"/review/hits/{hit.pk}/screenshot/" not in html  # no screenshot to show
    assert clients["on_case"].get(f"/review/hits/{hit.pk}/screenshot/").status_code == 404


def test_the_screenshot_is_blurred_and_shown_only_through_the_audited_counted_reveal(
    clients, case, astronaut_png, personas, settings
):
    hit = make_hit(case, 0.9, data=astronaut_png)
    captured(case, astronaut_png)
    client, user = clients["on_case"], personas["on_case"]
    preview = client.get(f"/review/hits/{hit.pk}/screenshot/")
    image = Image.open(io.BytesIO(preview.content))
    assert preview.status_code == 200 and preview["Cache-Control"] == "no-store, private"
    assert image.mode == "L" and max(image.size) <= 320
    original = np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("L").resize(image.size), dtype=float)
    assert sharpness(preview.content) < np.abs(np.diff(original, axis=1)).mean() / 2
    assert exposure.today(user).count == 0  # a blurred preview is no look
    assert AuditEntry.objects.filter(action="media.preview", case_id=case.pk).count() == 1
    shown = client.get(f"/review/hits/{hit.pk}/screenshot/media/")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(shown.content)).mode == "RGB"
    assert exposure.today(user).count == 1
    assert AuditEntry.objects.filter(action="media.view", case_id=case.pk).count() == 1
    settings.KESU_EXPOSURE_DAILY_LIMIT = 1  # past the limit: only when she confirmed on the page
    assert client.get(f"/review/hits/{hit.pk}/screenshot/media/").status_code == 403
    assert client.get(f"/review/hits/{hit.pk}/screenshot/media/?anyway=1").status_code == 200
    assert exposure.today(user).count == 2
    for path in ("screenshot/", "screenshot/media/"):
        assert clients["outsider"].get(f"/review/hits/{hit.pk}/{path}").status_code == 404


def test_a_reviewer_sets_the_blur_of_her_session_lighter_never_none_and_it_is_audited(
    clients, case, astronaut_png, personas
):
    from kesu.review.models import HitPreview

    hit = make_hit(case, 0.9, data=astronaut_png)
    client = clients["on_case"]
    strong = client.get(f"/review/hits/{hit.pk}/preview/").content
    page = f"/review/hits/{hit.pk}/"
    response = client.post("/review/blur/", {"level": "light", "back": page})
    assert response.status_code == 302 and response["Location"] == page
    light = client.get(f"/review/hits/{hit.pk}/preview/").content
    assert 'value="light" selected' in client.get(page).content.decode()
    # Lighter, still a blur: sharper than the strong one, far from the picture itself.
    image = Image.open(io.BytesIO(light))
    original = np.asarray(Image.open(io.BytesIO(astronaut_png)).convert("L").resize(image.size), dtype=float)
    assert sharpness(strong) < sharpness(light) < np.abs(np.diff(original, axis=1)).mean() * 0.8
    assert image.mode == "L"
    assert vault.read_blob(HitPreview.objects.get(hit=hit).blob) == strong  # the kept preview stays strong
    [entry] = AuditEntry.objects.filter(action="review.blur")
    assert entry.detail["level"] == "light" and entry.detail["before"] == "strong"
    # Her session only: a colleague still sees the strong blur; no level shows the picture unblurred.
    assert clients["supervisor"].get(f"/review/hits/{hit.pk}/preview/").content == strong
    for level in ("none", "off", ""):
        client.post("/review/blur/", {"level": level, "back": page})
    assert client.get(f"/review/hits/{hit.pk}/preview/").content == light
    assert AuditEntry.objects.filter(action="review.blur").count() == 1
    # Her reference beside it is blurred at her level too (the kept, heavily blurred preview is not changed).
    reference = case.references.get(kind="image")
    ref_url = f"/cases/{case.pk}/references/{reference.pk}/preview/"
    assert sharpness(client.get(ref_url).content) > sharpness(clients["supervisor"].get(ref_url).content)
    assert clients["supervisor"].get(ref_url).content == vault.read_blob(reference.preview)
    assert (
        client.post("/review/blur/", {"level": "medium", "back": "https://elsewhere.example/"})["Location"]
        == "/review/"
    )
    assert exposure.today(personas["on_case"]).count == 0


def test_checking_a_bundle_from_the_review_keeps_the_reviewer_on_her_hit_in_the_queue(clients, case, astronaut_png):
    first = make_hit(case, 0.95, data=astronaut_png)
    make_hit(case, 0.9)
    item = captured(case, astronaut_png)
    client = clients["on_case"]
    page = f"/review/hits/{first.pk}/?order=age"
    response = client.post(f"/cases/{case.pk}/evidence/{item.pk}/verify/", {"back": page})
    assert response.status_code == 302 and response["Location"] == page
    html = client.get(page).content.decode()
    # The answer is said on her hit's page (this bundle has no signed manifest, so it fails the check).
    assert "Bundle NOT verified: manifest: manifest.json is missing" in html
    assert AuditEntry.objects.filter(action="evidence.open", case_id=case.pk).exists()
    # From the capture page too, back to the hit; an address off the review goes to the case as before.
    capture = client.get(f"/review/hits/{first.pk}/capture/?order=age").content.decode()
    assert f'name="back" value="{page}"' in capture.replace("&amp;", "&")
    response = client.post(f"/cases/{case.pk}/evidence/{item.pk}/verify/", {"back": "https://elsewhere.example/"})
    assert response["Location"] == f"/cases/{case.pk}/"


def test_the_context_reads_in_japanese(clients, case, leak, astronaut_png):
    hit = make_hit(case, 0.9, data=astronaut_png)
    captured(case, astronaut_png)
    client = clients["on_case"]
    client.cookies["django_language"] = "ja"
    html = client.get(f"/review/hits/{hit.pk}/").content.decode()
    for label in (
        "見つかった場所",
        "ページのURL",
        "運営者",
        "ページのスクリーンショット",
        "保全済み",
        "プレビューのぼかし",
        "ぼかしを設定",
    ):
        assert label in html
    assert ">強</option>" in html and ">弱</option>" in html and "Where it was found" not in html


def test_a_page_captured_again_keeps_its_screenshot_shown_while_the_new_capture_waits(clients, case, astronaut_png):
    hit = make_hit(case, 0.9, data=astronaut_png)
    captured(case, astronaut_png)
    captured(case, astronaut_png, status=EvidenceBundle.Status.PENDING)  # another hit on the page asked again
    html = clients["on_case"].get(f"/review/hits/{hit.pk}/").content.decode()
    assert '<span class="tag capture-requested">Capture requested</span>' in html
    assert f"/review/hits/{hit.pk}/screenshot/" in html
    assert clients["on_case"].get(f"/review/hits/{hit.pk}/screenshot/").status_code == 200
