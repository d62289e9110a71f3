"""Import and export of the desk's site list and request history (kesu.sites.importer / exporter)."""

import pytest
from sites_messy import build, to_csv, to_xlsx

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.lib.errors import UserError
from kesu.sites import exporter, importer
from kesu.sites.models import Contact, Organisation, Site, TakedownRequest

ACTOR = SystemPrincipal("test")


def _check_report(report, truth):
    summary = report.summary()
    assert summary["rows"] == truth.rows
    assert summary["domains"] == len(truth.domains)
    assert summary["duplicate_rows_merged"] == truth.duplicate_rows
    assert summary["subdomains_folded"] == truth.subdomain_rows
    assert summary["errors"] == truth.invalid + truth.bad_cells


def _check_database(truth):
    assert set(Site.objects.values_list("domain", flat=True)) == truth.domains
    assert set(Site.objects.filter(status=Site.Status.DEAD).values_list("domain", flat=True)) == truth.dead
    for domain in truth.idn:
        assert domain.startswith("xn--") and Site.objects.get(domain=domain).unicode_domain.startswith("動画")
    mirrors = Site.objects.filter(domain__in=truth.mirrors)
    assert mirrors.count() == len(truth.mirrors) and all(m.relation == Site.Relation.MIRROR for m in mirrors)


def _import_twice(data, name, truth):
    dry = importer.run(data, name, ACTOR, dry_run=True)
    _check_report(dry, truth)
    assert dry.created and Site.objects.count() == 0, "a dry run writes nothing"
    applied = importer.run(data, name, ACTOR, dry_run=False)
    assert applied.summary() == {**dry.summary(), "dry_run": False}
    _check_database(truth)
    again = importer.run(data, name, ACTOR, dry_run=False)
    assert again.changes == 0 and again.unchanged == len(truth.domains)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_messy_17000_row_list_imports_with_a_correct_dry_run_and_reimport_changes_nothing():
    table, truth = build(17000, seed=7)
    _import_twice(to_csv(table), "sites.csv", truth)


@pytest.mark.django_db
def test_a_messy_list_in_shift_jis_csv_reports_exactly_what_it_holds():
    table, truth = build(1500, seed=3)
    _import_twice(to_csv(table, "cp932"), "sites.csv", truth)
    assert AuditEntry.objects.filter(action="sites.import").count() == 2


@pytest.mark.django_db
def test_a_messy_workbook_with_a_title_line_and_a_notes_sheet_imports():
    table, truth = build(800, seed=5)
    _import_twice(to_xlsx(table), "sites.xlsx", truth)


@pytest.mark.django_db
def test_mirrors_share_the_operator_of_their_main_site_and_its_contacts():
    data = (
        "ドメイン,サイト名,ミラー元,連絡先,対応言語\r\n"
        "https://www.MainTube.com/,Main Tube,,abuse@maintube.com、dmca@maintube.com,日本語・英語\r\n"
        "m.maintube.net,,maintube.com,,\r\n"
        "maintube.org,,https://maintube.com/,mailto:abuse@maintube.com,\r\n"
    ).encode()
    report = importer.run(data, "x.csv", ACTOR, dry_run=False)
    assert report.summary()["sites_created"] == 3 and report.contacts_created == 2
    main, net, org = (Site.objects.get(domain=d) for d in ("maintube.com", "maintube.net", "maintube.org"))
    assert main.operator == net.operator == org.operator and main.operator.name == "Main Tube"
    assert main.operator.languages == ["ja", "en"]
    assert list(main.operator.contacts.values_list("address", flat=True)) == ["abuse@maintube.com", "dmca@maintube.com"]
    assert (net.relation, org.relation, main.relation) == ("mirror", "mirror", "main")


@pytest.mark.django_db
@pytest.mark.parametrize("fmt,language", [("csv", "ja"), ("xlsx", "en")])
def test_an_export_imports_back_without_change(fmt, language):
    table, truth = build(600, seed=11)
    importer.run(to_csv(table), "sites.csv", ACTOR, dry_run=False)
    Organisation.objects.create(role="host", key="as13335", name="CLOUDFLARENET", source="rdap")
    exported = exporter.export(fmt, language)
    report = importer.run(exported, f"export.{fmt}", ACTOR, dry_run=True)
    assert report.problems == [] and report.conflicts == []
    assert report.changes == 0 and report.unchanged == len(truth.domains)


@pytest.mark.django_db
def test_cells_that_would_run_as_formulas_are_escaped_on_export_and_restored_on_import():
    importer.run(b'domain,notes\r\nevil.com,"=HYPERLINK(""http://x"")"\r\n', "x.csv", ACTOR, dry_run=False)
    exported = exporter.export("csv", "en").decode("utf-8-sig")
    assert "'=HYPERLINK" in exported
    assert importer.run(exported.encode(), "x.csv", ACTOR, dry_run=True).changes == 0
    assert Site.objects.get(domain="evil.com").notes == '=HYPERLINK("http://x")'


HISTORY = (
    "ドメイン,依頼日,類型,依頼先種別,依頼先,結果,削除日,URL数\r\n"
    "https://tube.example.com/v/1,2023/4/1,リベンジポルノ,サイト,,削除済み,2023/4/3,3\r\n"
    "tube.example.com,2023年5月2日,AV出演強要,ホスティング,LeaseWeb Netherlands B.V.,無視,,1\r\n"
    "tube.example.com,2023/4/1,リベンジポルノ,サイト,,削除済み,2023/4/3,3\r\n"
    "other.example.net,2024-01-10,盗撮,検索エンジン,Google,対応中,,2\r\n"
    "bad row,2024-01-10,盗撮,,,,,\r\n"
    "other.example.net,someday,盗撮,,,削除,,\r\n"
)


