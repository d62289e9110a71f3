"""Published figures: fiscal years, compliance, re-uploads, the public league table, CSV and CLI.

The reports over a 20,000-request synthetic history are checked against a computation written
here in plain Python from ``synthetic.rows()`` (zoneinfo for the fiscal year, statistics.median),
not against the services' own numbers.
"""

import csv
import io
import json
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from kesu.demo import synthetic
from kesu.reports import services
from kesu.sites.models import Organisation, Site, TakedownRequest

TOKYO = ZoneInfo("Asia/Tokyo")
SEED = 11
N = 20_000
CATEGORIES = ["deleted", "partly_deleted", "still_online", "on_hold", "ongoing"]
HAND = "hand:"  # references of the hand-made requests, so a test can count only those


# ---------------------------------------------------------------- the independent computation


def fy(moment: datetime) -> int:
    local = moment.astimezone(TOKYO)
    return local.year - (1 if local.month < 4 else 0)


def expected_years(rows) -> dict[int, Counter]:
    years: dict[int, Counter] = defaultdict(Counter)
    for row in rows:
        years[fy(row.sent_at)][row.outcome] += 1
    return years


def expected_groups(rows, key) -> dict[str, dict]:
    """requests, settled, removed, median days of removal per key(row) (rows with key None skipped)."""
    groups: dict[str, dict] = {}
    for row in rows:
        name = key(row)
        if name is None:
            continue
        g = groups.setdefault(name, {"requests": 0, "settled": 0, "removed": 0, "days": []})
        g["requests"] += 1
        if row.outcome in ("deleted", "partly_deleted", "still_online"):
            g["settled"] += 1
        if row.outcome in ("deleted", "partly_deleted"):
            g["removed"] += 1
            g["days"].append((row.resolved_at - row.sent_at).total_seconds() / 86400)
    for g in groups.values():
        g["median"] = statistics.median(g["days"]) if g["days"] else None
    return groups


def assert_share(share, count: int, total: int):
    """The printed share is within rounding of the exact one, with the organisation's decimals."""
    places = 2 if 0 < count * 100 < total else 1
    assert share.places == places
    exact = 100 * count / total
    assert abs(float(share.percent) - exact) <= 0.5 * 10**-places + 1e-9
    assert len(share.plain().split(".")[1]) == places


def assert_same_group(line, g):
    assert (line.requests, line.settled, line.removed) == (g["requests"], g["settled"], g["removed"])
    if g["median"] is None:
        assert line.median_days is None
    else:
        assert line.median_days == pytest.approx(g["median"], abs=1e-6)


# ---------------------------------------------------------------- hand-made histories


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO).astimezone(UTC)


def make_host(name="Tiny Hosting", country="DE", key="tiny") -> Organisation:
    return Organisation.objects.create(role="host", key=key, name=name, country=country)


def make_site(domain, host=None, server_country="", jurisdiction="", reuploads=0) -> Site:
    return Site.objects.create(
        domain=domain, host=host, server_country=server_country, jurisdiction=jurisdiction, reuploads=reuploads
    )


def make_request(site, sent, outcome, days=None, case_type="ncii", case_id=None, source="staff"):
    count = TakedownRequest.objects.count()
    return TakedownRequest.objects.create(
        site=site,
        role="host",
        case_type=case_type,
        case_id=case_id,
        sent_at=sent,
        outcome=outcome,
        resolved_at=None if days is None else sent + timedelta(days=days),
        source=source,
        reference=f"{HAND}{count}:{sent.isoformat()}",
    )


def hand():
    return TakedownRequest.objects.filter(reference__startswith=HAND)


