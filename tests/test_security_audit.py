"""Issue 18, finding 3: an audit log wiped whole, or cut back to an older head, must not verify.

The attacker holds the database (here: raw SQL on it, triggers dropped) but not the master key, so not the
audit key: whatever MAC they put on the head is one they could compute without it.
"""

import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_audit import without_guards

from kesu.audit import tasks
from kesu.audit.models import AuditEntry, AuditHead
from kesu.audit.services import log_action, verify_chain
from kesu.vault import services as vault
from kesu.vault.models import DataKey

pytestmark = pytest.mark.django_db
KESU = str(Path(sys.executable).with_name("kesu"))

# MACs someone without the audit key can put on a head they reset
KEYLESS_MACS = {
    "left-as-it-was": None,
    "empty": "",
    "plain-sha256": hashlib.sha256(b"head|0|").hexdigest(),
    "hmac-empty-key": hmac.new(b"", b"head|0|", hashlib.sha256).hexdigest(),
}


def raw_sql(*statements) -> None:
    """What someone holding the database does: drop the append-only triggers, then write."""
    for sql, params in statements:
        without_guards(sql, *params)


def actions(count: int) -> None:
    for number in range(count):
        log_action("system:test", "test.action", n=number)


def head_row() -> tuple[int, str, str]:
    head = AuditHead.objects.get(pk=1)
    return head.seq, head.hash, head.mac


def cut_back_to(seq: int, head: tuple[int, str, str]) -> None:
    """Delete every entry after ``seq`` and set the head row to ``head``."""
    raw_sql(
        ("DELETE FROM audit_auditentry WHERE seq > %s", [seq]),
        ("UPDATE audit_audithead SET seq = %s, hash = %s, mac = %s WHERE id = 1", list(head)),
    )


def wipe(mac: str | None) -> None:
    """Every entry gone, the head back at 0 (its MAC one computed without the key, or left alone)."""
    statements = [("DELETE FROM audit_auditentry", [])]
    if mac is None:
        statements.append(("UPDATE audit_audithead SET seq = 0, hash = '' WHERE id = 1", []))
    else:
        statements.append(("UPDATE audit_audithead SET seq = 0, hash = '', mac = %s WHERE id = 1", [mac]))
    raw_sql(*statements)


@pytest.mark.parametrize("mac", KEYLESS_MACS.values(), ids=KEYLESS_MACS.keys())
def test_finding3_wiped_log_with_head_reset_to_zero_fails_verify(cli, mac):
    actions(4)
    assert cli("audit", "verify")[0] == 0
    wipe(mac)
    assert AuditEntry.objects.count() == 0
    code, out, err = cli("audit", "verify")
    assert code == 1 and "intact" not in out
    assert "kesu: audit: the log is empty: its genesis entry is missing" in err
    assert err.strip().splitlines()[-1] == "kesu: error: audit log is broken (1 problems)"


