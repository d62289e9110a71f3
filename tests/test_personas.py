"""Every page and CLI command that touches a case, tried by four personas:
staff on the case, staff not on the case, supervisor, admin. The outsider
gets 404 everywhere and learns nothing."""

import pytest
from django.urls import reverse

from kesu.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


# (method, route name, needs a reference, form data): every page and action of one case.
CASE_PAGES = [
    ("get", "cases:detail", False, {}),
    ("get", "cases:edit", False, {}),
    ("post", "cases:victim", False, {}),
    ("post", "cases:contact_add", False, {"direction": "out", "channel": "phone", "note": "x"}),
    ("post", "cases:reference_text", False, {"kind": "keyword", "text": "title"}),
    ("post", "cases:reference_upload", False, {}),
    ("get", "cases:preview", True, {}),
    ("get", "cases:media", True, {}),
    ("post", "cases:continuation", False, {"answer": "continue"}),
]
PAGE_IDS = [f"{method} {name}" for method, name, _, _ in CASE_PAGES]


def request(client, case, page):
    method, name, with_ref, data = page
    kwargs = {"case_id": case.pk} | ({"ref_id": case.references.get(kind="image").pk} if with_ref else {})
    return getattr(client, method)(reverse(name, kwargs=kwargs), data)


@pytest.mark.parametrize("page", CASE_PAGES, ids=PAGE_IDS)
def test_outsider_gets_404_everywhere(case, clients, page):
    response = request(clients["outsider"], case, page)
    assert response.status_code == 404
    assert b"Yamada" not in response.content and case.victim.code.encode() not in response.content


@pytest.mark.parametrize("persona", ["on_case", "supervisor", "admin"])
@pytest.mark.parametrize("page", CASE_PAGES, ids=PAGE_IDS)
def test_members_reach_every_case_page(case, clients, persona, page):
    assert request(clients[persona], case, page).status_code in (200, 302)


@pytest.mark.parametrize("persona,status", [("on_case", 404), ("outsider", 404), ("supervisor", 200), ("admin", 200)])
def test_only_supervisors_open_case_deletion(case, clients, persona, status):
    assert clients[persona].get(reverse("cases:delete", args=[case.pk])).status_code == status


def test_outsider_cannot_delete_or_remove_reference(case, clients):
    ref = case.references.first()
    assert clients["outsider"].post(reverse("cases:delete", args=[case.pk]), {"confirm": case.pk}).status_code == 404
    assert clients["outsider"].post(reverse("cases:reference_delete", args=[case.pk, ref.pk])).status_code == 404
    assert case.references.filter(pk=ref.pk).exists()


def test_case_list_shows_only_own_cases(case, clients):
    assert case.victim.code in clients["on_case"].get("/").content.decode()
    assert case.victim.code not in clients["outsider"].get("/").content.decode()
    assert case.victim.code in clients["supervisor"].get("/").content.decode()
    detail = reverse("cases:detail", args=[case.pk])
    assert detail not in clients["outsider"].get("/", {"q": case.victim.code}).content.decode()
    assert detail in clients["on_case"].get("/", {"q": case.victim.code}).content.decode()


def test_anonymous_is_sent_to_login(case):
    from django.test import Client

    response = Client().get(reverse("cases:detail", args=[case.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


CLI_COMMANDS = [
    ("case", "show", "{id}"),
    ("case", "show", "{id}", "--personal"),
    ("case", "status", "{id}", "active"),
    ("case", "consent", "{id}", "search"),
    ("case", "contact", "{id}", "--direction", "in", "--channel", "phone"),
    ("case", "continuation", "{id}", "continue"),
    ("case", "export", "{id}"),
    ("case", "delete", "{id}", "--yes"),
    ("case", "assign", "{id}", "kenji"),
    ("reference", "add", "--case", "{id}", "--keyword", "title"),
    ("reference", "list", "--case", "{id}"),
    ("audit", "tail", "--case", "{id}"),
]


@pytest.mark.parametrize("command", CLI_COMMANDS, ids=lambda c: " ".join(c[:2]) + " " + c[-1])
def test_cli_outsider_is_refused(case, cli, command):
    before = AuditEntry.objects.count()
    code, out, err = cli("--as", "kenji", *[part.format(id=case.pk) for part in command])
    assert code == 1
    assert err.startswith("kesu: error:") and err.count("\n") == 1
    assert "Traceback" not in err and "Yamada" not in out + err
    assert AuditEntry.objects.count() == before
    case.refresh_from_db()
    assert case.status == "intake"


READ_ONLY_CLI = [c for c in CLI_COMMANDS if c[1] in ("show", "export", "list", "tail")]


@pytest.mark.parametrize("persona", ["hana", "sato", "root"])
@pytest.mark.parametrize("command", READ_ONLY_CLI, ids=lambda c: " ".join(c))
def test_cli_members_can_read(case, cli, persona, command):
    code, out, err = cli("--as", persona, *[part.format(id=case.pk) for part in command])
    assert code == 0, err


def test_cli_staff_on_case_can_change_it_but_not_delete(case, cli):
    assert cli("--as", "hana", "case", "status", str(case.pk), "active")[0] == 0
    code, _, err = cli("--as", "hana", "case", "delete", str(case.pk), "--yes")
    assert code == 1 and "supervisor" in err
    assert cli("--as", "sato", "case", "delete", str(case.pk), "--yes")[0] == 0


def test_cli_case_list_per_persona(case, cli):
    assert case.victim.code in cli("--as", "hana", "case", "list")[1]
    assert case.victim.code not in cli("--as", "kenji", "case", "list")[1]
    assert case.victim.code in cli("--as", "sato", "case", "list")[1]
