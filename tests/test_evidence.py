"""Evidence bundles from real captures: they verify, any changed byte fails, the WARC replays the bytes;
preservation for a case, CSAM cases, the task, the CLI and the case page."""

import hashlib
import ipaddress
import json
from pathlib import Path

import pytest
from capture_site import CaptureSite
from tsa import LocalTSA

from kesu.capture.browser import Engine
from kesu.capture.policy import AddressPolicy
from kesu.capture.recorder import Limits
from kesu.evidence import bundle, services, warc
from kesu.evidence.models import EvidenceBundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with CaptureSite(tmp_path_factory.mktemp("site")) as site:
        yield site


@pytest.fixture(scope="module")
def captured(site):
    engine = Engine(AddressPolicy(allow=(ipaddress.ip_network("127.0.0.0/8"),)), Limits(page_seconds=45), warm=0)
    try:
        yield {"all": engine.capture(site.url("/all.html")), "simple": engine.capture(site.url("/simple.html"))}
    finally:
        engine.close()


@pytest.fixture
def loopback(settings):
    """services.engine() built from settings that let it reach the local site."""
    from kesu.capture import services as capturing

    settings.KESU_ALLOW_LOOPBACK = True
    settings.KESU_CAPTURE_PAGE_SECONDS = 30
    settings.KESU_CAPTURE_WARM_CONTEXTS = 0
    capturing.shutdown()
    yield
    capturing.shutdown()


def _seal(capture, **kw):
    files, errors = services.seal_capture(
        capture, bundle_id="test", case=None, reason="test", collector="test", withhold_media=kw.get("withhold", False)
    )
    return files


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


@pytest.mark.django_db
def test_bundle_verifies_and_its_warc_replays_every_medium(site, captured, tmp_path):
    files = _seal(captured["all"])
    bundle.to_directory(files, tmp_path / "b")
    report = services.verify_files(bundle.from_path(tmp_path / "b"), directory=tmp_path / "b")
    assert report.ok, report.lines()
    names = {check.name for check in report.checks}
    assert {"warcio check", "wacz validate", "signature", "WARC", "WACZ", "media in the archive"} <= names
    payloads = {hashlib.sha256(r["payload"]).hexdigest() for r in warc.read_warc(files["capture.warc.gz"])}
    for name, entry in site.on_page("/all.html").items():
        if entry["sha256"] and not name.endswith("joined"):
            assert entry["sha256"] in payloads, name
    joined = {hashlib.sha256(data).hexdigest() for path, data in files.items() if path.startswith("media/")}
    assert {site.expected[n]["sha256"] for n in ("hls-joined", "dash-joined", "native-joined")} <= joined
    manifest = json.loads(files["manifest.json"])
    assert manifest["source"]["url"] == site.url("/all.html") and manifest["collector"]["browser"].startswith(
        "Chromium"
    )
    assert set(manifest["integrity"]["files"]) == set(files) - {"manifest.json", *bundle.SEALS}
    assert b"screenshot.png" in files["summary.html"] and files["screenshot.png"].startswith(b"\x89PNG")


