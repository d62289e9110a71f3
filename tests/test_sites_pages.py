"""The site pages, the import page and the kesu site command, for each persona."""

import io

import pytest
from openpyxl import load_workbook
from sites_messy import build, to_csv

from kesu.audit.models import AuditEntry
from kesu.sites.models import Contact, Organisation, Site

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    operator = Organisation.objects.create(role="operator", key="tube-inc", name="Tube Inc.")
    Contact.objects.create(organisation=operator, channel="email", address="abuse@tube.example")
    Site.objects.create(domain="tube.example", operator=operator)
    return Site.objects.create(domain="xn--wgv71a119e.jp", operator=operator, relation="mirror")


def test_staff_find_a_site_by_its_unicode_name_and_see_its_record(clients, site):
    page = clients["outsider"].get("/sites/", {"q": "日本語.jp"})
    assert page.status_code == 200 and "日本語.jp" in page.content.decode()
    detail = clients["on_case"].get("/sites/m.日本語.jp/").content.decode()
    assert "Tube Inc." in detail and "abuse@tube.example" in detail and "tube.example" in detail
    assert clients["on_case"].get("/sites/unknown.example/").status_code == 404


def test_a_logged_out_visitor_sees_nothing(site):
    from django.test import Client

    assert Client().get("/sites/").status_code == 302


def test_staff_edit_a_site_and_it_is_audited(clients, site):
    response = clients["on_case"].post(
        f"/sites/{site.domain}/",
        {"status": "dead", "relation": "mirror", "jurisdiction": "米国", "server_country": "nl", "notes": "closed"},
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.status, site.jurisdiction, site.server_country, site.notes) == ("dead", "US", "NL", "closed")
    entry = AuditEntry.objects.filter(action="sites.edit").get()
    assert entry.detail["fields"] == ["status", "jurisdiction", "server_country", "notes"]
    bad = clients["on_case"].post(
        f"/sites/{site.domain}/", {"status": "dead", "relation": "main", "jurisdiction": "Narnia"}
    )
    assert bad.status_code == 200 and "unknown country &#x27;Narnia&#x27;" in bad.content.decode()


def test_contacts_are_added_and_marked_bounced(clients, site):
    client = clients["on_case"]
    client.post(
        f"/sites/{site.domain}/contacts/",
        {"channel": "form", "address": "https://tube.example/dmca", "languages": "日本語, en"},
    )
    form = Contact.objects.get(channel="form")
    assert (form.organisation, form.languages, form.source) == (site.operator, ["ja", "en"], "staff")
    response = client.post(f"/sites/{site.domain}/contacts/", {"channel": "email", "address": "not-an-address"})
    assert Contact.objects.count() == 2 and response.status_code == 302
    email = Contact.objects.get(channel="email")
    client.post(f"/sites/{site.domain}/contacts/{email.pk}/bounced/", {"bounced": "1"})
    email.refresh_from_db()
    assert email.bounced_at is not None
    other = Organisation.objects.create(role="host", key="x", name="X")
    foreign = Contact.objects.create(organisation=other, channel="email", address="a@x.example")
    assert client.post(f"/sites/{site.domain}/contacts/{foreign.pk}/bounced/", {"bounced": "1"}).status_code == 404


def test_import_page_checks_first_and_only_a_supervisor_confirms(clients):
    table, truth = build(300, seed=2)
    upload = io.BytesIO(to_csv(table))
    upload.name = "sites.csv"
    staff = clients["on_case"]
    staff.cookies["django_language"] = "en"
    page = staff.post("/sites/import/", {"file": upload}).content.decode()
    assert f"<td>{len(truth.domains)}</td>" in page and "A supervisor must confirm" in page
    assert Site.objects.count() == 0
    staff.post("/sites/import/", {"confirm": "1", "token": staff.session["sites_import_token"]})
    assert Site.objects.count() == 0, "staff cannot apply an import"

    upload.seek(0)
    supervisor = clients["supervisor"]
    supervisor.cookies["django_language"] = "en"
    supervisor.post("/sites/import/", {"file": upload})
    assert Site.objects.count() == 0
    token = supervisor.session["sites_import_token"]
    supervisor.post("/sites/import/", {"confirm": "1", "token": "another-tab"})
    assert Site.objects.count() == 0, "only the file whose report was shown is applied"
    supervisor.post("/sites/import/", {"confirm": "1", "token": token})
    assert Site.objects.count() == len(truth.domains)
    expired = supervisor.post("/sites/import/", {"confirm": "1", "token": token}, follow=True).content.decode()
    assert "expired" in expired