@pytest.mark.django_db
def test_a_request_history_imports_once_and_updates_outcomes_on_reimport():
    report = importer.run(HISTORY.encode(), "history.csv", ACTOR, dry_run=False)
    assert report.requests_created == 4, "the same request twice in the file is two requests"
    assert [str(p).split(": ", 1)[1] for p in report.problems] == [
        "'bad' is not a valid domain name (in 'bad row')",
        "'someday' is not a date (use 2024-03-31 or 2024/3/31)",
    ]
    requests = TakedownRequest.objects.order_by("sent_at", "pk")
    assert [(r.site.domain, r.case_type, r.role, r.outcome) for r in requests] == [
        ("example.com", "ncii", "operator", "deleted"),
        ("example.com", "ncii", "operator", "deleted"),
        ("example.com", "av", "host", "still_online"),
        ("example.net", "voyeurism", "search_engine", "ongoing"),
    ]
    assert requests[0].days_to_resolution == 2 and requests[0].url_count == 3
    assert requests[2].recipient.name == "LeaseWeb Netherlands B.V."
    assert importer.run(HISTORY.encode(), "history.csv", ACTOR, dry_run=False).changes == 0
    updated = HISTORY.replace("対応中,,2", "削除,2024/1/12,2")
    report = importer.run(updated.encode(), "history.csv", ACTOR, dry_run=False)
    assert (report.requests_updated, report.requests_created) == (1, 0)
    assert TakedownRequest.objects.get(site__domain="example.net").outcome == "deleted"
    exported = exporter.export("csv", "ja", requests=True)
    assert importer.run(exported, "requests.csv", ACTOR, dry_run=True).changes == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "the file is empty"),
        (b"name,notes\r\nfoo,bar\r\n", "no header row with a domain or URL column"),
        (b"\xff\xfe\x00\x00garbage\x81\x82\xff", "binary, not CSV text"),
        (b"domain\r\n\x82\xa0\x81\xff\xff\xfe", "neither UTF-8 nor Shift_JIS"),
        (b"PK\x03\x04not really a zip", "not a readable XLSX workbook"),
    ],
)
def test_a_file_that_is_not_a_site_list_gives_one_clear_line_and_changes_nothing(data, message):
    Site.objects.create(domain="kept.com")
    with pytest.raises(UserError, match=message) as error:
        importer.run(data, "upload.csv", ACTOR, dry_run=False)
    assert "\n" not in str(error.value)
    assert list(Site.objects.values_list("domain", flat=True)) == ["kept.com"]
    assert Contact.objects.count() == 0


@pytest.mark.django_db
def test_a_file_with_too_many_rows_is_refused_before_anything_is_planned(monkeypatch):
    from kesu.sites import table

    monkeypatch.setattr(table, "MAX_ROWS", 50)
    data, _truth = build(200, seed=1)
    with pytest.raises(UserError, match="more than 50 rows: split the file"):
        importer.run(to_csv(data), "big.csv", ACTOR, dry_run=True)


@pytest.mark.django_db
def test_a_reference_cannot_reach_another_sites_request_and_duplicates_are_reported():
    importer.run(b"domain,sent at,outcome,case type\r\nvictim-site.com,2024-01-01,deleted,ncii\r\n", "a.csv", ACTOR,
                 dry_run=False)  # fmt: skip
    pk = TakedownRequest.objects.get().pk
    hostile = (
        "domain,sent at,outcome,case type,reference\r\n"
        f"other.com,2023-01-01,still online,ncii,kesu:{pk}\r\n"
        "other.com,2023-01-02,deleted,ncii,kesu:abc\r\n"
        "other.com,2023-01-03,deleted,ncii,R-1\r\n"
        "other.com,2023-01-04,deleted,ncii,R-1\r\n"
    )
    report = importer.run(hostile.encode(), "b.csv", ACTOR, dry_run=False)
    assert TakedownRequest.objects.get(pk=pk).outcome == "deleted"
    messages = [p.message for p in report.problems]
    assert messages == [
        "reference 'import:R-1' is also on line 4",
        f"kesu:{pk} is not a request about other.com sent then",
    ]
    references = set(TakedownRequest.objects.exclude(pk=pk).values_list("reference", flat=True))
    assert references == {"import:kesu:abc", "import:R-1"}
    changed = hostile.replace("2023-01-02,deleted", "2023-01-02,still online")
    assert importer.run(changed.encode(), "b.csv", ACTOR, dry_run=False).requests_updated == 1


@pytest.mark.django_db
def test_headers_cells_and_sizes_a_hostile_file_controls_stay_harmless():
    long_mail = "a" * 600 + "@x.example"
    long_domain = f"{'a' * 63}.{'b' * 63}.kawasaki.jp"
    data = (
        'domain,"=HYPERLINK(""http://evil/"",""x"")",連絡先,urls\r\n'
        f"evil.com,1,{long_mail},{'9' * 5000}\r\n"
        f"{long_domain},2,,\r\n"
    )
    report = importer.run(data.encode(), "x.csv", ACTOR, dry_run=False)
    assert [p.message for p in report.problems] == [f"{long_mail[:60]!r} is not an e-mail address"]
    assert Site.objects.get(domain=long_domain).operator.key.startswith("site:aaa")
    exported = exporter.export("csv", "en").decode("utf-8-sig")
    assert "'=HYPERLINK" in exported.splitlines()[0]
    assert importer.run(exported.encode(), "x.csv", ACTOR, dry_run=True).changes == 0
    with pytest.raises(UserError, match="row 2 has a cell longer than 100,000 characters"):
        importer.run(b"domain,notes\r\nx.com," + b"n" * 120_000 + b"\r\n", "x.csv", ACTOR, dry_run=True)
