"""The vault: no plaintext anywhere, crypto-shredding, master key rotation."""

import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from kesu.accounts.principals import SystemPrincipal
from kesu.cases import references, services
from kesu.vault import crypto, keyring
from kesu.vault import services as vault
from kesu.vault.models import DataKey, VaultBlob

pytestmark = pytest.mark.django_db
OPERATOR = SystemPrincipal("test")


def windows(data: bytes, count: int = 24, size: int = 48) -> list[bytes]:
    """Byte windows spread over a file: any one found on disk means plaintext leaked."""
    step = max(1, (len(data) - size) // count)
    return [data[i : i + size] for i in range(0, len(data) - size, step)][:count]


def database_dump() -> bytes:
    """Every row of every table as the database stores it."""
    if connection.vendor == "sqlite":
        # The test database may live in memory: dump it through SQLite itself.
        return "\n".join(connection.connection.iterdump()).encode()
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT t::text FROM "{table}" t')
            chunks += [row[0].encode() for row in cursor.fetchall()]
    return b"\n".join(chunks)


@pytest.fixture(autouse=True)
def began() -> float:
    """When the test began (autouse fixtures come before the case it makes), with a margin for mtime rounding."""
    return time.time() - 2


def files_under(*roots: Path, since: float) -> bytes:
    """Everything written under roots since the test began: only those files can hold what this test stored
    (the data directory of a whole run holds every earlier test's files, hundreds of megabytes). A file
    appended to, such as a log, counts as written."""
    return b"\n".join(_written(Path(folder) / name, since) for root in roots for folder, _, names in os.walk(root)
                       for name in names)  # fmt: skip


def _written(path: Path, since: float) -> bytes:
    """The file's bytes if written since ``since``. Other test processes create and delete files under /tmp
    while we walk it (os.walk passes over a folder that is gone): one gone already wrote nothing of ours."""
    try:
        return path.read_bytes() if path.is_file() and path.stat().st_mtime >= since else b""
    except OSError:
        return b""


def sensitive_strings(details) -> list[bytes]:
    values = [details.name, *details.contact.values(), "hanako_private_1.png", "forum post from her ex"]
    return [v.encode() for v in values]


def test_no_plaintext_of_media_or_contact_data_anywhere(began, case, victim_details, astronaut_png, hopper_jpg):
    from kesu.matching.media import blurred_preview, open_image

    stored = files_under(settings.DATA_DIR, since=began)
    dump = database_dump()
    dump_lower = dump.lower()
    assert stored and dump
    for needle in sensitive_strings(victim_details):
        assert needle not in stored and needle not in dump, needle
        assert needle.hex().encode() not in dump  # nor hex-escaped in a BLOB dump
    for medium in (astronaut_png, hopper_jpg, blurred_preview(open_image(astronaut_png))):
        for window in windows(medium):
            assert window not in stored
            assert window.hex().encode() not in dump_lower
    # and it all still opens, through the vault
    item = case.references.get(kind="image")
    assert vault.read_blob(item.blob) == astronaut_png
    assert services.victim_details(OPERATOR, case).contact["email"] == victim_details.contact["email"]


def test_web_upload_leaves_no_plaintext_temp_file(began, case, clients):
    """Large uploads must not spill to /tmp (Django's default does)."""
    import tempfile

    import numpy as np
    from conftest import png_bytes

    big = png_bytes(np.random.default_rng(7).integers(0, 255, (1400, 1400, 3), dtype=np.uint8))
    assert len(big) > 3 * 1024 * 1024
    response = clients["on_case"].post(
        f"/cases/{case.pk}/references/", {"files": [_upload("big.png", big)]}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200 and response.json()["results"][0]["id"]
    in_temp = files_under(Path(tempfile.gettempdir()), since=began)  # the data directory may be under it
    assert not any(w in in_temp for w in windows(big))
    stored = files_under(settings.DATA_DIR, since=began)
    assert stored and not any(w in stored for w in windows(big))


def _upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_after_deletion_nothing_of_the_case_can_be_decrypted(case, personas, django_capture_on_commit_callbacks):
    # A thief (or a backup) keeps every ciphertext and the master key...
    image = case.references.get(kind="image")
    blob_path = settings.KESU_VAULT_DIR / str(case.data_key_id) / image.blob.id.hex
    backup = {
        "blob": blob_path.read_bytes(),
        "blob_id": image.blob.id,
        "label": bytes(image.label_sealed),
        "name": bytes(case.victim.name_sealed),
        "contact": bytes(case.victim.contact_sealed),
        "note": bytes(case.contacts.first().note_sealed),
    }
    key_ids = {case.data_key_id, case.victim.data_key_id}
    aads = {
        "label": f"{case.data_key_id}:reference.label",
        "name": f"{case.victim.data_key_id}:victim.name",
        "contact": f"{case.victim.data_key_id}:victim.contact",
        "note": f"{case.data_key_id}:contact.note",
    }
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_case(personas["supervisor"], case)

    assert not DataKey.objects.filter(pk__in=key_ids).exists()
    assert not blob_path.exists()
    # ...and tries every data key that survives, under the master key it holds.
    for data_key in DataKey.objects.all():
        key = vault.unwrap(data_key)
        for field, aad in aads.items():
            with pytest.raises(crypto.VaultIntegrityError):
                crypto.unseal(key, backup[field], aad.encode())
        stream = backup["blob"]
        tmp = settings.DATA_DIR / "stolen.bin"
        tmp.write_bytes(stream)
        with open(tmp, "rb") as handle, pytest.raises(crypto.VaultIntegrityError):
            b"".join(crypto.open_stream(key, backup["blob_id"].bytes, handle, len(stream)))
        tmp.unlink()
    assert not VaultBlob.objects.filter(pk=backup["blob_id"]).exists()


def test_deleting_last_case_deletes_victim_but_not_shared_victim(personas, victim_details):
    first = services.create_case(OPERATOR, "ncii", details=victim_details)
    second = services.create_case(OPERATOR, "deepfake", victim=first.victim)
    services.delete_case(OPERATOR, first)
    second.refresh_from_db()
    assert services.victim_details(OPERATOR, second).name == victim_details.name
    services.delete_case(OPERATOR, second)
    assert not services.Victim.objects.filter(pk=second.victim_id).exists()


def test_stream_detects_every_kind_of_tampering(tmp_path):
    key, stream_id = crypto.new_key(), os.urandom(16)
    data = os.urandom(crypto.CHUNK_BYTES * 2 + 1000)
    sealed = b"".join(crypto.seal_stream(key, stream_id, [data[:5000], data[5000:]]))
    path = tmp_path / "s"

    def opens(payload: bytes) -> bytes:
        path.write_bytes(payload)
        with open(path, "rb") as handle:
            return b"".join(crypto.open_stream(key, stream_id, handle, len(payload)))

    assert opens(sealed) == data
    flipped = bytearray(sealed)
    flipped[len(sealed) // 2] ^= 1
    first_chunk_end = 4 + 4 + 12 + crypto.CHUNK_BYTES + 16
    for bad in (bytes(flipped), sealed[:first_chunk_end], sealed[:-1], sealed + b"x"):
        with pytest.raises(crypto.VaultIntegrityError):
            opens(bad)


def test_master_key_rotation_rewraps_without_touching_media(case, astronaut_png):
    image = case.references.get(kind="image")
    blob_path = settings.KESU_VAULT_DIR / str(case.data_key_id) / image.blob.id.hex
    media_before = blob_path.read_bytes()
    old_kid = keyring.current()[0]

    new_kid, count = vault.rotate_master_key()

    assert new_kid != old_kid and count == DataKey.objects.count()
    assert set(DataKey.objects.values_list("kid", flat=True)) == {new_kid}
    assert blob_path.read_bytes() == media_before  # media not re-encrypted
    assert vault.read_blob(image.blob) == astronaut_png
    assert keyring.current()[0] == new_kid and old_kid not in keyring.keyring()
    assert not keyring.next_key_path().exists()
    assert base_key_file_holds(new_kid)


def base_key_file_holds(kid: str) -> bool:
    return keyring.key_id(keyring._read_key_file(settings.KESU_MASTER_KEY_FILE)) == kid


def test_csam_case_keeps_only_signals(began, personas, astronaut_png):
    case = services.create_case(OPERATOR, "csam")
    item = references.add_file(OPERATOR, case, "x.png", astronaut_png)
    assert item.blob is None and item.preview is None
    assert not VaultBlob.objects.filter(data_key=case.data_key).exists()
    kinds = set(item.signals.values_list("kind", flat=True))
    assert {"sha256", "md5", "pdq"} <= kinds
    stored = files_under(settings.KESU_VAULT_DIR, since=began)
    assert not any(window in stored for window in windows(astronaut_png))