def test_a_broken_upload_gives_one_line_and_no_traceback(clients):
    upload = io.BytesIO(b"hello,world\r\n1,2\r\n")
    upload.name = "notes.csv"
    clients["supervisor"].cookies["django_language"] = "en"
    page = clients["supervisor"].post("/sites/import/", {"file": upload}, follow=True).content.decode()
    assert "notes.csv: no header row with a domain or URL column" in page


def test_export_download_is_audited(clients, site):
    response = clients["on_case"].get("/sites/export/", {"what": "sites", "format": "xlsx", "language": "en"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]][:3] == ["domain", "site name", "status"]
    assert {row[0].value for row in sheet.iter_rows(min_row=2)} == {"tube.example", "xn--wgv71a119e.jp"}
    assert AuditEntry.objects.filter(action="sites.export").count() == 1


def test_the_admin_edits_sites_for_admins_only(clients, site):
    assert clients["admin"].get(f"/admin/sites/site/{site.pk}/change/").status_code == 200
    assert clients["supervisor"].get(f"/admin/sites/site/{site.pk}/change/").status_code == 302


def test_kesu_site_import_show_export_and_contact(cli, tmp_path):
    table, truth = build(200, seed=4)
    path = tmp_path / "サイト一覧.csv"
    path.write_bytes(to_csv(table))
    code, out, err = cli("site", "import", str(path), "--dry-run")
    assert code == 0 and out.startswith("DRY RUN") and Site.objects.count() == 0
    code, out, err = cli("site", "import", str(path))
    assert code == 0 and Site.objects.count() == len(truth.domains)
    domain = sorted(truth.domains)[0]
    code, out, err = cli("site", "contact", f"https://www.{domain}/x", "--email", "legal@ops.example", "--lang", "en")
    assert code == 0
    code, out, err = cli("site", "show", domain)
    assert "legal@ops.example" in out
    code, out, err = cli("site", "contact", domain, "--bounced", "legal@ops.example")
    assert Contact.objects.get(address="legal@ops.example").bounced_at is not None
    code, out, err = cli("site", "export", "--out", str(tmp_path / "out.xlsx"))
    code, out, err = cli("site", "import", str(tmp_path / "out.xlsx"), "--dry-run", "--json")
    assert code == 0 and f'"sites_unchanged": {len(truth.domains)}' in out
    code, out, err = cli("site", "show", "nowhere.example")
    assert code == 1 and err.strip() == "kesu: error: nowhere.example is not in the knowledge base"
    code, out, err = cli("site", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and "no such file" in err and "Traceback" not in err


def test_the_site_page_predicts_from_the_history_and_says_when_it_is_synthetic(clients):
    from kesu.demo import synthetic

    synthetic.write(3000, seed=3)
    site = Site.objects.filter(requests__isnull=False, host__isnull=False).first()
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    page = client.get(f"/sites/{site.domain}/").content.decode()
    assert "Will they remove it?" in page and "SYNTHETIC demo history" in page
    assert page.count(" %") >= 12, "a probability per case type for the operator and the host"


def test_the_route_page_lists_every_step_with_its_reason(clients, site):
    from kesu.sites import knowledge

    knowledge.sync()
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    page = client.post("/sites/route/", {"url": "https://m.tube.example/v/1", "case_type": "ncii"}).content.decode()
    assert "abuse@tube.example" in page and "Google Search" in page
    assert page.count('<p class="reason">') >= 7
    bad = client.post("/sites/route/", {"url": "not a url", "case_type": "ncii"}).content.decode()
    assert "is not a valid domain name" in bad


def test_addresses_from_sites_and_imports_are_never_active_links(clients, site):
    operator = site.operator
    Contact.objects.create(organisation=operator, channel="form", address="javascript:alert(document.cookie)")
    Contact.objects.create(organisation=operator, channel="form", address="https://tube.example/dmca?a=<b>")
    operator.name = "<script>alert(1)</script>"
    operator.save()
    page = clients["on_case"].get(f"/sites/{site.domain}/").content.decode()
    assert 'href="javascript:' not in page and "<script>alert(1)" not in page
    assert '<a href="https://tube.example/dmca?a=&lt;b&gt;"' in page
    assert "javascript:alert(document.cookie)" in page, "shown as text, for staff to see what the site gave"
