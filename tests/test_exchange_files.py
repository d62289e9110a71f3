"""Hash files (issue 21, item 4) and consent per destination (item 1): ``kesu exchange import`` reads
threatexchange's local-file format and NCMEC/StopNCII-style CSVs all or nothing; ``kesu exchange export`` writes
only the banks she consented to share; ``kesu exchange consent`` records and withdraws, audited, on her timeline
and on the case page."""

import hashlib
import io
import json

import pytest
from PIL import Image
from threatexchange.signal_type.pdq.signal import PdqSignal

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.cases import services as cases
from kesu.cases import timeline
from kesu.cases.models import ReferenceItem
from kesu.exchange import services as exchange
from kesu.exchange.models import ShareConsent
from kesu.matching import services as matching
from kesu.matching.models import Signal

pytestmark = pytest.mark.django_db
OPERATOR = SystemPrincipal("test")
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture
def bare_case(personas, victim_details):
    return cases.create_case(
        OPERATOR, "ncii", details=victim_details, assignees=[personas["on_case"]], consent=["search", "takedown"]
    )


def jpeg(data: bytes) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "JPEG", quality=70)
    return out.getvalue()


def test_a_local_file_imports_one_hash_only_reference_per_line(cli, bare_case, tmp_path, astronaut_png):
    path = tmp_path / "from-her-phone.txt"
    path.write_text(f"# hashes\npdq {PdqSignal.hash_from_bytes(astronaut_png)}\n\nvideo_md5 {MD5}\n")
    code, out, err = cli("exchange", "import", str(path), "--case", str(bare_case.pk), "--json")
    assert code == 0, err
    ids = json.loads(out)["references"]
    items = ReferenceItem.objects.filter(pk__in=ids)
    from kesu.cases import references

    assert sorted(references.label(bare_case, i) for i in items) == [
        "imported from from-her-phone.txt, line 2", "imported from from-her-phone.txt, line 4"]  # fmt: skip
    assert {i.kind for i in items} == {"hashes"}
    [candidate] = matching.match(jpeg(astronaut_png)).candidates  # the patrol's match finds her copy
    assert candidate.case_id == bare_case.pk and candidate.signal == "pdq"


def test_ncmec_and_stopncii_style_csvs_are_read(bare_case, hopper_jpg):
    md5 = hashlib.md5(hopper_jpg).hexdigest()
    ncmec = f"ID,MD5,SHA1,PDQ,Classification\n1,{md5},da39a3ee5e6b4b0d3255bfef95601890afd80709,{PDQ},A1\n2,{MD5},,,B1\n"
    items = exchange.import_file(OPERATOR, bare_case, "ncmec.csv", ncmec.encode())
    assert sorted(sorted(s.kind for s in i.signals.all()) for i in items) == [["md5"], ["md5", "pdq"]]
    stopncii = f'hash_type,hash_value,case_id\nPDQ,{PDQ},77\nMD5,"{MD5.upper()}",77\n'
    assert len(exchange.import_file(OPERATOR, bare_case, "stopncii.csv", stopncii.encode())) == 2
    [candidate] = matching.match(hopper_jpg).candidates
    assert candidate.evidence["exact"] == "md5"


@pytest.mark.parametrize(
    "name, text, bad",
    [
        ("list.txt", f"pdq {PDQ}\npdq nothex\nvideo_md5 {MD5}\nvideo_md5\nphoto_md5 {MD5}\n", [2, 4, 5]),
        ("rows.csv", f"id,pdq,md5\n1,{PDQ},\n2,,\n3,{PDQ[:-1]},{MD5}\n\n,,\n", [3, 4]),
        ("odd.csv", "name,size\nx,1\n", [1]),
    ],
)
def test_bad_lines_are_named_by_number_and_nothing_is_imported(cli, bare_case, tmp_path, name, text, bad):
    path = tmp_path / name
    path.write_text(text)
    code, out, err = cli("exchange", "import", str(path), "--case", str(bare_case.pk))
    assert code == 1 and "Traceback" not in err
    assert [int(line.split("line ")[1].split(":")[0]) for line in err.splitlines()[:-1]] == bad
    assert err.splitlines()[-1] == f"kesu: error: {name}: {len(bad)} bad line(s), nothing imported"
    assert not ReferenceItem.objects.filter(case=bare_case).exists() and not Signal.objects.filter(case=bare_case)


