"""The legal reports: per regime, host, site and country, the share removed within the legal clock, median and
90th percentile time to removal, still online after 42 days, re-uploads; the public table's "kept the legal
clock"; CSV and XLSX; the DSA Art. 22 trusted-flagger export. Checked against a computation written here in
plain Python (numpy's percentile, statistics.median) over real rows, on SQLite and PostgreSQL.
"""

import csv
import io
import json
import random
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy
import openpyxl
import pytest
from django.utils import timezone

from kesu.audit.models import AuditEntry
from kesu.reports import dsa, services
from kesu.sites.models import Organisation, Site, TakedownRequest

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
REGIMES = ["us_take_it_down", "eu_dsa_16", "jp_platform_act", ""]
REMOVED, SETTLED = ("deleted", "partly_deleted"), ("deleted", "partly_deleted", "still_online")
OUTCOMES = ["deleted", "partly_deleted", "still_online", "on_hold", "ongoing"]


def days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def make_history(n=240, seed=7) -> list[TakedownRequest]:
    """Requests over four hosts and three regimes (and none), with clocks, removals and re-uploads at random."""
    rng = random.Random(seed)
    hosts = [Organisation.objects.create(role="host", key=f"h{i}", name=f"Host {i}", country=c)
             for i, c in enumerate(["DE", "US", "JP", "NL"])]  # fmt: skip
    countries = ["DE", "US", "", "JP", "NL", ""]  # two sites of unknown country: no row by country
    sites = [Site.objects.create(domain=f"site{i}.example", host=hosts[i % 4], server_country=countries[i])
             for i in range(6)]  # fmt: skip
    rows = []
    for _ in range(n):
        sent = NOW - timedelta(days=rng.uniform(1, 200))
        outcome = rng.choice(OUTCOMES)
        resolved = sent + timedelta(days=rng.uniform(0.01, 80)) if outcome in SETTLED else None
        resolved = resolved if resolved is None or resolved < NOW else NOW - timedelta(hours=1)
        due = sent + timedelta(hours=rng.choice([24, 48, 168])) if rng.random() < 0.8 else None
        back = resolved + timedelta(days=rng.uniform(0.5, 20)) if outcome in REMOVED and rng.random() < 0.3 else None
        fields = {"outcome": outcome, "resolved_at": resolved, "clock_due_at": due, "reuploaded_at": back}
        rows.append(TakedownRequest(site=rng.choice(sites), role="host", case_type="ncii", sent_at=sent,
                                    legal_basis=rng.choice(REGIMES), source="staff", **fields))  # fmt: skip
    return TakedownRequest.objects.bulk_create(rows)


def expected(rows, key) -> dict:
    groups: dict[str, list] = {}
    for row in rows:
        if key(row):
            groups.setdefault(key(row), []).append(row)
    return {name: measures(group) for name, group in groups.items()}


def measures(group) -> dict:
    removed = [r for r in group if r.outcome in REMOVED]
    removal_days = [days(r.resolved_at - r.sent_at) for r in removed]
    clocked = [r for r in group if r.clock_due_at and (r.clock_due_at <= NOW or r.outcome in SETTLED)]
    aged = [r for r in group if r.sent_at <= NOW - timedelta(days=42)]
    back = [r for r in removed if r.reuploaded_at]
    return {
        "requests": len(group),
        "removed": len(removed),
        "median": statistics.median(removal_days) if removal_days else None,
        "p90": float(numpy.percentile(removal_days, 90)) if removal_days else None,
        "clocked": len(clocked),
        "kept": sum(1 for r in clocked if r.outcome in REMOVED and r.resolved_at <= r.clock_due_at),
        "aged": len(aged),
        "online_42": sum(1 for r in aged if not (r.outcome in REMOVED and r.resolved_at <= r.sent_at + timedelta(42))),
        "reuploaded": len(back),
        "reupload_median": statistics.median(days(r.reuploaded_at - r.resolved_at) for r in back) if back else None,
    }


def assert_line(line, want):
    got = (line.requests, line.removed, line.clocked, line.kept, line.aged, line.online_42, line.reuploaded)
    assert got == tuple(want[k] for k in ("requests", "removed", "clocked", "kept", "aged", "online_42", "reuploaded"))
    for value, exact in ((line.median_days, want["median"]), (line.p90_days, want["p90"]),
                         (line.reupload_days, want["reupload_median"])):  # fmt: skip
        assert value == (None if exact is None else pytest.approx(exact, abs=1e-6))


