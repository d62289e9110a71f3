"""Issue 18, finding 9 (need to know): staff see on the patrol's pages and in ``kesu review exposure`` only what
concerns their own cases; deleting a reference asks first, can be undone for a while, then is shredded.

Personas as everywhere: hana is on the case, kenji is not (he has a case of his own), sato supervises, root admins.
"""

import json
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from kesu.accounts.principals import SystemPrincipal
from kesu.audit.models import AuditEntry
from kesu.cases import references
from kesu.cases import services as cases
from kesu.cases.models import ReferenceItem
from kesu.matching import services as matching
from kesu.matching.models import Hit, Signal
from kesu.patrol.models import HostState, Page, Recheck, Run, Sighting, Stage, Watch
from kesu.review.models import Exposure
from kesu.sites.models import Site
from kesu.vault import services as vault
from kesu.vault.models import VaultBlob

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


# --- deleting a reference: confirm, undo within the window, then shredded ---------------------------------


def _image(case) -> ReferenceItem:
    return case.references.get(kind="image")


def _delete_url(case, item) -> str:
    return reverse("cases:reference_delete", args=[case.pk, item.pk])


def _owners(data: bytes) -> set[int]:
    return {c.owner for c in matching.match(data).candidates}


@pytest.mark.parametrize("persona,status", [("on_case", 200), ("outsider", 404), ("supervisor", 200), ("admin", 200)])
def test_finding9_reference_deletion_asks_first_and_deletes_nothing(case, clients, persona, status):
    item = _image(case)
    response = clients[persona].get(_delete_url(case, item))
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert "hanako_private_1.png" in html and 'name="confirm"' in html and "<img" not in html
    assert case.references.filter(pk=item.pk).exists() and item.signals.exists()
    assert not AuditEntry.objects.filter(action="reference.delete").exists()


def test_finding9_case_page_links_to_the_confirmation_not_a_bare_delete(case, clients):
    html = clients["on_case"].get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert f'<a href="{_delete_url(case, _image(case))}">' in html


def test_finding9_deleted_reference_is_hidden_stops_matching_and_undo_brings_it_back(
    case, clients, astronaut_png, django_capture_on_commit_callbacks
):
    item = _image(case)
    blob_path = settings.KESU_VAULT_DIR / str(case.data_key_id) / item.blob.id.hex
    assert item.pk in _owners(astronaut_png)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = clients["on_case"].post(_delete_url(case, item), {"confirm": item.pk}, follow=True)
    assert len(queued) == 1  # the shred task, queued once the deletion is committed
    html = response.content.decode()
    assert not case.references.filter(pk=item.pk).exists()
    assert f"/references/{item.pk}/preview/" not in html and "Undo" in html and "hanako_private_1.png" in html
    assert clients["on_case"].get(reverse("cases:preview", args=[case.pk, item.pk])).status_code == 404
    assert item.pk not in _owners(astronaut_png)  # out of the bank at once
    assert blob_path.exists()  # her media kept, sealed, for the undo window
    entry = AuditEntry.objects.get(action="reference.delete")
    assert entry.detail["pending"] is True and entry.object_id == str(item.pk) and entry.case_id == case.pk

    restore = reverse("cases:reference_restore", args=[case.pk, item.pk])
    assert clients["outsider"].post(restore).status_code == 404
    clients["on_case"].post(restore)
    assert case.references.filter(pk=item.pk).exists()
    assert item.pk in _owners(astronaut_png)  # matches again
    assert AuditEntry.objects.filter(action="reference.restore", object_id=str(item.pk)).exists()
    assert shred_references([item.pk]) == 0 and blob_path.exists()  # a restored one is never shredded


def test_finding9_after_the_window_the_shred_task_removes_the_sealed_media(
    case, clients, personas, django_capture_on_commit_callbacks
):
    item = _image(case)
    blob_ids = [item.blob_id, item.preview_id]
    blob_path = settings.KESU_VAULT_DIR / str(case.data_key_id) / item.blob.id.hex
    references.delete(personas["on_case"], case, item)
    assert shred_references([item.pk]) == 0 and blob_path.exists()  # still inside the window

    late = timezone.now() - timedelta(minutes=settings.KESU_REFERENCE_UNDO_MINUTES, seconds=1)
    ReferenceItem.pending.filter(pk=item.pk).update(deleted_at=late)
    response = clients["on_case"].post(reverse("cases:reference_restore", args=[case.pk, item.pk]), follow=True)
    assert "Too late to undo" in response.content.decode()
    assert "Undo" not in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert shred_references([item.pk]) == 1
    assert not blob_path.exists() and not VaultBlob.objects.filter(pk__in=blob_ids).exists()
    assert not ReferenceItem.pending.filter(pk=item.pk).exists() and not Signal.objects.filter(reference=item.pk)
    assert shred_references([item.pk]) == 0  # idempotent
    entry = AuditEntry.objects.get(action="reference.shred")
    assert entry.actor == "system:scheduler" and entry.detail == {"reference": item.pk}