def test_the_fiscal_year_boundary_is_midnight_1_april_in_japan(db):
    site = make_site("boundary.example", jurisdiction="JP")
    make_request(site, jst(2024, 3, 31, 23, 30), "deleted", days=1)  # 14:30 UTC on 31 March
    make_request(site, jst(2024, 4, 1, 0, 10), "still_online", days=40)  # 15:10 UTC on 31 March
    make_request(site, jst(2023, 4, 1, 0, 0), "on_hold")
    make_request(site, jst(2023, 3, 31, 23, 59), "ongoing", case_type="csam")

    lines = {line.fiscal_year: line for line in services.fiscal_year_table(hand())}
    assert sorted(lines) == [2022, 2023, 2024]
    assert lines[2023].total == 2 and lines[2023].counts["deleted"] == 1 and lines[2023].counts["on_hold"] == 1
    assert lines[2024].total == 1 and lines[2024].counts["still_online"] == 1
    assert lines[2022].counts["ongoing"] == 1
    assert str(lines[2023].share("deleted")) == "50.0"
    only_2023 = services.fiscal_year_table(services.in_fiscal_years(hand(), 2023, 2023))
    assert [(line.fiscal_year, line.total) for line in only_2023] == [(2023, 2)]
    by_type = services.fiscal_year_table(services.in_fiscal_years(hand(), case_type="csam"), by_case_type=True)
    assert [(line.fiscal_year, line.case_type, line.total) for line in by_type] == [(2022, "csam", 1)]


def test_shares_are_printed_like_the_organisations_figures():
    published = {"deleted": 9367, "partly_deleted": 733, "still_online": 6360, "on_hold": 59, "ongoing": 7}
    printed = {k: services.Share(v, 16526).plain() for k, v in published.items()}
    assert printed == {
        "deleted": "56.7",
        "partly_deleted": "4.4",
        "still_online": "38.5",
        "on_hold": "0.36",
        "ongoing": "0.04",
    }
    assert services.Share(0, 10).plain() == "0.0" and services.Share(0, 0).plain() == ""


def test_compliance_counts_settled_requests_and_the_median_of_removals(db):
    host = make_host("Known Hosting", "NL", "known")
    served = make_site("served.example", host=host, server_country="NL", jurisdiction="SC")
    bound = make_site("bound.example", jurisdiction="SC")
    sent = jst(2024, 6, 1, 12, 0)
    for days in (1, 2, 4):
        make_request(served, sent, "deleted", days=days)
    make_request(served, sent, "partly_deleted", days=10)
    make_request(served, sent, "still_online", days=45)
    make_request(served, sent, "on_hold")
    make_request(bound, sent, "deleted", days=7)

    by_host = services.compliance_lines(services.compliance(hand(), "host"))
    assert len(by_host) == 1
    line = by_host[0]
    assert (line.name, line.country, line.requests, line.settled, line.removed) == ("Known Hosting", "NL", 6, 5, 4)
    assert line.rate.plain() == "80.0"  # removed / settled, the on-hold request counts for neither
    assert line.median_days == pytest.approx(3.0)  # 1, 2, 4, 10 days
    assert services.unattributed(hand(), "host") == 1

    by_country = {line.name: line for line in services.compliance_lines(services.compliance(hand(), "country"))}
    assert by_country["NL"].requests == 6  # served from NL although the operator is bound by SC law
    assert by_country["SC"].requests == 1 and by_country["SC"].median_days == pytest.approx(7.0)
    assert [line.name for line in services.compliance_lines(services.compliance(hand(), "country", min_settled=2))] == [
        "NL"
    ]
    assert services.median_days_by_country(hand())[0].name == "NL"


def test_reuploads_are_set_against_removals(db):
    site = make_site("again.example", jurisdiction="JP", reuploads=3)
    quiet = make_site("quiet.example", jurisdiction="JP")
    sent = jst(2024, 5, 1)
    make_request(site, sent, "deleted", days=1)
    make_request(site, sent, "partly_deleted", days=2)
    make_request(site, sent, "still_online", days=40)
    make_request(quiet, sent, "still_online", days=40)
    rows = list(services.reupload_sites(hand()))
    assert rows == [{"domain": "again.example", "reuploads": 3, "removed": 2, "rate": 1.5}]
    summary = services.reupload_summary(hand())
    assert (summary.reuploads, summary.removed, summary.per_removal.plain()) == (3, 2, "150.0")