def test_every_measure_per_regime_host_site_and_country_matches_an_independent_computation(db):
    from kesu.law.regimes import REGIMES as KNOWN

    rows = make_history()
    keys = {
        "regime": lambda r: KNOWN[r.legal_basis].short if r.legal_basis else None,
        "host": lambda r: r.site.host.name,
        "site": lambda r: r.site.domain,
        "country": lambda r: r.site.server_country or None,
    }
    for by, key in keys.items():
        want = expected(rows, key)
        lines = services.compliance_lines(services.compliance(services.all_requests(), by, now=NOW), by)
        assert {line.name for line in lines} == set(want), by
        for line in lines:
            assert_line(line, want[line.name])
    assert services.unattributed(services.all_requests(), "regime") == sum(1 for r in rows if not r.legal_basis)


def test_kept_the_clock_counts_a_clock_once_it_ran_out_or_the_request_settled(db):
    host = Organisation.objects.create(role="host", key="clocky", name="Clocky", country="US")
    site = Site.objects.create(domain="clocky.example", host=host)
    sent = NOW - timedelta(days=10)

    def request(outcome, removed_after=None, due_after=timedelta(hours=48)):
        resolved = sent + removed_after if removed_after else None
        TakedownRequest.objects.create(site=site, role="host", case_type="ncii", sent_at=sent, outcome=outcome,
                                       resolved_at=resolved, clock_due_at=sent + due_after,
                                       legal_basis="us_take_it_down", source="staff")  # fmt: skip

    request("deleted", timedelta(hours=47))  # kept
    request("deleted", timedelta(hours=49))  # missed by an hour
    request("still_online", timedelta(days=2))  # refused: missed
    request("ongoing")  # ran out, still going: missed
    request("ongoing", due_after=timedelta(days=30))  # still running: not counted yet
    [line] = services.compliance_lines(services.compliance(services.all_requests(), "regime", now=NOW), "regime")
    assert (line.kept, line.clocked, line.kept_clock.plain()) == (1, 4, "25.0")
    assert line.name == "TAKE IT DOWN Act"  # the regime's short name
    assert line.p90_days == pytest.approx(47 / 24 + 0.9 * (2 / 24))


