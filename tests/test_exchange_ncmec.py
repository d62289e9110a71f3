"""NCMEC through threatexchange's own NCMECHashAPI (issue 21), against an NCMEC on loopback that serves its XML
(as the library's parser reads it) and checks what it receives: which of her hashes NCMEC already lists, the
upvote for exactly those entries, basic auth, and nothing that says whose."""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.cases import services as cases
from kesu.cases import timeline
from kesu.exchange import ncmec
from kesu.exchange import services as exchange
from kesu.exchange.hashes import Hash
from kesu.lib.errors import UserError

pytestmark = pytest.mark.django_db
OPERATOR = SystemPrincipal("test")
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "0123456789abcdef0123456789abcdef"
OTHER_PDQ = "0" * 63 + "1"
NS = "https://hashsharing.ncmec.org/hashsharing/v2"


def image(tag: str, entry: str, member: int, **prints: str) -> str:
    fingerprints = "".join(f"<{k}>{v}</{k}>" for k, v in prints.items())
    return (f"<{tag}><id>{entry}</id><classification>A1</classification><member id=\"{member}\">ESP {member}</member>"
            f"<fingerprints>{fingerprints}</fingerprints></{tag}>")  # fmt: skip


# Page one: her PDQ (in capitals) in an image entry, a stranger's, and her PDQ again in a deleted entry.
# Page two: her MD5 in a video entry. NCMEC pages with a relative "next".
PAGE_ONE = (
    f'<?xml version="1.0"?><queryResult xmlns="{NS}"><images count="3" maxTimestamp="2026-12-01T00:00:00Z">'
    + image("image", "img-1", 42, md5="f" * 32, pdq=PDQ.upper())
    + image("image", "img-2", 42, pdq=OTHER_PDQ)
    + image("deletedImage", "img-3", 7, pdq=PDQ)
    + "</images><paging><next>/v2/entries?from=x&amp;to=y&amp;start=1000&amp;size=1000&amp;max=1001</next>"
    "</paging></queryResult>"
)
PAGE_TWO = (
    f'<?xml version="1.0"?><queryResult xmlns="{NS}"><videos count="1" maxTimestamp="2026-12-02T00:00:00Z">'
    + image("video", "vid-9", 43, md5=MD5)
    + "</videos></queryResult>"
)