def test_the_share_of_hits_that_are_reuploads(case, clients):
    from kesu.matching.models import Hit

    first = Hit.objects.create(case=case, sha256="a" * 64, source_key="1", signal="pdq", probability=0.9)
    for i in range(2, 5):
        Hit.objects.create(case=case, sha256="b" * 64, source_key=str(i), signal="pdq", probability=0.9,
                           reupload_of=first if i == 2 else None)  # fmt: skip
    summary = services.reupload_summary(hand())
    assert (summary.hits, summary.reupload_hits, summary.hit_share.plain()) == (4, 1, "25.0")
    clients["outsider"].cookies["django_language"] = "en"
    page = clients["outsider"].get("/reports/reuploads/").content.decode()
    assert "25.0 % (1 / 4)" in page


def test_reports_need_a_login(db):
    from django.test import Client

    for url in ("/reports/", "/reports/compliance/?by=host", "/reports/reuploads/", "/reports/public/?format=csv"):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/" in response["Location"]


def test_bad_filters_get_a_plain_answer(clients):
    client = clients["on_case"]
    assert client.get("/reports/?from=2024&to=2020").status_code == 400
    assert client.get("/reports/?type=nonsense").status_code == 400
    assert client.get("/reports/compliance/?by=operator").status_code == 400
    assert client.get("/reports/compliance/?min=abc").status_code == 400


# ---------------------------------------------------------------- 20,000 requests