def test_the_page_csv_and_xlsx_show_the_same_rows_and_are_audited(db, clients):
    make_history(60)
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    html = client.get("/reports/compliance/?by=regime").content.decode()
    assert "Compliance by legal regime" in html and "Removed within the legal clock" in html
    body = client.get("/reports/compliance/?by=regime&format=csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["Legal regime", "Requests"] and "Removed within the legal clock (%)" in rows[0]
    assert "90th percentile days to removal" in rows[0] and "Still online after 42 days (%)" in rows[0]
    response = client.get("/reports/compliance/?by=regime&format=xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert cells == rows
    for row in rows[1:]:
        assert row[0] in html
    formats = [d["format"] for d in AuditEntry.objects.filter(action="reports.export").values_list("detail", flat=True)]
    assert formats == ["csv", "xlsx"]
    assert client.get("/reports/compliance/?by=regime&format=pdf").status_code == 400


def test_the_public_table_keeps_the_clock_only_over_enough_clocked_requests(db, clients):
    sent = datetime(2025, 7, 1, tzinfo=UTC)
    for name, clocked in (("Plenty Clocks", 10), ("Few Clocks", 9)):
        host = Organisation.objects.create(role="host", key=name.lower().replace(" ", ""), name=name, country="US")
        site = Site.objects.create(domain=f"{host.key}.example", host=host)
        for i in range(12):  # 12 settled; the first ``clocked`` of them had a clock, 7 of those kept it
            TakedownRequest.objects.create(site=site, role="host", case_type="ncii", sent_at=sent, outcome="deleted",
                                           resolved_at=sent + timedelta(hours=24 if i < 7 else 72),
                                           clock_due_at=sent + timedelta(hours=48) if i < clocked else None,
                                           legal_basis="us_take_it_down", source="staff")  # fmt: skip
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    rows = list(csv.reader(io.StringIO(client.get("/reports/public/?format=csv").content.decode("utf-8-sig"))))
    assert rows[0][-1] == "Kept the legal clock (%)"
    listed = {row[0]: row for row in rows[1:]}
    assert listed["Plenty Clocks"][-1] == "70.0" and listed["Few Clocks"][-1] == ""
    html = client.get("/reports/public/").content.decode()
    assert "Kept the legal clock" in html and "70.0 %" in html


# ---------------------------------------------------------------- DSA Art. 22


def dsa_history(case_id=424242):
    brussels = ZoneInfo("Europe/Brussels")
    big = Organisation.objects.create(role="platform", key="bigplat", name="Big Platform", country="IE")
    small = Organisation.objects.create(role="host", key="smallhost", name="Small Host", country="NL")
    site = Site.objects.create(domain="victim-forum.example", host=small)
    jan = datetime(2025, 1, 10, 9, 0, tzinfo=brussels)

    def request(org, sent, **fields):
        TakedownRequest.objects.create(site=site, recipient=org, role="platform", case_type=fields.pop("type", "ncii"),
                                       case_id=case_id, sent_at=sent, legal_basis=fields.pop("regime", "eu_dsa_16"),
                                       source="notice", **fields)  # fmt: skip

    hours = [jan + timedelta(hours=n) for n in range(4)]
    request(big, jan, decision="removed", decided_at=jan + timedelta(days=2), receipt_confirmed_at=hours[1],
            outcome="deleted", resolved_at=jan + timedelta(days=3))  # fmt: skip
    request(big, jan, decision="removed", decided_at=jan + timedelta(days=4), receipt_confirmed_at=hours[2])
    request(big, jan, outcome="deleted", resolved_at=jan + timedelta(days=5), receipt_confirmed_at=hours[3])
    request(big, jan, type="csam", decision="refused", decided_at=jan + timedelta(days=1))
    request(small, jan)
    request(small, datetime(2024, 12, 31, 23, 30, tzinfo=brussels))  # the year before, Brussels time
    request(small, datetime(2025, 12, 31, 23, 30, tzinfo=brussels))  # 22:30 UTC: still 2025 in Brussels
    request(big, jan, regime="us_take_it_down")  # not a DSA notice


def test_the_art22_report_counts_notices_per_provider_type_and_action(db):
    dsa_history()
    lines = {(line.provider, line.content_type, line.action): line
             for line in dsa.art22_lines(dsa.notices_of_year(2025))}  # fmt: skip
    assert set(lines) == {("Big Platform", "ncii", "removed"), ("Big Platform", "ncii", "seen_removed"),
                          ("Big Platform", "csam", "refused"), ("Small Host", "ncii", "pending")}  # fmt: skip
    removed = lines[("Big Platform", "ncii", "removed")]
    assert (removed.notices, removed.confirmed, removed.decided, removed.median_days) == (2, 2, 2, 3.0)
    seen = lines[("Big Platform", "ncii", "seen_removed")]
    assert (seen.notices, seen.confirmed, seen.decided, seen.median_days) == (1, 1, 0, 5.0)
    pending = lines[("Small Host", "ncii", "pending")]
    assert (pending.notices, pending.median_days) == (2, None)


def test_the_art22_export_by_cli_and_page_has_no_case_data_and_is_audited(db, cli, clients, tmp_path):
    dsa_history()
    target = tmp_path / "art22.csv"
    code, out, err = cli("report", "dsa-art22", "--year", "2025", "--out", str(target))
    assert code == 0, err
    text = target.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Provider", "Type of illegal content", "Action taken", "Notices", "Median days to action",
                       "With 16(4) confirmation of receipt", "With 16(5) decision"]  # fmt: skip
    assert rows[1:] == [
        ["Big Platform", "Child sexual abuse material", "Refused", "1", "1.0", "0", "1"],
        ["Big Platform", "Non-consensual intimate images (revenge porn)", "Removed", "2", "3.0", "2", "2"],
        ["Big Platform", "Non-consensual intimate images (revenge porn)", "Removed (no decision notified)", "1", "5.0",
         "1", "0"],
        ["Small Host", "Non-consensual intimate images (revenge porn)", "No action yet", "2", "", "0", "0"],
    ]  # fmt: skip
    assert "424242" not in text and "victim-forum" not in text
    book = tmp_path / "art22.xlsx"
    assert cli("report", "dsa-art22", "--year", "2025", "--out", str(book))[0] == 0
    sheet = openpyxl.load_workbook(book).active
    assert [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)] == rows
    code, out, err = cli("report", "dsa-art22", "--year", "2025", "--out", str(tmp_path / "art22.pdf"))
    assert code == 1 and err.strip() == "kesu: error: --out must end in .csv or .xlsx, not 'art22.pdf'"

    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    assert "DSA Art. 22 trusted-flagger report" in client.get("/reports/").content.decode()
    response = client.get("/reports/dsa-art22/?year=2025&format=csv")
    assert response.content == target.read_bytes()
    assert 'filename="kesu-dsa-art22-2025.csv"' in response["Content-Disposition"]
    assert client.get("/reports/dsa-art22/?format=csv").status_code == 400
    reports = [d["report"] for d in AuditEntry.objects.filter(action="reports.export").values_list("detail", flat=True)]
    assert reports == ["dsa_art22", "dsa_art22", "dsa_art22"]


