"""The staff pages for the patrol: runs, watches and hosts; the review queue of new hits; URLs handed in;
and the re-checks on a notice's page. Who may see what, for every persona.

Nothing here fetches: pages queued by a run wait for a worker that tests never start (no network).
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.cases import services as cases
from kesu.matching.models import Hit
from kesu.notices import compose, templates
from kesu.patrol.models import HostState, Page, Recheck, Run, Sighting, Stage, Watch
from kesu.sites.models import Contact, Organisation, Role, Site
from kesu.vault import services as vault

SECRET_URL = "https://leak.example/v/hanako-secret-path-1"
PINK = "≥95%"


@pytest.fixture(autouse=True)
def english(clients, settings):
    for client in clients.values():
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def other_case(personas, victim_details):
    """A case that only the outsider works on."""
    return cases.create_case(
        SystemPrincipal("test"), "ncii", details=victim_details, assignees=[personas["outsider"]], consent=["search"]
    )


@pytest.fixture
def watch(db):
    return Watch.objects.create(
        site=Site.objects.create(domain="tube.example"), name="Tube new uploads", seeds=["https://tube.example/new"]
    )


def page(client, path, method="get", **data):
    response = getattr(client, method)(path, data)
    return response.status_code, response.content.decode()


def make_hit(case, probability, url=SECRET_URL, **fields) -> Hit:
    return Hit.objects.create(
        case=case,
        sha256=uuid.uuid4().hex * 2,
        signal="pdq",
        probability=probability,
        source_url_sealed=vault.seal_text(case.data_key, url, "hit.source_url"),
        source_key=vault.blind_index(url),
        **fields,
    )


# --- /patrol/ ---------------------------------------------------------------------------------------------


def test_the_patrol_page_shows_staff_only_runs_of_their_cases(clients, case, other_case, watch):
    listing = Run.objects.create(source=Run.Source.LISTING, watch=watch, notes=["listing-note: 3 pages over the limit"])
    Page.objects.create(run=listing, url_key="l", url_sealed=b"", host="slow.example", kind=Page.Kind.LISTING)
    ours = Run.objects.create(source=Run.Source.SUBMITTED, case=case, hits=2, notes=["ours-note"])
    Run.objects.create(source=Run.Source.SUBMITTED, case=other_case, notes=["theirs-note"])
    for stage, n in ((Stage.DONE, 3), (Stage.FAILED, 1)):
        for i in range(n):
            Page.objects.create(run=ours, url_key=f"{stage}{i}", url_sealed=b"", host="leak.example",
                                kind=Page.Kind.ITEM, stage=stage)  # fmt: skip
    found = [make_hit(case, 0.9, url=f"https://leak.example/v/{i}") for i in range(2)]
    sighting = Sighting.objects.create(page=ours.pages.first(), url_key="m", url_sealed=b"", host="leak.example",
                                       new_hits=[hit.pk for hit in found])  # fmt: skip
    sighting.hits.add(*found)
    Page.objects.create(run=ours, url_key="waiting", url_sealed=b"", host="leak.example", kind=Page.Kind.ITEM,
                        stage=Stage.FETCH)  # fmt: skip
    HostState.objects.create(host="slow.example", requests=40, refusals=2, last_status=429, note="told us to wait")

    status, html = page(clients["on_case"], "/patrol/")
    assert status == 200
    assert "listing-note: 3 pages over the limit" in html and "ours-note" in html and "theirs-note" not in html
    assert case.victim.code in html and other_case.victim.code not in html
    assert "<td>3</td><td>1</td><td>0</td><td>2</td>" in html  # done, failed, skipped, hits
    # the run is still going: a progress bar of the pages looked at, and the section refreshes itself
    assert '<progress max="5" value="4"' in html and 'data-refresh="10"' in html
    assert "Tube new uploads" in html and "slow.example" in html and "told us to wait" in html
    assert "Run now" not in html and f"/patrol/watches/{watch.pk}/" not in html

    html = page(clients["outsider"], "/patrol/")[1]
    assert "theirs-note" in html and "ours-note" not in html and case.victim.code not in html
    for role in ("supervisor", "admin"):
        html = page(clients[role], "/patrol/")[1]
        assert "ours-note" in html and "theirs-note" in html and "Run now" in html
        assert f"/patrol/watches/{watch.pk}/" in html
    assert 'href="/patrol/"' in html  # the nav link


def test_run_now_is_for_supervisors_and_audited(clients, watch):
    assert clients["on_case"].post(f"/patrol/watches/{watch.pk}/run/").status_code == 404
    assert not Run.objects.exists()
    response = clients["supervisor"].post(f"/patrol/watches/{watch.pk}/run/", follow=True)
    run = Run.objects.get()
    assert run.source == Run.Source.LISTING and run.watch == watch and run.pages.count() == 1
    assert "1 run started for Tube new uploads." in response.content.decode()
    assert AuditEntry.objects.filter(action="patrol.run_now", object_id=str(watch.pk)).exists()


# --- watches ----------------------------------------------------------------------------------------------


WATCH = {
    "domain": "leak.example",
    "name": "Leak tube",
    "seeds": "https://leak.example/new\n\n https://leak.example/top \n",
    "searches": "https://leak.example/search?q={query}",
    "item_pattern": r"/v/\d+",
    "listing_pattern": r"/page/\d+",
    "max_depth": 2,
    "max_pages": 100,
    "max_links": 50,
    "every_minutes": 30,
    "rate_per_minute": 10,
    "concurrency": 1,
    "browser": "never",
    "enabled": "on",
}


def test_watch_pages_are_for_supervisors_only(clients, watch):
    for path in ("/patrol/watches/new/", f"/patrol/watches/{watch.pk}/"):
        for role in ("on_case", "outsider"):
            assert clients[role].get(path).status_code == 404, (path, role)
            assert clients[role].post(path, WATCH).status_code == 404, (path, role)
        for role in ("supervisor", "admin"):
            assert clients[role].get(path).status_code == 200, (path, role)
    assert Watch.objects.count() == 1


def test_a_watch_is_saved_from_the_form(clients):
    response = clients["supervisor"].post("/patrol/watches/new/", WATCH)
    assert response.status_code == 302 and response.url == "/patrol/"
    watch = Watch.objects.get()
    assert watch.site.domain == "leak.example" and watch.name == "Leak tube"
    assert watch.seeds == ["https://leak.example/new", "https://leak.example/top"]
    assert watch.searches == ["https://leak.example/search?q={query}"]
    assert (watch.item_pattern, watch.max_depth, watch.every_minutes, watch.browser) == (r"/v/\d+", 2, 30, "never")
    assert watch.enabled and watch.next_run_at is not None

    status, html = page(clients["supervisor"], f"/patrol/watches/{watch.pk}/")
    assert "https://leak.example/new\nhttps://leak.example/top</textarea>" in html and 'value="leak.example"' in html
    clients["admin"].post(f"/patrol/watches/{watch.pk}/", {**WATCH, "name": "Renamed", "enabled": ""})
    watch.refresh_from_db()
    assert watch.name == "Renamed" and not watch.enabled and Watch.objects.count() == 1


def test_a_bad_watch_is_refused_with_one_line(clients):
    status, html = page(clients["supervisor"], "/patrol/watches/new/", "post", **{**WATCH, "item_pattern": "(unclosed"})
    assert status == 200 and not Watch.objects.exists()
    assert "item pattern is not a regular expression: missing ), unterminated subpattern at position 0" in html
    assert "Traceback" not in html and "(unclosed" in html  # the typed value is kept

    status, html = page(
        clients["supervisor"], "/patrol/watches/new/", "post", **{**WATCH, "searches": "https://x.example/"}
    )
    assert status == 200 and "search template without {query}" in html and not Watch.objects.exists()
    status, html = page(clients["supervisor"], "/patrol/watches/new/", "post", **{**WATCH, "rate_per_minute": 0})
    assert status == 200 and not Watch.objects.exists()


# --- the review queue -------------------------------------------------------------------------------------


def test_the_hits_queue_shows_new_hits_of_her_cases_by_host_only(clients, case, other_case):
    low = make_hit(case, 0.6, nudity=0.42)
    make_hit(case, 0.99, status=Hit.Status.REJECTED)
    theirs = make_hit(other_case, 0.97, url="https://elsewhere.example/x")
    status, html = page(clients["on_case"], "/patrol/hits/")
    assert status == 200 and "60 %" in html and "42 %" in html and PINK not in html
    assert "leak.example" in html and SECRET_URL not in html and "hanako-secret-path" not in html
    assert "elsewhere.example" not in html and other_case.victim.code not in html
    assert f'href="/cases/{case.pk}/"' in html and "<img" not in html

    again = make_hit(case, 0.97, url="https://mirror.example/v/hanako-secret-path-1", reupload_of=low)
    html = page(clients["on_case"], "/patrol/hits/")[1]
    assert PINK in html and '<span class="tag pink">' in html and f"re-upload of #{low.pk}" in html
    assert html.index("mirror.example") < html.index("leak.example")  # newest first
    assert "hanako-secret-path" not in html

    html = page(clients["outsider"], "/patrol/hits/")[1]
    assert "elsewhere.example" in html and case.victim.code not in html and "mirror.example" not in html
    html = page(clients["supervisor"], "/patrol/hits/")[1]
    assert all(code in html for code in (case.victim.code, other_case.victim.code)) and html.count(PINK) == 2
    assert {again.pk, theirs.pk, low.pk} == set(Hit.objects.filter(status="new").values_list("pk", flat=True))


def test_the_hits_queue_has_pages_of_100(clients, case):
    for i in range(101):
        make_hit(case, 0.7, url=f"https://leak.example/v/{i}")
    html = page(clients["on_case"], "/patrol/hits/")[1]
    assert html.count("<td>Picture hash (PDQ)</td>") == 100 and "1 / 2" in html and "?page=2" in html
    html = page(clients["on_case"], "/patrol/hits/?page=2")[1]
    assert html.count("<td>Picture hash (PDQ)</td>") == 1 and "?page=1" in html


# --- URLs handed in ---------------------------------------------------------------------------------------


def test_submitted_urls_start_a_run_for_the_case(clients, case):
    path = f"/cases/{case.pk}/patrol/submit/"
    assert f'href="{path}"' in page(clients["on_case"], f"/cases/{case.pk}/")[1]
    assert clients["outsider"].get(path).status_code == 404
    assert clients["outsider"].post(path, {"urls": SECRET_URL, "by": "staff"}).status_code == 404
    assert clients["supervisor"].get(path).status_code == 200
    assert not Run.objects.exists()

    urls = f"{SECRET_URL}\n\nhttps://leak.example/v/2\nnot-a-url\n"
    response = clients["on_case"].post(path, {"urls": urls, "by": "victim"}, follow=True)
    assert response.redirect_chain[-1][0] == "/patrol/"
    run = Run.objects.get()
    assert run.source == Run.Source.SUBMITTED and run.case == case and run.status == Run.Status.RUNNING
    assert set(run.pages.values_list("kind", "stage", "host")) == {(Page.Kind.ITEM, Stage.FETCH, "leak.example")}
    assert run.pages.count() == 2 and "refused 1 URL(s)" in run.notes[0]
    html = response.content.decode()
    assert "The patrol looks at 2 URLs now." in html and "Some lines were not usable URLs" in html
    assert AuditEntry.objects.get(action="patrol.submit").detail == {"urls": 2, "by": "victim"}


def test_a_submission_without_a_usable_url_is_a_form_error(clients, case):
    status, html = page(
        clients["on_case"], f"/cases/{case.pk}/patrol/submit/", "post", urls="ftp://x\nhello", by="staff"
    )
    assert status == 200 and "no usable URL" in html and not Run.objects.exists()


# --- re-checks on a notice's page -------------------------------------------------------------------------


@pytest.fixture
def notice(case):
    templates.sync_shipped()
    operator = Organisation.objects.create(role=Role.OPERATOR, key="leak", name="Leak Tube")
    Contact.objects.create(organisation=operator, channel="email", address="abuse@leak.example", priority=10)
    Site.objects.create(domain="leak.example", operator=operator)
    return compose.prepare("user:hana", case, urls=[SECRET_URL]).notices[0]


def test_the_notice_page_shows_each_recheck_and_its_history(clients, case, notice):
    html = page(clients["on_case"], f"/notices/{notice.pk}/")[1]
    assert "Re-checks" in html and "None yet" in html

    now = timezone.now()
    bundle = uuid.uuid4()
    history = [
        {"at": (now - timedelta(days=2)).isoformat(), "state": "online", "status": 200, "evidence": ""},
        {"at": now.isoformat(), "state": "page_gone", "status": 410, "evidence": str(bundle)},
    ]
    Recheck.objects.create(
        case=case, notice=notice, url_key=vault.blind_index(SECRET_URL), host="leak.example",
        url_sealed=vault.seal_text(case.data_key, SECRET_URL, "recheck.url"), stage=Stage.FETCH,
        state=Recheck.State.PAGE_GONE, checks=5, last_checked_at=now, changed_at=now, gone_at=now, history=history,
    )  # fmt: skip
    status, html = page(clients["on_case"], f"/notices/{notice.pk}/")
    assert status == 200
    section = html.split('id="rechecks"')[1].split("</section>")[0]
    assert SECRET_URL in section and '<span class="tag page_gone">Page gone</span>' in section
    assert "<dd>5</dd>" in section and "Media still there" in section and "<td>410</td>" in section
    assert f'action="/cases/{case.pk}/evidence/{bundle}/download/"' in section and section.count("<form") == 1
    assert page(clients["outsider"], f"/notices/{notice.pk}/")[0] == 404