@pytest.fixture(scope="module")
def history(django_db_setup, django_db_blocker):
    """The synthetic history written once for the module, inside a transaction rolled back at its end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            synthetic.write(N, seed=SEED)
            yield synthetic.rows(N, seed=SEED)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def host_key(row):
    return None if row.host in ("", synthetic.CDN_KEY) else row.host  # a CDN is not Site.host


def host_names() -> dict[str, str]:
    return dict(Organisation.objects.filter(role="host").values_list("key", "name"))


def test_fiscal_years_match_an_independent_count(history, db):
    expected = expected_years(history)
    lines = services.fiscal_year_table(services.all_requests())
    assert [line.fiscal_year for line in lines] == sorted(expected)
    for line in lines:
        counts = expected[line.fiscal_year]
        assert line.total == sum(counts.values())
        for category in CATEGORIES:
            assert line.counts[category] == counts[category]
            assert_share(line.share(category), counts[category], line.total)
    assert sum(line.total for line in lines) == N

    by_type = services.fiscal_year_table(services.all_requests(), by_case_type=True)
    assert services.per_year(by_type) == lines  # the page adds the per-type lines up instead of a second scan
    expected_types = Counter((fy(r.sent_at), r.case_type, r.outcome) for r in history)
    for line in by_type:
        for category in CATEGORIES:
            assert line.counts[category] == expected_types[(line.fiscal_year, line.case_type, category)]
    assert sum(line.total for line in by_type) == N

    ranged = services.in_fiscal_years(services.all_requests(), 2023, 2024, "ncii")
    expected_ranged = [r for r in history if 2023 <= fy(r.sent_at) <= 2024 and r.case_type == "ncii"]
    assert ranged.count() == len(expected_ranged)
    assert {line.fiscal_year: line.total for line in services.fiscal_year_table(ranged)} == dict(
        Counter(fy(r.sent_at) for r in expected_ranged)
    )


def test_compliance_matches_an_independent_computation(history, db):
    requests = services.all_requests()
    names = host_names()
    expected = expected_groups(history, host_key)
    lines = services.compliance_lines(services.compliance(requests, "host"))
    assert {line.name for line in lines} == {names[key] for key in expected}
    by_name = {names[key]: g for key, g in expected.items()}
    for line in lines:
        assert_same_group(line, by_name[line.name])
        if line.settled:
            assert_share(line.rate, line.removed, line.settled)

    countries = expected_groups(history, lambda r: r.country or None)
    country_lines = services.compliance_lines(services.compliance(requests, "country"))
    assert {line.name for line in country_lines} == set(countries)
    for line in country_lines:
        assert_same_group(line, countries[line.name])

    sites = expected_groups(history, lambda r: r.site)
    site_lines = services.compliance_lines(services.compliance(requests, "site"))
    assert len(site_lines) == len(sites)
    for line in site_lines:
        assert_same_group(line, sites[line.name])

    at_least = services.compliance_lines(services.compliance(requests, "host", min_settled=200, order="-rate"))
    assert {line.name for line in at_least} == {names[k] for k, g in expected.items() if g["settled"] >= 200}
    rates = [line.removed / line.settled for line in at_least]
    assert rates == sorted(rates, reverse=True)
    fastest = services.compliance_lines(services.compliance(requests, "country", order="days"))
    days = [line.median_days for line in fastest if line.median_days is not None]
    assert days == sorted(days)


def test_pages_show_the_same_numbers_and_the_synthetic_warning(history, clients):
    client = clients["outsider"]  # aggregate figures are for every staff member, not only a case's
    client.cookies["django_language"] = "en"
    expected = expected_years(history)
    page = client.get("/reports/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SYNTHETIC" in html and 'role="img"' in html and "<title" in html and "<desc" in html
    for year, counts in expected.items():
        total = sum(counts.values())
        assert f"FY{year}</th><td>{total:,}</td>" in html
        assert f"{counts['deleted']:,} ({services.Share(counts['deleted'], total)} %)" in html

    table = list(csv.reader(io.StringIO(client.get("/reports/?format=csv").content.decode("utf-8-sig"))))
    assert table[0][:3] == ["Fiscal year", "Requests", "Deleted"]
    body = {row[0]: row for row in table[1:]}
    for year, counts in expected.items():
        row = body[str(year)]
        assert int(row[1]) == sum(counts.values())
        assert [int(row[2 + 2 * i]) for i in range(5)] == [counts[c] for c in CATEGORIES]
        assert float(row[3]) == pytest.approx(100 * counts["deleted"] / int(row[1]), abs=0.05)
    assert int(body["Total"][1]) == N

    names = host_names()
    hosts = {names[k]: g for k, g in expected_groups(history, host_key).items()}
    page = client.get("/reports/compliance/?by=host&sort=-requests")
    assert page.status_code == 200 and "SYNTHETIC" in page.content.decode()
    busiest = max(hosts.items(), key=lambda item: item[1]["requests"])
    assert f"{busiest[1]['requests']:,}" in page.content.decode() and busiest[0] in page.content.decode()
    rows = list(
        csv.reader(io.StringIO(client.get("/reports/compliance/?by=host&format=csv").content.decode("utf-8-sig")))
    )
    assert rows[0][:7] == ["Hosting provider", "Country", "Requests", "Settled", "Removed", "Compliance rate (%)",
                           "Median days to removal"]  # fmt: skip
    assert len(rows) - 1 == len(hosts)
    countries = dict(Organisation.objects.filter(role="host").values_list("name", "country"))
    for name, country, n, settled, removed, rate, days, *_legal in rows[1:]:
        g = hosts[name]
        assert country == countries[name]
        assert (int(n), int(settled), int(removed)) == (g["requests"], g["settled"], g["removed"])
        assert float(rate) == pytest.approx(100 * g["removed"] / g["settled"], abs=0.05)
        assert float(days) == pytest.approx(g["median"], abs=0.05)
    by_site = client.get("/reports/compliance/?by=site&min=3&page=2")
    assert by_site.status_code == 200 and "2 / " in by_site.content.decode()
    assert client.get("/reports/reuploads/").status_code == 200


def test_the_public_table_has_no_case_data_and_no_small_hosts(history, clients):
    from kesu.audit.models import AuditEntry

    nine, ten = make_host("Nine Settled Hosting", "DE", "nine"), make_host("Ten Settled Hosting", "DE", "ten")
    for host, n in ((nine, 9), (ten, 10)):
        site = make_site(f"{host.key}-victim-site.example", host=host, server_country="DE")
        for i in range(n):
            make_request(site, jst(2024, 7, 1), "deleted" if i % 2 else "still_online", days=3, case_id=987654)
        make_request(site, jst(2024, 7, 1), "on_hold", case_id=987654)  # not settled: does not count
    client = clients["on_case"]
    client.cookies["django_language"] = "en"
    body = client.get("/reports/public/?format=csv").content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["Hosting provider", "Country", "Requests", "Compliance rate (%)", "Median days to removal",
                       "Kept the legal clock (%)"]  # fmt: skip
    listed = {row[0]: row for row in rows[1:]}
    names = host_names()
    expected = {names[k]: g for k, g in expected_groups(history, host_key).items()}
    expected["Ten Settled Hosting"] = {"requests": 11, "settled": 10, "removed": 5}
    assert set(listed) == {name for name, g in expected.items() if g["settled"] >= 10}
    assert "Nine Settled Hosting" not in listed
    assert listed["Ten Settled Hosting"][2:4] == ["11", "50.0"]
    text = body.decode("utf-8-sig")
    assert "987654" not in text and ".example" not in text and "http" not in text
    html = client.get("/reports/public/").content.decode()
    assert "Ten Settled Hosting" in html and "Nine Settled Hosting" not in html and "987654" not in html
    assert "victim-site" not in html and "SYNTHETIC" in html
    exports = AuditEntry.objects.filter(action="reports.export").values_list("detail", flat=True)
    assert [d["report"] for d in exports] == ["public_hosts", "public_hosts"]


def test_pages_in_japanese_and_japanese_csv_headers(history, clients):
    client = clients["on_case"]
    client.cookies["django_language"] = "ja"
    html = client.get("/reports/").content.decode()
    assert 'lang="ja"' in html and "年度別の削除依頼" in html and "合成" in html and "2023年度" in html
    html = client.get("/reports/compliance/?by=country").content.decode()
    assert "国別の対応状況" in html and "対応率" in html
    body = client.get("/reports/compliance/?by=country&format=csv").content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(body)))
    assert header[:2] == ["国", "依頼数"]
    assert client.get("/reports/public/").content.decode().count("ホスティング事業者") >= 2


def test_cli_reports(history, cli, tmp_path):
    code, out, err = cli("report", "fy", "--from", "2023", "--to", "2024", "--type", "ncii", "--json")
    assert code == 0 and "SYNTHETIC" in err
    lines = [json.loads(line) for line in out.splitlines()]
    expected = Counter(
        (fy(r.sent_at), r.outcome) for r in history if 2023 <= fy(r.sent_at) <= 2024 and r.case_type == "ncii"
    )
    assert [line["fiscal_year"] for line in lines] == [2023, 2024]
    for line in lines:
        assert [line[c] for c in CATEGORIES] == [expected[(line["fiscal_year"], c)] for c in CATEGORIES]
    code, out, _err = cli("report", "compliance", "--by", "host", "--min", "300", "--json")
    names = host_names()
    hosts = {names[k]: g for k, g in expected_groups(history, host_key).items()}
    got = {row["name"]: row for row in map(json.loads, out.splitlines())}
    assert code == 0 and set(got) == {name for name, g in hosts.items() if g["settled"] >= 300}
    for name, row in got.items():
        assert (row["requests"], row["settled"], row["removed"]) == tuple(
            hosts[name][k] for k in ("requests", "settled", "removed")
        )
    code, out, _err = cli("report", "fy")
    assert code == 0 and "FY" in out and f"{expected_years(history)[2023]['deleted']}" in out
    target = tmp_path / "public.csv"
    code, out, _err = cli("report", "public", "--out", str(target), "--lang", "en")
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert code == 0 and rows[0][0] == "Hosting provider"
    assert {row[0] for row in rows[1:]} == {name for name, g in hosts.items() if g["settled"] >= 10}
    assert cli("report", "fy", "--type", "nonsense")[0] == 1