class FakeNCMEC:
    """NCMEC's hash-sharing API v2 as the client speaks it; records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _record(self, body: bytes = b""):
                fake.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body.decode()})  # fmt: skip

            def _answer(self, body: str):
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._record()
                self._answer(PAGE_TWO if "start=1000" in self.path else PAGE_ONE)

            def do_PUT(self):
                self._record(self.rfile.read(int(self.headers["Content-Length"])))
                self._answer("")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/npo"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_ncmec(settings):
    with FakeNCMEC() as fake:
        settings.KESU_NCMEC_URL = fake.url
        settings.KESU_NCMEC_USER = "desk-user"
        settings.KESU_NCMEC_PASSWORD = "desk-pass"
        yield fake


@pytest.fixture
def csam_case(personas, victim_details):
    case = cases.create_case(OPERATOR, "csam", details=victim_details, assignees=[personas["on_case"]])
    exchange.add_hash_reference(OPERATOR, case, [Hash("pdq", PDQ)], "hashes from her representative")
    exchange.add_hash_reference(OPERATOR, case, [Hash("video_md5", MD5)], "her video's hash")
    return case


def test_ncmec_tells_which_of_her_hashes_it_lists_and_those_entries_are_upvoted(fake_ncmec, csam_case):
    with pytest.raises(UserError, match="has not consented"):
        ncmec.check(OPERATOR, csam_case)
    assert fake_ncmec.requests == []
    exchange.give_consent(OPERATOR, csam_case, "ncmec")
    scan = ncmec.check(OPERATOR, csam_case)
    assert scan.entries == 4 and scan.complete and scan.upvoted == 2
    assert [(x.kind, x.value, x.member_id, x.entry_id) for x in scan.listed] == [
        ("md5", MD5, 43, "vid-9"),
        ("pdq", PDQ, 42, "img-1"),
    ]
    gets = [r for r in fake_ncmec.requests if r["method"] == "GET"]
    assert gets[0]["path"].startswith("/npo/v2/entries?") and "from=" in gets[0]["path"] and "to=" in gets[0]["path"]
    assert gets[1]["path"] == "/npo/v2/entries?from=x&to=y&start=1000&size=1000&max=1001"  # NCMEC's "next"
    puts = sorted((r["path"], r["body"]) for r in fake_ncmec.requests if r["method"] == "PUT")
    assert [path for path, _body in puts] == ["/npo/v2/entries/42/img-1/PDQ/feedback",
                                              "/npo/v2/entries/43/vid-9/MD5/feedback"]  # fmt: skip
    assert all("<affirmative" in body and NS in body for _path, body in puts)
    basic = "Basic " + base64.b64encode(b"desk-user:desk-pass").decode()
    assert all(r["headers"]["Authorization"] == basic for r in fake_ncmec.requests)
    wire = repr(fake_ncmec.requests).lower()
    for secret in ("hanako", "yamada", csam_case.victim.code.lower(), "representative", f"case {csam_case.pk}"):
        assert secret not in wire
    entry = AuditEntry.objects.get(action="exchange.ncmec")
    assert entry.detail["listed"] == 2 and entry.detail["upvoted"] == 2 and PDQ not in str(entry.detail)
    with translation.override("en"):
        titles = [e.title for e in timeline.events(csam_case, kinds=["exchange"])]
    assert titles[0] == "NCMEC already lists 2 of her hashes (2 entries upvoted)"


def test_a_run_reads_a_bounded_number_of_pages_and_says_so(fake_ncmec, csam_case, monkeypatch):
    exchange.give_consent(OPERATOR, csam_case, "ncmec")
    monkeypatch.setattr(ncmec, "PAGES", 1)
    scan = ncmec.check(OPERATOR, csam_case)
    assert scan.entries == 3 and not scan.complete and [x.entry_id for x in scan.listed] == ["img-1"]
    assert len([r for r in fake_ncmec.requests if r["method"] == "GET"]) == 1


def test_ncmec_is_for_csam_cases_configured_with_a_user(csam_case, personas, settings):
    ncii = cases.create_case(OPERATOR, "ncii", assignees=[personas["on_case"]])
    with pytest.raises(UserError, match="not a CSAM case"):
        ncmec.check(OPERATOR, ncii)
    exchange.give_consent(OPERATOR, csam_case, "ncmec")
    settings.KESU_NCMEC_USER = ""
    with pytest.raises(UserError, match="set KESU_NCMEC_USER and KESU_NCMEC_PASSWORD"):
        ncmec.check(OPERATOR, csam_case)
    with pytest.raises(UserError, match=f"kesu exchange ncmec --case {csam_case.pk}"):
        exchange.share(OPERATOR, csam_case, "ncmec")


def test_an_ncmec_that_refuses_is_one_line(fake_ncmec, csam_case, settings):
    exchange.give_consent(OPERATOR, csam_case, "ncmec")
    settings.KESU_NCMEC_URL = "http://127.0.0.1:9/npo"  # nothing listens there
    with pytest.raises(UserError, match="NCMEC did not answer: ConnectionError"):
        ncmec.check(OPERATOR, csam_case)
    assert not AuditEntry.objects.filter(action="exchange.ncmec").exists()


def test_the_cli_lists_her_hashes_at_ncmec(cli, fake_ncmec, csam_case, personas):
    exchange.give_consent(OPERATOR, csam_case, "ncmec")
    code, out, err = cli("--as", personas["outsider"].username, "exchange", "ncmec", "--case", str(csam_case.pk))
    assert code == 1 and fake_ncmec.requests == []
    code, out, err = cli("--as", personas["on_case"].username, "exchange", "ncmec", "--case", str(csam_case.pk))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-1] == f"case {csam_case.pk}: 2 of her hashes listed at NCMEC, 2 entries upvoted"
    assert f"pdq {PDQ}  NCMEC entry img-1 (member 42): upvoted" in lines
