"""The audit log is append-only and any edit, removal or cut is detected."""

import pytest
from django.db import connection

from kesu.audit.models import AuditEntry
from kesu.audit.services import verify_chain

pytestmark = pytest.mark.django_db


def without_guards(sql: str, *params) -> None:
    """What an attacker with database access does: drop the triggers, then write."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_change ON audit_auditentry")
        cursor.execute(sql, params)


def test_every_change_and_view_is_logged(case, clients):
    actions = set(AuditEntry.objects.filter(case_id=case.pk).values_list("action", flat=True))
    assert {"case.create", "case.consent", "case.assign", "reference.create", "contact.create"} <= actions
    ref = case.references.get(kind="image")
    clients["on_case"].get(f"/cases/{case.pk}/references/{ref.pk}/media/")
    clients["on_case"].post(f"/cases/{case.pk}/victim/")
    views = AuditEntry.objects.filter(case_id=case.pk, actor="user:hana").values_list("action", flat=True)
    assert {"media.view", "victim.view"} <= set(views)


def test_entries_hold_no_personal_data(case, victim_details):
    text = str(list(AuditEntry.objects.values()))
    assert victim_details.name not in text and victim_details.contact["email"] not in text
    assert "hanako_private" not in text


def test_intact_chain_verifies(case, cli):
    assert verify_chain().ok
    code, out, _ = cli("audit", "verify")
    assert code == 0 and "intact" in out


def test_orm_cannot_update_or_delete_entries(case):
    from django.db import DatabaseError, transaction

    entry = AuditEntry.objects.first()
    for attempt in (lambda: AuditEntry.objects.filter(pk=entry.pk).update(action="x"), entry.delete):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()


@pytest.mark.parametrize(
    "tamper",
    [
        ("UPDATE audit_auditentry SET action = 'case.view' WHERE seq = %s", "altered"),
        ("UPDATE audit_auditentry SET detail = '{}' WHERE seq = %s", "altered"),
        ("UPDATE audit_auditentry SET actor = 'user:nobody' WHERE seq = %s", "altered"),
        ("DELETE FROM audit_auditentry WHERE seq = %s", "missing"),
    ],
    ids=["action", "detail", "actor", "delete"],
)
def test_verify_fails_after_a_row_is_edited_or_removed(case, cli, tamper):
    sql, expected = tamper
    middle = AuditEntry.objects.order_by("seq")[AuditEntry.objects.count() // 2].seq
    without_guards(sql, middle)
    report = verify_chain()
    assert not report.ok and any(expected in p for p in report.problems)
    code, _, err = cli("audit", "verify")
    assert code == 1 and "broken" in err


def test_verify_fails_when_the_last_entry_is_removed(case, cli):
    last = AuditEntry.objects.order_by("-seq").first().seq
    without_guards("DELETE FROM audit_auditentry WHERE seq = %s", last)
    report = verify_chain()
    assert not report.ok and "head records" in report.problems[-1]
    assert cli("audit", "verify")[0] == 1


def test_verify_fails_when_a_row_is_rewritten_with_a_recomputed_plain_hash(case):
    """Without the vault's audit key a forger cannot make a matching hash."""
    import hashlib

    entry = AuditEntry.objects.order_by("seq").last()
    forged = hashlib.sha256(b"forged").hexdigest()
    without_guards("UPDATE audit_auditentry SET action = 'x', hash = %s WHERE seq = %s", forged, entry.seq)
    assert not verify_chain().ok
