"""Issue 22: the victim's hashing link, through Django's test client: made by staff (page and CLI), bound to the
first device that consents, refused when expired, revoked or opened elsewhere; what the page sends is read
strictly, and every refusal is one line that changes nothing."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from kesu.audit.models import AuditEntry
from kesu.cases import timeline
from kesu.cases.models import ReferenceItem
from kesu.hashing import services
from kesu.hashing.models import HashingLink, PageNonce
from kesu.hashing.views import COOKIE

PDQ = "f" * 16 + "0" * 16 + "a5" * 16
MD5 = "0123456789abcdef" * 2
SHA = "89abcdef01234567" * 4


def picture(n: int = 0) -> dict:
    return {"kind": "image", "md5": f"{n:032x}", "sha256": f"{n:064x}", "pdq": PDQ, "quality": 90}


def video() -> dict:
    return {"kind": "video", "md5": MD5, "sha256": SHA, "frames": [[0, PDQ, 80], [1, PDQ[::-1], 75]]}


@pytest.fixture
def link(case, personas):
    return services.create_link(personas["on_case"], case)


def opened(link) -> tuple[Client, str]:
    """Her phone: consent given; returns the client and the nonce of the hashing page it loaded."""
    phone = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert phone.post(link.path).status_code == 302
    page = phone.get(link.path)
    assert page.status_code == 200
    return phone, re.search(r'data-nonce="([^"]+)"', page.content.decode()).group(1)


def send(phone, link, body, **extra) -> tuple[int, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = phone.post(link.path + "hashes/", raw, content_type="application/json", **extra)
    return response.status_code, response.json()


def state(case) -> tuple:
    """Everything a refused submission must leave as it was."""
    return (
        ReferenceItem.objects.filter(case=case).count(),
        AuditEntry.objects.count(),
        PageNonce.objects.filter(spent_at__isnull=False).count(),
        list(HashingLink.objects.values_list("submissions", "files_received", "device_hash")),
    )


def test_staff_make_a_link_on_the_case_page_that_is_shown_once_and_stored_only_as_a_hash(case, clients):
    response = clients["on_case"].post(f"/cases/{case.pk}/hashing-link/")
    assert response.status_code == 200
    url = re.search(r'value="(http://testserver/h/[^"]+/)"', response.content.decode()).group(1)
    token = url.rsplit("/", 2)[1]
    link = HashingLink.objects.get(case=case)
    assert link.token_hash == services.digest(token) and token not in str(HashingLink.objects.values().get())
    assert timedelta(days=6, hours=23) < link.expires_at - timezone.now() <= timedelta(days=7)
    assert AuditEntry.objects.filter(action="hashing.link_create", case_id=case.pk).exists()
    assert clients["outsider"].post(f"/cases/{case.pk}/hashing-link/").status_code == 404
    page = clients["on_case"].get(f"/cases/{case.pk}/")
    assert "hashing-link/revoke/" in page.content.decode() and token not in page.content.decode()
    assert clients["outsider"].post(f"/cases/{case.pk}/hashing-link/revoke/").status_code == 404
    assert clients["on_case"].post(f"/cases/{case.pk}/hashing-link/revoke/").status_code == 302
    assert HashingLink.objects.get().revoked_at is not None
    assert AuditEntry.objects.filter(action="hashing.link_revoke", case_id=case.pk).count() == 1


def test_the_cli_prints_the_link_and_revoke_ends_it(case, cli, settings):
    settings.KESU_BASE_URL = "https://desk.example.org"
    code, out, err = cli("case", "hashing-link", str(case.pk))
    assert code == 0, err
    url = out.strip()
    assert re.fullmatch(r"https://desk\.example\.org/h/[A-Za-z0-9_-]{40,}/", url)
    path = url.removeprefix("https://desk.example.org")
    assert Client().get(path).status_code == 200
    code, out, err = cli("case", "hashing-link", str(case.pk), "--revoke")
    assert code == 0 and "1 hashing link(s) ended" in out
    refused = Client(HTTP_ACCEPT_LANGUAGE="en").get(path)
    assert refused.status_code == 403 and "ended by the desk" in refused.content.decode()
    code, out, err = cli("case", "hashing-link", "99999")
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_opening_asks_only_for_consent_and_binds_the_link_to_her_device(link):
    first = Client(HTTP_ACCEPT_LANGUAGE="en").get(link.path)
    body = first.content.decode()
    assert (
        first.status_code == 200
        and 'id="agree"' in body
        and not re.search(r'<input(?! type="hidden")', body.split("</header>")[1])
    )
    assert HashingLink.objects.get().device_hash == ""  # a messenger's preview took nothing
    japanese = Client().get(link.path)  # without a choice: the desk's language, Japanese
    assert "理解して同意します" in japanese.content.decode()
    phone, nonce = opened(link)
    assert HashingLink.objects.get().consented_at is not None
    policy = phone.get(link.path)["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy and "media-src blob:" in policy
    assert phone.cookies[COOKIE]["samesite"] == "Lax" and phone.cookies[COOKIE]["httponly"]
    assert AuditEntry.objects.filter(action="hashing.consent").count() == 1


def test_a_second_device_is_refused_and_changes_nothing(link):
    phone, nonce = opened(link)
    before = state(link.link.case)
    other = Client(HTTP_ACCEPT_LANGUAGE="en")
    for response in (other.get(link.path), other.post(link.path)):
        assert response.status_code == 403
        assert "already opened on another device" in response.content.decode()
    status, answer = send(other, link, {"nonce": nonce, "count": 1, "files": [picture()]})
    assert status == 400 and "another device" in answer["error"]
    assert state(link.link.case) == before


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_expired_and_revoked_links_are_refused_in_one_line_and_change_nothing(link, personas, how):
    phone, nonce = opened(link)
    if how == "expired":
        HashingLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        expected = "has expired"
    else:
        services.revoke(personas["on_case"], link.link.case)
        expected = "ended by the desk"
    before = state(link.link.case)
    page = phone.get(link.path)
    assert page.status_code == 403 and expected in page.content.decode() and "Traceback" not in page.content.decode()
    status, answer = send(phone, link, {"nonce": nonce, "count": 1, "files": [picture()]})
    assert status == 400 and expected in answer["error"] and "\n" not in answer["error"]
    assert state(link.link.case) == before


TAMPERED = {
    "wrong length": ({"count": 1, "files": [{**picture(), "pdq": PDQ[:-2]}]}, "PDQ must be 64 hex digits"),
    "non-hex": ({"count": 1, "files": [{**picture(), "sha256": "g" * 64}]}, "SHA-256 is not hexadecimal"),
    "count mismatch": ({"count": 3, "files": [picture()]}, "number of files does not match"),
    "too many": ({"count": 1001, "files": [picture(n) for n in range(1001)]}, "too many files"),
    "100,000 entries": ({"count": 100_000, "files": [picture(n) for n in range(100_000)]}, "too large"),
    "bad frame": ({"count": 1, "files": [{**video(), "frames": [[0, PDQ, 101]]}]}, "quality must be"),
    "extra field": ({"count": 1, "files": [picture()], "pixels": "AAAA"}, "fields other than"),
}


@pytest.mark.parametrize("name", list(TAMPERED))
def test_a_tampered_hash_list_is_refused_in_one_line_and_changes_nothing(link, name):
    phone, nonce = opened(link)
    body, expected = TAMPERED[name]
    before = state(link.link.case)
    status, answer = send(phone, link, {"nonce": nonce, **body})
    assert status == 400 and expected in answer["error"] and "\n" not in answer["error"]
    assert state(link.link.case) == before
    status, answer = send(phone, link, b"not json")
    assert status == 400 and answer["error"].endswith("(the list of hashes is not valid JSON)")
    assert "nothing was stored" in answer["error"]  # what she reads first: nothing kept, what to do


def test_hashes_become_hash_only_references_and_a_replay_is_refused(link):
    phone, nonce = opened(link)
    case = link.link.case
    refs = ReferenceItem.objects.filter(case=case).count()
    body = {"nonce": nonce, "count": 2, "files": [picture(1), video()], "keywords": ["hanako leak", "tube.example"]}
    status, answer = send(phone, link, body)
    assert (status, answer) == (200, {"received": 2})
    hashed = ReferenceItem.objects.filter(case=case, kind=ReferenceItem.Kind.HASHES)
    assert hashed.count() == 2
    kinds = {s.kind for item in hashed for s in item.signals.all()}
    assert {"pdq", "vpdq", "md5", "sha256"} <= kinds
    from kesu.cases import references

    assert {references.label(case, item) for item in hashed} == {services.HASHED_ON_HER_DEVICE}
    assert ReferenceItem.objects.filter(case=case, kind=ReferenceItem.Kind.KEYWORD).count() == 2
    assert ReferenceItem.objects.filter(case=case).count() == refs + 4
    entry = AuditEntry.objects.filter(action="hashing.receive").get()
    assert entry.detail == {"files": 2, "frames": 2, "keywords": 2} and PDQ not in json.dumps(entry.detail)
    titles = [event.title for event in timeline.events(case, kinds=["hashing"])]
    assert titles[:3] == ["Her device sent the hashes of 2 files", "She opened her hashing link and agreed",
                          "Hashing link made for her (valid 7 days)"]  # fmt: skip
    before = state(case)
    status, answer = send(phone, link, body)
    assert status == 400 and "already sent" in answer["error"]
    assert state(case) == before
    # a fresh page load gives a fresh nonce: she can add more from the same phone
    _page, again = opened_again(phone, link)
    assert send(phone, link, {**body, "nonce": again, "keywords": []})[0] == 200


def opened_again(phone, link):
    page = phone.get(link.path)
    return page, re.search(r'data-nonce="([^"]+)"', page.content.decode()).group(1)