@pytest.mark.django_db
def test_flipping_one_byte_anywhere_fails_verification(captured):
    files = _seal(captured["simple"])
    assert services.verify_files(files).ok
    for name, data in files.items():
        for at in {0, len(data) // 2, len(data) - 1}:
            changed = {**files, name: _flip(data, at)}
            assert not services.verify_files(changed).ok, (name, at)
    assert not services.verify_files({**files, "extra.txt": b"x"}).ok
    assert not services.verify_files({k: v for k, v in files.items() if k != "dom.html"}).ok


@pytest.mark.django_db
def test_a_bundle_signed_by_another_key_is_not_trusted(captured):
    files = _seal(captured["simple"])
    forged = bundle.seal(
        {k: v for k, v in files.items() if k not in ("manifest.json", *bundle.SEALS)},
        json.loads(files["manifest.json"]),
        b"\x07" * 32,
    )
    report = services.verify_files(forged)
    assert not report.ok and any("not a trusted Kesu key" in line for line in report.lines())


@pytest.mark.django_db
def test_timestamp_from_an_rfc3161_authority(captured, settings, tmp_path):
    with LocalTSA("rsa") as tsa:
        settings.KESU_TSA_URL = tsa.url
        settings.KESU_TSA_CA_FILE = str(tsa.ca_path)
        files = _seal(captured["simple"])
        report = services.verify_files(files)
        assert not services.verify_files({**files, bundle.TIMESTAMP: _flip(files[bundle.TIMESTAMP], 60)}).ok
    assert bundle.TIMESTAMP in files
    assert report.ok and any("trusted authority" in line for line in report.lines()), report.lines()


@pytest.mark.django_db
def test_unreachable_authority_still_gives_a_signed_bundle_and_says_so(captured, settings):
    settings.KESU_TSA_URL = "http://127.0.0.1:9/tsa"
    files, errors = services.seal_capture(
        captured["simple"], bundle_id="t", case=None, reason="t", collector="t", withhold_media=False
    )
    assert bundle.TIMESTAMP not in files and errors and errors[0].startswith("no timestamp:")
    settings.KESU_TSA_URL = ""
    assert services.verify_files(files).ok


@pytest.mark.django_db
def test_preserve_keeps_the_bundle_sealed_in_the_vault(site, case, loopback, personas):
    from kesu.audit.models import AuditEntry
    from kesu.vault.services import _blob_path

    item = services.preserve(site.url("/simple.html"), case, EvidenceBundle.Reason.NOTICE)
    assert item.status == "done" and item.outcome == "complete" and item.media_count >= 2
    image = (Path(site.directory) / "cdn" / "img" / "simple.png").read_bytes()
    on_disk = _blob_path(item.blob).read_bytes()
    assert image[:64] not in on_disk and b"<html" not in on_disk.lower()
    assert services.url_of(item) == site.url("/simple.html")
    assert site.url("/simple.html").encode() not in bytes(item.url_sealed)
    report = services.verify_stored(personas["on_case"], item)
    assert report.ok, report.lines()
    actions = list(AuditEntry.objects.filter(case_id=case.pk).values_list("action", flat=True))
    assert {"evidence.request", "evidence.preserve", "evidence.open", "evidence.verify"} <= set(actions)


@pytest.mark.django_db
def test_csam_case_keeps_hashes_but_never_the_media(site, loopback, victim_details):
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import services as cases

    csam = cases.create_case(SystemPrincipal("test"), "csam", details=victim_details)
    item = services.preserve(site.url("/simple.html"), csam, EvidenceBundle.Reason.NOTICE)
    files = services.files_of("system:test", item)
    assert "screenshot.png" not in files and "page.mhtml" not in files
    payloads = {hashlib.sha256(r["payload"]).hexdigest() for r in warc.read_warc(files["capture.warc.gz"])}
    image = site.expected["simple-image"]["sha256"]
    assert image not in payloads
    manifest = json.loads(files["manifest.json"])
    assert manifest["media_withheld"] and image in {m["sha256"] for m in manifest["media"]}
    assert services.verify_files(files).ok


@pytest.mark.django_db
def test_preservation_task_is_idempotent(site, case, loopback, personas, django_capture_on_commit_callbacks):
    from kesu.evidence import tasks

    with django_capture_on_commit_callbacks() as callbacks:
        item = services.request_preservation(personas["on_case"], case, site.url("/simple.html"))
    assert item.status == "pending" and len(callbacks) == 1
    assert tasks.preserve_bundle(str(item.pk)) == "done"
    item.refresh_from_db()
    blob = item.blob_id
    assert tasks.preserve_bundle(str(item.pk)) == "done"
    item.refresh_from_db()
    assert item.blob_id == blob and EvidenceBundle.objects.filter(case=case).count() == 1


@pytest.mark.django_db
def test_two_workers_claiming_one_bundle_capture_it_once(site, case, loopback, personas, settings):
    """A second worker finds the bundle held and leaves it; a claim past its lease is taken over, and the first
    worker's late results are then not kept; a done bundle is left alone."""
    from datetime import timedelta

    from django.utils import timezone

    from kesu.audit.models import AuditEntry
    from kesu.lib.workrows import LostClaim

    def captures():
        return AuditEntry.objects.filter(action="evidence.preserve", object_id=str(item.pk)).count()

    item = services.request_preservation(personas["on_case"], case, site.url("/simple.html"))
    first = services.claim_bundle(item.pk)  # the first worker holds it, its capture under way
    assert first and services.claim_bundle(item.pk) is None
    second = services.run_preservation(item.pk)  # the second worker, meanwhile
    assert second.status == "pending" and second.blob_id is None and captures() == 0

    long_ago = timezone.now() - services.capture_lease() - timedelta(seconds=1)
    EvidenceBundle.objects.filter(pk=item.pk).update(claimed_at=long_ago)  # the first worker died, or hangs
    taken_over = services.run_preservation(item.pk)
    assert taken_over.status == "done" and taken_over.blob_id and captures() == 1

    late = EvidenceBundle.objects.select_related("case__data_key").get(pk=item.pk)
    with pytest.raises(LostClaim):  # the first worker comes back with its capture: nothing of it is kept
        services.preserve_claimed(late, first)
    assert EvidenceBundle.objects.get(pk=item.pk).blob_id == taken_over.blob_id and captures() == 1

    again = services.run_preservation(item.pk)  # a done bundle is left alone
    assert again.blob_id == taken_over.blob_id and again.attempts == 2 and captures() == 1  # two claims, no third


@pytest.mark.django_db
def test_cli_capture_out_dir_then_verify_and_tamper(site, cli, loopback, tmp_path):
    code, out, err = cli("capture", site.url("/simple.html"), "--out", str(tmp_path / "b"), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["outcome"] == "complete" and result["media"] >= 2
    code, out, _ = cli("evidence", "verify", str(tmp_path / "b"))
    assert code == 0 and out.strip().endswith("VERIFIED")
    page = tmp_path / "b" / "dom.html"
    page.write_bytes(page.read_bytes().replace(b"<body", b"<bodx", 1))
    code, out, _ = cli("evidence", "verify", str(tmp_path / "b"))
    assert code == 1 and "FAIL file dom.html" in out and "NOT VERIFIED" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, message",
    [
        ("http://10.9.9.9/", "refused by the capture policy"),
        ("ftp://example.org/x", "not an http(s) URL"),
        ("http://", "URL has no host"),
    ],
)
def test_cli_capture_bad_target_is_one_line(cli, loopback, tmp_path, url, message):
    code, out, err = cli("capture", url, "--out", str(tmp_path / "b"))
    assert code == 1 and message in err and "Traceback" not in err


@pytest.mark.django_db
def test_cli_capture_for_a_case_and_list_export(site, case, cli, loopback, tmp_path):
    code, out, err = cli("capture", site.url("/simple.html"), "--case", str(case.pk), "--json")
    assert code == 0, err
    bundle_id = json.loads(out)["id"]
    code, out, _ = cli("evidence", "list", "--case", str(case.pk), "--json")
    assert json.loads(out.splitlines()[0])["id"] == bundle_id
    code, out, _ = cli("evidence", "export", bundle_id, "--out", str(tmp_path / "x"))
    assert code == 0 and (tmp_path / "x" / "manifest.json").exists()
    assert cli("evidence", "verify", str(tmp_path / "x"))[0] == 0
    assert cli("evidence", "verify", bundle_id)[0] == 0
    code, _, err = cli("--as", "kenji", "evidence", "export", bundle_id, "--out", str(tmp_path / "y"))
    assert code == 1 and "no evidence bundle" in err


@pytest.mark.django_db
def test_case_page_preserve_button_and_download(site, case, clients, loopback, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = clients["on_case"].post(f"/cases/{case.pk}/evidence/", {"url": site.url("/simple.html")})
    assert response.status_code == 302
    item = EvidenceBundle.objects.get(case=case)
    assert clients["outsider"].post(f"/cases/{case.pk}/evidence/", {"url": site.url("/x")}).status_code == 404
    services.run_preservation(item.pk)
    page = clients["on_case"].get(f"/cases/{case.pk}/").content.decode()
    assert site.url("/simple.html") in page
    url = f"/cases/{case.pk}/evidence/{item.pk}/download/"
    assert clients["on_case"].get(url).status_code == 405
    assert clients["outsider"].post(url).status_code == 404
    response = clients["on_case"].post(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert services.verify_files(bundle.from_zip(response.content)).ok
    verified = clients["on_case"].post(f"/cases/{case.pk}/evidence/{item.pk}/verify/", follow=True)
    assert "検証済み" in verified.content.decode()  # the desk works in Japanese


def test_capture_task_runs_on_a_real_worker_with_redis(site, tmp_path, redis_url):
    """The case page's button queues a task; a worker process (warm browser) on Redis preserves the page."""
    import os
    import subprocess
    import sys
    import time

    from test_processes import stop

    kesu = str(Path(sys.executable).with_name("kesu"))
    env = {**os.environ, "KESU_DATA_DIR": str(tmp_path / "data"), "KESU_BROKER_URL": redis_url,
           "KESU_ALLOW_LOOPBACK": "1", "KESU_CAPTURE_WARM_CONTEXTS": "1"}  # fmt: skip
    env.pop("KESU_DATABASE_URL", None)
    made = subprocess.run([kesu, "case", "create", "--type", "ncii", "--json"], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    case_id = json.loads(made.stdout)["id"]
    worker = subprocess.Popen([kesu, "worker", "--concurrency", "1"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    queue = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'kesu.settings'); django.setup()\n"
        "from django.db import transaction\nfrom kesu.cases.models import Case\nfrom kesu.evidence import services\n"
        f"with transaction.atomic(): services.request_preservation('system:test', Case.objects.get(pk={case_id}), "
        f"{site.url('/simple.html')!r})\n"
    )
    try:
        subprocess.run([sys.executable, "-c", queue], env=env, check=True, timeout=60)
        deadline, rows = time.monotonic() + 120, []
        while time.monotonic() < deadline:
            out = subprocess.run([kesu, "evidence", "list", "--case", str(case_id), "--json"], env=env,
                                 capture_output=True, text=True).stdout  # fmt: skip
            rows = [json.loads(line) for line in out.splitlines()]
            if rows and rows[0]["status"] != "pending":
                break
            time.sleep(1)
    finally:
        log = stop(worker)
    assert rows and rows[0]["status"] == "done" and rows[0]["media"] >= 2, log[-2000:]
    assert "Traceback" not in log and site.url("/simple.html") not in log  # no victim URL in the worker's log


def test_csam_withholding_does_not_trust_labels():
    """A picture sent as octet-stream or text/plain, or inline in the DOM, is withheld all the same."""
    from datetime import UTC, datetime

    from kesu.capture.record import Capture, Exchange
    from kesu.evidence.build import withheld

    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 200
    inline = "data:image/png;base64," + "iVBORw0KGgo" * 20
    capture = Capture(url="http://x/", started_at=datetime.now(UTC), dom=f'<img src="{inline}">')
    capture.exchanges = [
        Exchange(id="1", url="http://x/", mime_type="text/html", body=b"<html>", complete=True),
        Exchange(id="2", url="http://x/a", mime_type="application/octet-stream", body=jpeg, complete=True),
        Exchange(id="3", url="http://x/b", mime_type="text/plain", body=jpeg, complete=True),
        Exchange(id="4", url="http://x/c.js", mime_type="text/javascript", body=jpeg, complete=True),
    ]
    bare = withheld(capture)
    assert bare.exchanges[0].body == b"<html>"
    assert all(e.body is None and "withheld" in e.incomplete_reason for e in bare.exchanges[1:])
    assert inline not in bare.dom and "data:withheld" in bare.dom
    assert capture.exchanges[1].body == jpeg  # the capture itself is left as it was