def test_finding9_the_beat_shreds_what_a_lost_message_left(case, personas, django_capture_on_commit_callbacks):
    early, late = list(case.references.all())[:2]
    references.delete(personas["on_case"], case, early)
    references.delete(personas["on_case"], case, late)
    old = timezone.now() - timedelta(minutes=settings.KESU_REFERENCE_UNDO_MINUTES + 1)
    ReferenceItem.pending.filter(pk=early.pk).update(deleted_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        assert shred_due_references() == 1
    assert list(ReferenceItem.pending.values_list("pk", flat=True)) == [late.pk]
    assert "cases.shred_due_references" in {e["task"] for e in _beat().values()}


def test_finding9_a_case_deleted_while_a_reference_waits_leaves_nothing_to_shred(
    case, personas, django_capture_on_commit_callbacks
):
    item = _image(case)
    blob_path = settings.KESU_VAULT_DIR / str(case.data_key_id) / item.blob.id.hex
    references.delete(personas["on_case"], case, item)
    with django_capture_on_commit_callbacks(execute=True):
        cases.delete_case(personas["supervisor"], case)
    assert not ReferenceItem.pending.filter(pk=item.pk).exists() and not blob_path.exists()
    assert shred_references([item.pk]) == 0


def _beat() -> dict:
    from kesu.celery import app

    return app.conf.beat_schedule


def shred_references(ids: list[int]) -> int:
    from kesu.cases import tasks  # (imported here: the task is new, and the other tests here run without it)

    return tasks.shred_references(ids)


def shred_due_references() -> int:
    from kesu.cases import tasks

    return tasks.shred_due_references()


def test_finding9_a_deleted_keyword_is_not_searched_until_undone(case, clients, personas):
    keyword = references.add_text(OPERATOR, case, "keyword", HER_KEYWORD)
    from kesu.patrol.discovery import Searches

    assert Searches.keywords(case) == [HER_KEYWORD]
    references.delete(personas["on_case"], case, keyword)
    assert Searches.keywords(case) == []
    assert cases.case_rows(personas["on_case"]).get(pk=case.pk).reference_count == 2
    clients["on_case"].post(reverse("cases:reference_restore", args=[case.pk, keyword.pk]))
    assert Searches.keywords(case) == [HER_KEYWORD]


def test_finding9_the_bank_notices_one_reference_withdrawn_and_another_restored_at_once(case, personas, astronaut_png):
    """Two copies of one picture: as many signals each. A worker's bank that saw the second deleted must not go
    on matching the first after the first is deleted and the second restored (same count of signals in use)."""
    first = _image(case)
    second = references.add_file(OPERATOR, case, "hanako_private_2.png", astronaut_png)
    assert first.signals.count() == second.signals.count()
    hana = personas["on_case"]
    references.delete(hana, case, first)
    assert _owners(astronaut_png) & {first.pk, second.pk} == {second.pk}
    references.delete(hana, case, second)  # the newer signals, so the bank's newest id stays where it was
    references.restore(hana, case, ReferenceItem.pending.get(pk=first.pk))
    assert _owners(astronaut_png) & {first.pk, second.pk} == {first.pk}


@pytest.mark.parametrize("value", ["ten", "0"])
def test_finding9_a_bad_undo_window_stops_start_up_naming_the_variable(tmp_path, value):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "KESU_DATA_DIR": str(tmp_path), "KESU_REFERENCE_UNDO_MINUTES": value}
    env.pop("KESU_DATABASE_URL", None)
    kesu = str(Path(sys.executable).with_name("kesu"))
    result = subprocess.run([kesu, "case", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("kesu: error: configuration: KESU_REFERENCE_UNDO_MINUTES")


@pytest.mark.parametrize(
    "command", [["watch", "leak.example"], ["run"], ["recheck"], ["sweep"], ["drain", "--seconds", "1"]]
)
def test_the_patrols_installation_wide_commands_are_for_supervisors(cli, personas, command):
    """As on the patrol pages: what works for every case is not for staff, who see only their cases."""
    code, out, err = cli("--as", "kenji", "patrol", *command)
    assert code != 0 and "only a supervisor" in err and len(err.strip().splitlines()) == 1 and not out
    code, _, err = cli("--as", "sato", "patrol", *command)
    assert code == 0, err
