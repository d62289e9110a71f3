"""Her hashes to StopNCII through threatexchange's own client (issue 21, item 2), against a StopNCII on loopback
that checks what it receives: her PDQ and video MD5 only, with the keys from settings, nothing that says whose;
taken back when she withdraws; platforms' feedback read back onto her timeline."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation
from threatexchange.exchanges.clients.stopncii.api import StopNCIISignalType

from kesu.accounts.principals import SystemPrincipal
from kesu.cases import services as cases
from kesu.cases import timeline
from kesu.exchange import services as exchange
from kesu.exchange.hashes import Hash
from kesu.exchange.models import SharedHash
from kesu.lib.errors import UserError

pytestmark = pytest.mark.django_db
OPERATOR = SystemPrincipal("test")
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "0123456789abcdef0123456789abcdef"


def titles(case) -> list[str]:
    with translation.override("en"):
        return [e.title for e in timeline.events(case, kinds=["exchange"])]


class FakeStopNCII:
    """StopNCII's CSP API as threatexchange's client speaks it: records every request, answers like the API."""

    def __init__(self):
        self.requests: list[dict] = []
        self.records: list[dict] = []
        self.failing = False  # True: every POST answers 503, as StopNCII down
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: dict):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.failing:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._answer({})

            def do_GET(self):
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": None})
                records = fake.records
                self._answer({"count": len(records), "nextPageToken": None, "nextSetTimestamp": 1,
                              "hasMoreRecords": False, "hashRecords": records})  # fmt: skip

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stopncii(settings):
    with FakeStopNCII() as fake:
        settings.KESU_STOPNCII_URL = fake.url
        settings.KESU_STOPNCII_SUBSCRIPTION_KEY = "sub-key"
        settings.KESU_STOPNCII_SUBMIT_KEY = "submit-key"
        settings.KESU_STOPNCII_FEEDBACK_KEY = "feedback-key"
        settings.KESU_STOPNCII_FETCH_KEY = "fetch-key"
        yield fake


@pytest.fixture
def her_case(personas, victim_details):
    case = cases.create_case(OPERATOR, "ncii", details=victim_details, assignees=[personas["on_case"]])
    exchange.add_hash_reference(OPERATOR, case, [Hash("pdq", PDQ)], "hashed on her device")
    exchange.add_hash_reference(OPERATOR, case, [Hash("video_md5", MD5)], "her video, hashed on her device")
    return case


def test_upstream_client_writes_the_enums_name_not_its_value():
    """Why Kesu hands StopNCIIAPI.submit_hashes the type's value: it writes str(signal_type) on the wire."""
    assert str(StopNCIISignalType.ImagePDQ) == "StopNCIISignalType.ImagePDQ"


def test_her_hashes_go_to_stopncii_only_with_her_consent_and_only_as_hashes(stopncii, her_case, victim_details):
    with pytest.raises(UserError, match="has not consented"):
        exchange.share(OPERATOR, her_case, "stopncii")
    assert stopncii.requests == []
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    assert exchange.share(OPERATOR, her_case, "stopncii") == 2
    assert exchange.share(OPERATOR, her_case, "stopncii") == 0  # each hash once
    [sent] = stopncii.requests
    assert sent["path"] == "/v1/SubmitHashes"
    assert (
        sent["headers"]["x-functions-key"] == "submit-key" and sent["headers"]["Ocp-Apim-Subscription-Key"] == "sub-key"
    )
    records = sent["body"]["hashRecords"]
    assert sent["body"]["count"] == 2
    assert sorted((r["signalType"], r["hashValue"]) for r in records) == [("ImagePDQ", PDQ), ("VideoMD5", MD5)]
    assert all(set(r) == {"lastModtimestamp", "signalType", "hashValue", "CSPFeedbacks"} for r in records)
    assert all(r["CSPFeedbacks"] == [{"tags": [], "feedbackValue": "Blocked"}] for r in records)
    wire = json.dumps(sent).lower()
    for secret in ("hanako", "yamada", her_case.victim.code.lower(), "device", "example.org"):
        assert secret not in wire
    assert titles(her_case)[0] == "Her hashes sent to StopNCII (2 hashes)"