def test_finding3_first_action_writes_a_genesis_entry_anchored_outside_the_database(
    cli, audit_anchor_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry = log_action("system:test", "test.first")
    genesis = AuditEntry.objects.get(seq=1)
    assert (genesis.action, genesis.actor, entry.seq) == ("audit.genesis", "system:audit", 2)
    (line,) = audit_anchor_file.read_text().splitlines()
    assert json.loads(line)["seq"] == 1 and json.loads(line)["hash"] == genesis.hash
    code, out, _ = cli("audit", "verify")
    assert code == 0 and out.strip() == "audit log intact: 2 entries; 1 anchors hold"


def test_finding3_wipe_is_caught_by_the_anchor_file_even_after_kesu_writes_a_new_genesis(
    cli, audit_anchor_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions(5)
    assert tasks.verify_chain()  # the daily check anchors the head (entry 6)
    assert [json.loads(line)["seq"] for line in audit_anchor_file.read_text().splitlines()] == [1, 6]

    wipe(KEYLESS_MACS["plain-sha256"])
    log_action("system:test", "test.after")  # the desk keeps working on the wiped log: a new genesis, then this
    assert AuditEntry.objects.count() == 2
    code, _, err = cli("audit", "verify")
    assert code == 1
    assert "kesu: audit: entry 1 is not the entry anchor file line 1" in err
    assert "the log ends at entry 2 but anchor file line 2" in err and "anchored entry 6" in err


def test_finding3_cutting_the_tail_and_rewinding_the_head_fails_verify(cli):
    actions(3)
    older_copy = head_row()  # the head as a backup of the database holds it, with its valid MAC
    actions(4)
    assert tasks.verify_chain()  # the daily check anchored entry 8
    last = AuditEntry.objects.order_by("-seq").first()

    # Rewound with a MAC made without the key: the head check catches it.
    keyless = hashlib.sha256(f"head|{older_copy[0]}|{older_copy[1]}".encode()).hexdigest()
    cut_back_to(older_copy[0], (older_copy[0], older_copy[1], keyless))
    code, _, err = cli("audit", "verify")
    assert code == 1 and "kesu: audit: the chain head was altered" in err

    # Rewound to the older copy's head, MAC and all: only the anchor outside the database catches it.
    cut_back_to(older_copy[0], older_copy)
    report = verify_chain()
    assert report.problems == [
        f"the log ends at entry {older_copy[0]} but anchor file line 1 ({datetime.now(UTC).date()}) "
        f"anchored entry {last.seq}"
    ]
    assert cli("audit", "verify")[0] == 1
    assert not tasks.verify_chain()  # a broken log is never anchored


def test_finding3_deleted_audit_key_fails_verify_and_is_not_replaced(cli):
    actions(2)
    wipe(None)
    DataKey.objects.filter(pk=vault.AUDIT_KEY_ID).delete()
    code, _, err = cli("audit", "verify")
    assert code == 1 and "the vault holds no audit key" in err
    assert not DataKey.objects.filter(pk=vault.AUDIT_KEY_ID).exists()


def test_finding3_anchor_token_from_kesu_audit_anchor_is_checked(cli):
    actions(3)
    code, out, _ = cli("audit", "anchor")
    assert code == 0 and out.startswith("audit log anchored at entry 4: 4:")
    token = out.split()[-1]
    actions(2)
    code, out, _ = cli("audit", "verify", "--anchor", token)
    assert code == 0 and "2 anchors hold" in out  # the file's line and the token

    cut_back_to(3, (3, AuditEntry.objects.get(seq=3).hash, ""))
    code, _, err = cli("audit", "verify", "--anchor", token)
    assert code == 1 and f"anchor 4:{token[2:14]}… anchored entry 4" in err

    code, _, err = cli("audit", "verify", "--anchor", "4:nothex")
    assert code == 1 and err.count("\n") == 1 and "expected SEQ:MAC" in err


def _sealed_bundle(tmp_path) -> tuple[dict, Path]:
    from kesu.capture.record import Capture
    from kesu.evidence import bundle, services

    capture = Capture(url="http://x.test/", started_at=datetime.now(UTC), dom="<html></html>")
    files, _ = services.seal_capture(
        capture, bundle_id="b-1", case=None, reason="test", collector="test", withhold_media=False
    )
    bundle.to_directory(files, tmp_path / "bundle")
    return json.loads(files[bundle.MANIFEST]), tmp_path / "bundle"


def test_finding3_bundle_manifest_carries_the_head_anchor_and_verify_checks_it(cli, tmp_path):
    actions(3)
    older_copy = head_row()
    actions(2)
    manifest, path = _sealed_bundle(tmp_path)
    seq, hash_, _ = head_row()
    assert manifest["audit"]["seq"] == seq == 6 and manifest["audit"]["hash"] == hash_
    assert manifest["audit"]["mac"] != head_row()[2]  # not the head's MAC: it cannot be put back as the head

    code, out, _ = cli("audit", "verify", "--bundle", str(path))
    assert code == 0 and "1 anchors hold" in out

    cut_back_to(older_copy[0], older_copy)
    assert verify_chain().ok  # nothing inside the database shows the cut...
    code, _, err = cli("audit", "verify", "--bundle", str(path))
    assert code == 1 and "the log ends at entry 4 but bundle b-1 anchored entry 6" in err  # ...the bundle does

    manifest_file = path / "manifest.json"
    manifest_file.write_text(manifest_file.read_text().replace('"seq": 6', '"seq": 2'))
    code, _, err = cli("audit", "verify", "--bundle", str(path))
    assert code == 1 and err.count("\n") == 1 and "not signed by this installation's key" in err


def test_finding3_wiping_a_real_sqlite_file_is_detected(tmp_path):
    """The whole attack as it happens: a data directory made by ``kesu``, its database file opened with
    sqlite3, the triggers dropped, every entry deleted, the head reset to 0."""
    env = {**os.environ, "KESU_DATA_DIR": str(tmp_path / "data")}
    env.pop("KESU_DATABASE_URL", None)
    env.pop("KESU_AUDIT_ANCHOR_FILE", None)

    def kesu(*args):
        return subprocess.run([KESU, *args], capture_output=True, text=True, env=env, timeout=120)

    assert kesu("case", "create", "--type", "ncii").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "kesu.sqlite3") as db:
        assert db.execute("SELECT action FROM audit_auditentry WHERE seq = 1").fetchone() == ("audit.genesis",)
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DELETE FROM audit_auditentry")
        db.execute("UPDATE audit_audithead SET seq = 0, hash = '', mac = ?", [KEYLESS_MACS["plain-sha256"]])
    verified = kesu("audit", "verify")
    assert verified.returncode == 1 and "Traceback" not in verified.stderr
    assert "kesu: audit: the log is empty: its genesis entry is missing" in verified.stderr
    assert "kesu: audit: the log ends at entry 0 but anchor file line 1" in verified.stderr

    (tmp_path / "data" / "audit-anchors.jsonl").unlink()  # with the data directory too: still no empty log passes
    verified = kesu("audit", "verify")
    assert verified.returncode == 1 and "the log is empty" in verified.stderr
