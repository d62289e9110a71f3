"""Decisions can be taken back from the next hit's page: the undo toast (key u) and the recent decisions, for as
long as no notice names the hit; all by buttons the page renders, so it works without JavaScript."""

import re

import pytest
from test_review import make_hit

from kesu.matching.models import Hit
from kesu.notices import compose


@pytest.fixture(autouse=True)
def english(clients):
    for client in clients.values():
        client.cookies["django_language"] = "en"


def toast(html: str) -> str:
    found = re.search(r'<section class="undo-toast".*?</section>', html, re.S)
    return found.group(0) if found else ""


def test_the_next_hit_offers_to_undo_the_last_decision_with_u(clients, case):
    first, second, third = make_hit(case, 0.99), make_hit(case, 0.8), make_hit(case, 0.7)
    client = clients["on_case"]
    response = client.post(f"/review/hits/{first.pk}/decide/", {"kind": "confirm", "order": "age"})
    assert response["Location"] == f"/review/hits/{second.pk}/?order=age"
    html = client.get(response["Location"]).content.decode()
    offered = toast(html)
    assert f'action="/review/hits/{first.pk}/undo/"' in offered and f"Hit #{first.pk}: Confirmed." in offered
    assert re.search(r'<button data-key="u">Undo #\d+ <kbd>u</kbd></button>', offered)
    assert html.count('data-key="u"') == 1  # the key presses exactly one button
    assert 'name="back" value="/review/hits/' in offered and 'name="order" value="age"' in offered

    # u from the second hit's page: the first waits again, and she is taken back to it
    response = client.post(f"/review/hits/{first.pk}/undo/", {"order": "age", "back": f"/review/hits/{second.pk}/"})
    assert response["Location"] == f"/review/hits/{first.pk}/?order=age"
    assert Hit.objects.get(pk=first.pk).status == Hit.Status.NEW
    assert not toast(client.get(f"/review/hits/{second.pk}/").content.decode())  # nothing left to undo

    # Two decisions: the newest in the toast, the other in the recent list with its own button
    client.post(f"/review/hits/{first.pk}/decide/", {"kind": "reject"})
    client.post(f"/review/hits/{second.pk}/decide/", {"kind": "confirm"})
    offered = toast(client.get(f"/review/hits/{third.pk}/").content.decode())
    assert f'action="/review/hits/{second.pk}/undo/"' in offered.split("<details")[0]
    assert "Recent decisions" in offered and f'action="/review/hits/{first.pk}/undo/"' in offered.split("<details")[1]

    # The last decision leads to the queue, which offers the undo too (its keys j / k still move)
    client.post(f"/review/hits/{third.pk}/decide/", {"kind": "reject"})
    assert f'action="/review/hits/{third.pk}/undo/"' in toast(client.get("/review/").content.decode())


def test_a_decision_a_notice_names_is_no_longer_offered(clients, case, leak):
    hit, other = make_hit(case, 0.9), make_hit(case, 0.8)
    client = clients["on_case"]
    client.post(f"/review/hits/{hit.pk}/decide/", {"kind": "confirm"})
    assert f"/review/hits/{hit.pk}/undo/" in toast(client.get(f"/review/hits/{other.pk}/").content.decode())
    compose.prepare("user:hana", case, hit_ids=[hit.pk])
    assert not toast(client.get(f"/review/hits/{other.pk}/").content.decode())
    # a stale toast pressed anyway: refused in one line, back on the page she was on
    response = client.post(f"/review/hits/{hit.pk}/undo/", {"back": f"/review/hits/{other.pk}/"})
    assert response["Location"] == f"/review/hits/{other.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert f"Hit #{hit.pk} is named in a notice: cancel the notice first." in page
    assert Hit.objects.get(pk=hit.pk).status == Hit.Status.CONFIRMED


def test_only_her_own_decisions_are_offered_and_back_goes_nowhere_else(clients, case, personas):
    hit, other = make_hit(case, 0.9), make_hit(case, 0.8)
    clients["supervisor"].post(f"/review/hits/{hit.pk}/decide/", {"kind": "reject"})
    assert not toast(clients["on_case"].get(f"/review/hits/{other.pk}/").content.decode())
    supervisor_page = clients["supervisor"].get(f"/review/hits/{other.pk}/").content.decode()
    assert f"/review/hits/{hit.pk}/undo/" in toast(supervisor_page)
    response = clients["supervisor"].post(f"/review/hits/{hit.pk}/undo/", {"back": "https://elsewhere.example/"})
    assert response["Location"] == f"/review/hits/{hit.pk}/"
