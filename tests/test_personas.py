"""Every page and CLI command that touches a case, tried by four personas:
staff on the case, staff not on the case, supervisor, admin. The outsider
gets 404 everywhere and learns nothing."""

import pytest
from django.urls import reverse

from kesu.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def case_urls(case):
    ref = case.references.get(kind="image")
    args = {"case_id": case.pk}
    with_ref = {"case_id": case.pk, "ref_id": ref.pk}
    return [
        ("get", reverse("cases:detail", kwargs=args), {}),
        ("get", reverse("cases:edit", kwargs=args), {}),
        ("post", reverse("cases:victim", kwargs=args), {}),
        ("post", reverse("cases:contact_add", kwargs=args), {"direction": "out", "channel": "phone", "note": "x"}),
        ("post", reverse("cases:reference_text", kwargs=args), {"kind": "keyword", "text": "title"}),
        ("post", reverse("cases:reference_upload", kwargs=args), {}),
        ("get", reverse("cases:preview", kwargs=with_ref), {}),
        ("get", reverse("cases:media", kwargs=with_ref), {}),
        ("post", reverse("cases:continuation", kwargs=args), {"answer": "continue"}),
    ]


@pytest.mark.parametrize("index", range(9))
def test_outsider_gets_404_everywhere(case, clients, index):
    method, url, data = case_urls(case)[index]
    response = getattr(clients["outsider"], method)(url, data)
    assert response.status_code == 404
    assert b"Yamada" not in response.content and case.victim.code.encode() not in response.content


@pytest.mark.parametrize("persona", ["on_case", "supervisor", "admin"])
@pytest.mark.parametrize("index", range(9))
def test_members_reach_every_case_page(case, clients, persona, index):
    method, url, data = case_urls(case)[index]
    response = getattr(clients[persona], method)(url, data)
    assert response.status_code in (200, 302)


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