def test_not_a_text_file_is_one_line(cli, bare_case, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\xff\xfe\x00pdq")
    code, out, err = cli("exchange", "import", str(path), "--case", str(bare_case.pk))
    assert code == 1 and err.strip() == "kesu: error: x.bin: not UTF-8 text (byte 0)"


def test_export_writes_only_the_banks_she_consented_to_share(cli, case, bare_case, tmp_path, personas, victim_details):
    import videos

    exchange.import_file(OPERATOR, bare_case, "h.txt", f"pdq {PDQ}\nvideo_md5 {MD5}\n".encode())
    from kesu.cases import references

    references.add_file(OPERATOR, case, "clip.mp4", videos.reference_video())
    out = tmp_path / "bank.txt"
    assert cli("exchange", "export", "--out", str(out))[0] == 0
    assert out.read_text() == ""  # nobody consented yet
    assert cli("exchange", "consent", "--case", str(case.pk), "--to", "partners")[0] == 0
    assert cli("exchange", "export", "--out", str(out))[0] == 0
    lines = out.read_text().splitlines()
    kinds = sorted({line.split(" ", 1)[0] for line in lines})
    assert kinds == ["pdq", "video_md5", "video_sha256", "vpdq"]  # her picture's PDQ, her video's hashes
    assert PDQ not in out.read_text()  # the other case did not consent
    assert str(case.pk) not in "".join(line.split(" ", 1)[0] for line in lines)
    assert "hanako" not in out.read_text().lower()
    [vpdq] = [line for line in lines if line.startswith("vpdq ")]
    assert len(json.loads(vpdq.split(" ", 1)[1])) > 100  # every banked frame, as threatexchange writes them
    # what was exported imports again, as hash-only references that find the same copies
    other = cases.create_case(OPERATOR, "ncii", consent=["search"])
    assert len(exchange.import_file(OPERATOR, other, "bank.txt", out.read_bytes())) == len(lines)
    assert cli("exchange", "consent", "--case", str(case.pk), "--to", "partners", "--withdraw")[0] == 0
    assert cli("exchange", "export", "--case", str(case.pk), "--out", str(out))[0] == 0
    assert out.read_text() == ""
    assert AuditEntry.objects.filter(action="exchange.export", case_id=case.pk).count() == 1


def test_consent_per_destination_is_audited_on_the_timeline_and_on_the_case_page(cli, case, clients, personas):
    code, out, err = cli("exchange", "consent", "--case", str(case.pk), "--to", "StopNCII")
    assert code == 0 and "stopncii" in out
    assert cli("exchange", "consent", "--case", str(case.pk), "--to", "stopncii")[0] == 0  # idempotent
    assert ShareConsent.objects.filter(case=case).count() == 1
    code, out, err = cli("exchange", "consent", "--case", str(case.pk), "--to", "ncmec")
    assert code == 1 and err.strip() == (
        "kesu: error: NCMEC takes hashes of child sexual abuse material only: this case is not a CSAM case"
    )
    code, out, err = cli("exchange", "consent", "--case", str(case.pk), "--to", "nobody")
    assert code == 1 and "unknown destination 'nobody'" in err
    assert cli("--as", personas["outsider"].username, "exchange", "consent", "--case", str(case.pk),
               "--to", "partners")[0] == 1  # fmt: skip
    cli("exchange", "consent", "--case", str(case.pk), "--to", "stopncii", "--withdraw")
    titles = [e.title for e in timeline.events(case, kinds=["exchange"])]
    assert titles == [
        "She withdrew her consent for StopNCII: her hashes are taken back",
        "She consents to share her hashes with StopNCII",
    ]
    actions = list(AuditEntry.objects.filter(case_id=case.pk, action__startswith="exchange.").values_list("action"))
    assert actions == [("exchange.consent",), ("exchange.withdraw",)]

    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    response = client.post(f"/cases/{case.pk}/sharing/", {"destination": "partners"})
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/#sharing"
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="sharing"' in page and "Partner platforms" in page and "since" in page
    assert ShareConsent.objects.get(case=case, withdrawn_at__isnull=True).given_by == f"user:{personas['on_case']}"
    assert clients["outsider"].post(f"/cases/{case.pk}/sharing/", {"destination": "partners"}).status_code == 404
    client.post(f"/cases/{case.pk}/sharing/", {"destination": "partners", "withdraw": "1"})
    assert not ShareConsent.objects.filter(case=case, withdrawn_at__isnull=True).exists()


def test_csam_hashes_go_to_ncmec_only(bare_case, personas):
    from kesu.lib.errors import UserError

    csam = cases.create_case(OPERATOR, "csam", assignees=[personas["on_case"]], consent=["search"])
    exchange.give_consent(OPERATOR, csam, "ncmec")
    for destination in ("stopncii", "partners"):
        with pytest.raises(UserError):
            exchange.give_consent(OPERATOR, csam, destination)