def test_withdrawing_her_consent_takes_her_hashes_back(stopncii, her_case):
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    exchange.share(OPERATOR, her_case, "stopncii")
    assert exchange.withdraw_consent(OPERATOR, her_case, "stopncii") == 1
    withdrawal = stopncii.requests[-1]
    assert withdrawal["path"] == "/v1/SubmitFeedback" and withdrawal["headers"]["x-functions-key"] == "feedback-key"
    assert sorted(f["hashValue"] for f in withdrawal["body"]["hashFeedbacks"]) == sorted([PDQ, MD5])
    assert {f["feedbackValue"] for f in withdrawal["body"]["hashFeedbacks"]} == {"Withdrawn"}
    assert not SharedHash.objects.filter(case=her_case, removed_at__isnull=True).exists()
    with pytest.raises(UserError, match="has not consented"):
        exchange.share(OPERATOR, her_case, "stopncii")
    assert titles(her_case)[:2] == [
        "She withdrew her consent for StopNCII: her hashes are taken back",
        "Her hashes withdrawn from StopNCII (2 hashes)",
    ]


def test_a_failed_take_back_keeps_her_consent_and_says_so(stopncii, her_case, settings):
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    exchange.share(OPERATOR, her_case, "stopncii")
    settings.KESU_STOPNCII_FEEDBACK_KEY = ""
    with pytest.raises(UserError, match="StopNCII is not configured: set KESU_STOPNCII_FEEDBACK_KEY"):
        exchange.withdraw_consent(OPERATOR, her_case, "stopncii")
    assert exchange.live_consents(her_case).filter(destination="stopncii").exists()


def test_platforms_feedback_on_her_hashes_lands_on_her_timeline_once(stopncii, her_case):
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    exchange.share(OPERATOR, her_case, "stopncii")
    stopncii.records = [
        {"lastModtimestamp": 5, "signalType": "ImagePDQ", "hashValue": PDQ, "hashStatus": "Active",
         "caseNumbers": {}, "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": [], "source": "ExamplePlatform"}]},
        {"lastModtimestamp": 5, "signalType": "ImagePDQ", "hashValue": "0" * 64, "hashStatus": "Active",
         "caseNumbers": {}, "CSPFeedbacks": [{"feedbackValue": "Blocked", "tags": [], "source": "Other"}]},
    ]  # fmt: skip
    assert exchange.read_feedback(OPERATOR) == 1
    assert exchange.read_feedback(OPERATOR) == 0
    fetch = stopncii.requests[-1]
    assert fetch["path"].startswith("/v1/FetchHashes?") and fetch["headers"]["x-functions-key"] == "fetch-key"
    assert titles(her_case)[0] == "ExamplePlatform says: Blocked"


def test_ncmec_and_partners_are_not_pushed_to(her_case, personas):
    csam = cases.create_case(OPERATOR, "csam", assignees=[personas["on_case"]])
    exchange.give_consent(OPERATOR, csam, "ncmec")
    with pytest.raises(UserError, match="cannot upload"):
        exchange.share(OPERATOR, csam, "ncmec")
    exchange.give_consent(OPERATOR, her_case, "partners")
    with pytest.raises(UserError, match="partner API"):
        exchange.share(OPERATOR, her_case, "partners")


def test_unconfigured_stopncii_is_one_line(her_case, settings):
    settings.KESU_STOPNCII_SUBSCRIPTION_KEY = ""
    exchange.give_consent(OPERATOR, her_case, "stopncii")
    with pytest.raises(UserError, match="set KESU_STOPNCII_SUBSCRIPTION_KEY, KESU_STOPNCII_SUBMIT_KEY"):
        exchange.share(OPERATOR, her_case, "stopncii")


def test_the_cli_shares_and_reads_feedback(cli, stopncii, her_case, personas):
    assert cli("exchange", "consent", "--case", str(her_case.pk), "--to", "stopncii")[0] == 0
    code, out, err = cli("exchange", "share", "--case", str(her_case.pk), "--to", "stopncii")
    assert code == 0 and out.strip() == f"case {her_case.pk}: 2 new hashes sent to stopncii"
    code, out, err = cli("--as", personas["on_case"].username, "exchange", "feedback")
    assert code == 1 and "supervisor" in err  # it reads every case's shared hashes
    code, out, err = cli("--as", personas["supervisor"].username, "exchange", "feedback")
    assert code == 0 and out.strip() == "0 new opinions recorded"