def test_a_reupload_marks_the_requests_that_had_the_copy_removed(personas, victim_details):
    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import services as cases
    from kesu.matching.models import Hit
    from kesu.notices.models import Notice
    from kesu.patrol import reuploads
    from kesu.patrol.models import Recheck

    case = cases.create_case(SystemPrincipal("test"), "ncii", details=victim_details, consent=["takedown"])
    host = Organisation.objects.create(role="host", key="backagain", name="Back Again", country="DE")
    site = Site.objects.create(domain="backagain.example", host=host)
    sent = timezone.now() - timedelta(days=20)
    request = TakedownRequest.objects.create(site=site, recipient=host, role="host", case_type="ncii", case_id=case.pk,
                                             sent_at=sent, outcome="deleted", resolved_at=sent + timedelta(days=2),
                                             legal_basis="eu_dsa_16", source="notice")  # fmt: skip
    notice = Notice.objects.create(case=case, recipient=host, site=site, request=request, role="host", channel="email",
                                   address="abuse@backagain.example", regime="eu_dsa_16", language="en",
                                   token="KS-BACK0001", urls_sealed=b"", status=Notice.Status.CLOSED, sent_at=sent,
                                   created_by="user:hana")  # fmt: skip
    removed = Hit.objects.create(case=case, sha256="c" * 64, source_key="k1", signal="pdq", probability=0.9)
    notice.hits.add(removed)
    Recheck.objects.create(case=case, notice=notice, url_key="k1", url_sealed=b"", host="backagain.example",
                           gone_at=sent + timedelta(days=2))  # fmt: skip
    found = Hit.objects.create(case=case, sha256="c" * 64, source_key="k2", signal="pdq", probability=0.9)

    assert reuploads.link(found, "https://mirror.backagain.example/p/2") == removed
    request.refresh_from_db()
    first = request.reuploaded_at
    assert first is not None and first >= sent
    [line] = services.compliance_lines(services.compliance(services.all_requests(), "host"), "host")
    assert (line.reuploaded, line.reupload_rate.plain()) == (1, "100.0")
    again = Hit.objects.create(case=case, sha256="c" * 64, source_key="k3", signal="pdq", probability=0.9)
    reuploads.link(again, "https://mirror.backagain.example/p/3")
    request.refresh_from_db()
    assert request.reuploaded_at == first  # the first time it came back counts


def test_the_legal_columns_and_the_art22_download_in_japanese(db, clients):
    make_history(30)
    client = clients["on_case"]
    client.cookies["django_language"] = "ja"
    html = client.get("/reports/compliance/?by=regime").content.decode()
    assert "法的根拠別の対応状況" in html and "法定期限内の削除" in html and "42日後も掲載" in html
    assert "DSA 22条" in client.get("/reports/").content.decode()
    header = next(
        csv.reader(io.StringIO(client.get("/reports/compliance/?by=host&format=csv").content.decode("utf-8-sig")))
    )
    assert "法定期限内の削除（%）" in header


