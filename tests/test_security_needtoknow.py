"""Issue 18, finding 9 (need to know): staff see on the patrol's pages and in ``kesu review exposure`` only what
concerns their own cases.

Personas as everywhere: hana is on the case, kenji is not (he has a case of his own), sato supervises, root admins.
"""

import json
import uuid

import pytest
from django.conf import settings
from django.utils import timezone

from kesu.accounts.principals import SystemPrincipal
from kesu.cases import references
from kesu.cases import services as cases
from kesu.matching.models import Hit
from kesu.patrol.models import HostState, Page, Recheck, Run, Sighting, Stage, Watch
from kesu.review.models import Exposure
from kesu.sites.models import Site
from kesu.vault import services as vault

pytestmark = pytest.mark.django_db

# A host only hana's case led the patrol to (its full name can carry hers), and a keyword of her case.
HER_HOST = "hanako-yamada-private.example"
HER_KEYWORD = "hanako secret title 2026"
OPERATOR = SystemPrincipal("test")


@pytest.fixture(autouse=True)
def english(clients, settings):
    for client in clients.values():
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def kenjis_case(personas, victim_details):
    return cases.create_case(OPERATOR, "ncii", details=victim_details, assignees=[personas["outsider"]])


def _page(run, host, stage=Stage.DONE) -> Page:
    return Page.objects.create(run=run, url_key=uuid.uuid4().hex, url_sealed=b"", host=host,
                               kind=Page.Kind.ITEM, stage=stage)  # fmt: skip


def _hit(case, host) -> Hit:
    url = f"https://{host}/v/1"
    return Hit.objects.create(case=case, sha256=uuid.uuid4().hex * 2, signal="pdq", probability=0.97, host=host,
                              source_url_sealed=vault.seal_text(case.data_key, url, "hit.source_url"),
                              source_key=vault.blind_index(url))  # fmt: skip


@pytest.fixture
def patrol(case, kenjis_case):
    """A listing of a watched site (no one's case) that found two of hana's copies; a submitted run of her case
    that reached a host of hers, where a hit waits; her keyword in a search run; kenji's own run, still going."""
    references.add_text(OPERATOR, case, "keyword", HER_KEYWORD)
    site = Site.objects.create(domain="tube.example")
    watch = Watch.objects.create(site=site, name="Tube new uploads", seeds=["https://tube.example/new"],
                                 searches=["https://tube.example/s?q={query}"])  # fmt: skip
    listing = Run.objects.create(source=Run.Source.LISTING, watch=watch, hits=2, notes=["listing-note"])
    page = _page(listing, "tube.example")
    for _ in range(2):
        hit = _hit(case, "tube.example")
        sighting = Sighting.objects.create(page=page, url_key=uuid.uuid4().hex, url_sealed=b"",
                                           host="cdn.tube.example", stage=Stage.DONE, new_hits=[hit.pk])  # fmt: skip
        sighting.hits.add(hit)
    hers = Run.objects.create(source=Run.Source.SUBMITTED, case=case, hits=1, notes=["hers-note"])
    _page(hers, HER_HOST)
    _hit(case, HER_HOST)
    Run.objects.create(source=Run.Source.SEARCH, watch=watch, case=case, notes=[f"searched {HER_KEYWORD}"])
    his = Run.objects.create(source=Run.Source.SUBMITTED, case=kenjis_case, notes=["his-note"])
    _page(his, "his-host.example", stage=Stage.FETCH)
    HostState.objects.create(host=HER_HOST, requests=731, refusals=1, last_status=429, note="her host slowed us")
    HostState.objects.create(host="tube.example", requests=587, last_status=200)
    HostState.objects.create(host="his-host.example", requests=3, last_status=200)
    return listing


def _runs_section(html: str) -> str:
    return html[html.index('id="runs-section"') : html.index('aria-labelledby="watches"')]