def test_the_cli_groups_by_regime_with_the_legal_measures(db, cli):
    rows = make_history(80)
    code, out, err = cli("report", "compliance", "--by", "regime", "--json")
    assert code == 0, err
    got = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert set(got) == {"TAKE IT DOWN Act", "DSA Art. 16", "情報流通プラットフォーム対処法"}
    dsa_rows = [r for r in rows if r.legal_basis == "eu_dsa_16"]
    assert got["DSA Art. 16"]["requests"] == len(dsa_rows)
    assert set(got["DSA Art. 16"]) >= {"p90_days", "kept_clock_pct", "online_42d_pct", "reupload_pct"}


# ---------------------------------------------------------------- the demo's synthetic legal events


def legal_events() -> dict:
    fields = ("reference", "receipt_confirmed_at", "decision", "decided_at", "reuploaded_at")
    return {row[0]: row[1:] for row in TakedownRequest.objects.values_list(*fields)}


def test_the_synthetic_history_gives_dsa_notices_their_events_and_removed_copies_reuploads(db):
    from kesu.demo import synthetic

    n, seed = 3000, 5
    assert synthetic.write(n, seed=seed) == n
    stored = {r.reference: r for r in TakedownRequest.objects.all()}
    for i, row in enumerate(synthetic.rows(n, seed)):  # the world's own draws are as they were
        request = stored[f"synthetic:{seed}:{i}"]
        assert (request.sent_at, request.outcome, request.resolved_at) == (row.sent_at, row.outcome, row.resolved_at)
    rows = list(stored.values())
    for r in rows:
        if r.legal_basis != "eu_dsa_16":
            assert (r.receipt_confirmed_at, r.decision, r.decided_at) == (None, "", None)
        assert r.receipt_confirmed_at is None or r.receipt_confirmed_at > r.sent_at
        if r.decision in ("removed", "disabled"):
            assert r.outcome in REMOVED and r.decided_at == r.resolved_at
        elif r.decision:
            assert r.outcome == "still_online" and r.sent_at < r.decided_at <= r.resolved_at
        if r.reuploaded_at:
            assert r.outcome in REMOVED and r.resolved_at < r.reuploaded_at <= synthetic.SNAPSHOT
    notices = [r for r in rows if r.legal_basis == "eu_dsa_16" and r.outcome != "on_hold"]
    confirmed = sum(1 for r in notices if r.receipt_confirmed_at)
    assert 0.7 * len(notices) < confirmed < 0.9 * len(notices)
    assert {r.decision for r in notices} == {"", "removed", "disabled", "refused", "other"}
    removed = [r for r in rows if r.outcome in REMOVED]
    back = [r for r in removed if r.reuploaded_at]
    assert 0.05 * len(removed) < len(back) < 0.15 * len(removed)
    # the sites know their re-uploads, as the patrol tells them
    per_site = Counter(r.site_id for r in back)
    assert dict(Site.objects.filter(reuploads__gt=0).values_list("pk", "reuploads")) == dict(per_site)
    site = Site.objects.get(pk=back[0].site_id)
    assert site.last_reupload_at == max(r.reuploaded_at for r in back if r.site_id == site.pk)

    # the demo's Art. 22 export and re-upload columns now show figures
    art22 = dsa.art22_lines(dsa.notices_of_year(2024))
    assert sum(line.confirmed for line in art22) > 0 and sum(line.decided for line in art22) > 0
    assert {"removed", "refused"} <= {line.action for line in art22}
    assert all(line.median_days is not None for line in art22 if line.action in ("removed", "refused"))
    lines = services.compliance_lines(services.compliance(services.all_requests(), "regime"), "regime")
    assert sum(line.reuploaded for line in lines) == len(back)
    assert all(line.reupload_days > 0 for line in lines if line.reuploaded)

    # idempotent, and the same events again from the seed alone
    events = legal_events()
    assert synthetic.write(n, seed=seed) == 0 and legal_events() == events
    assert dict(Site.objects.filter(reuploads__gt=0).values_list("pk", "reuploads")) == dict(per_site)
    TakedownRequest.objects.all().delete()
    Site.objects.update(reuploads=0, last_reupload_at=None)
    assert synthetic.write(n, seed=seed) == n and legal_events() == events