def test_finding9_patrol_page_shows_staff_no_host_count_or_keyword_of_a_case_not_theirs(clients, patrol, case):
    response = clients["outsider"].get("/patrol/")
    html = response.content.decode()
    assert response.status_code == 200
    assert HER_HOST not in html and "her host slowed us" not in html and HER_KEYWORD not in html
    assert "hers-note" not in html and case.victim.code not in html
    assert "731" not in html and "587" not in html and "HTTP requests" not in html  # the team's request counts
    assert "his-note" in html and "his-host.example" in html and "tube.example" in html  # his own, and the site
    row = _runs_section(html).split("listing-note")[0].rsplit("<tr>", 1)[1]
    assert "<td>0</td><td>0</td><td>0</td>" in row and "<td>2</td>" not in row  # the listing's hits were hers

    # The runs section refreshes itself from the same address every 10 s: it says no more the second time.
    assert 'data-refresh="10"' in html
    again = clients["outsider"].get("/patrol/", HTTP_SEC_FETCH_MODE="cors").content.decode()
    assert HER_HOST not in again and "hers-note" not in _runs_section(again)

    html = clients["on_case"].get("/patrol/").content.decode()
    assert HER_HOST in html and "her host slowed us" in html and "hers-note" in html and "his-note" not in html
    assert "731" not in html and "his-host.example" not in html
    row = _runs_section(html).split("listing-note")[0].rsplit("<tr>", 1)[1]
    assert "<td>2</td>" in row  # hers: she sees them counted

    for role in ("supervisor", "admin"):
        html = clients[role].get("/patrol/").content.decode()
        assert HER_HOST in html and "731" in html and "his-host.example" in html and "hers-note" in html

    # The queue of new hits (already kept to her cases before this finding) names no host of hers either.
    html = clients["outsider"].get("/patrol/hits/").content.decode()
    assert HER_HOST not in html and case.victim.code not in html and "No new hits." in html
    assert HER_HOST in clients["on_case"].get("/patrol/hits/").content.decode()
    assert HER_HOST in clients["supervisor"].get("/patrol/hits/").content.decode()


def test_finding9_a_host_only_a_recheck_of_her_case_reached_is_hers(clients, case, leak):
    from kesu.notices import compose

    notice = compose.prepare("user:hana", case, urls=["https://leak.example/v/1"]).notices[0]
    Recheck.objects.create(case=case, notice=notice, url_key="r", url_sealed=b"", host="cdn.hanako-only.example")
    HostState.objects.create(host="cdn.hanako-only.example", requests=9, last_status=404)
    assert "cdn.hanako-only.example" in clients["on_case"].get("/patrol/").content.decode()
    assert "cdn.hanako-only.example" not in clients["outsider"].get("/patrol/").content.decode()


def test_finding9_cli_patrol_runs_and_hosts_as_staff_show_only_theirs(cli, patrol):
    code, out, err = cli("--as", "kenji", "patrol", "hosts")
    assert code == 0, err
    assert HER_HOST not in out and "his-host.example" in out and "REQUESTS" not in out
    code, out, err = cli("--as", "kenji", "patrol", "runs", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and "hers-note" not in out and HER_KEYWORD not in out
    assert {r["source"]: r["hits"] for r in rows if r["source"] == "listing"} == {"listing": 0}
    code, out, _ = cli("--as", "sato", "patrol", "hosts")
    assert HER_HOST in out and "731" in out


def test_finding9_cli_exposure_shows_staff_only_their_own_figures(cli, personas):
    today = timezone.localdate()
    Exposure.objects.create(user=personas["on_case"], day=today, count=17)
    Exposure.objects.create(user=personas["outsider"], day=today, count=3)
    code, out, err = cli("--as", "kenji", "review", "exposure", "--json")
    assert code == 0, err
    assert json.loads(out) == [{"user": "kenji", "today": 3, "week": 3, "limit": settings.KESU_EXPOSURE_DAILY_LIMIT}]
    code, out, _ = cli("--as", "kenji", "review", "exposure")
    assert "kenji" in out and "hana" not in out and "17" not in out and "sato" not in out
    code, out, _ = cli("--as", "sato", "review", "exposure", "--json")
    assert {(r["user"], r["today"]) for r in json.loads(out)} >= {("hana", 17), ("kenji", 3), ("sato", 0)}
    code, _, err = cli("--as", "kenji", "review", "exposure", "--user", "hana", "--limit", "5")
    assert code == 1 and "supervisors" in err
