"""The vault: every sensitive byte Kesu keeps passes through here.

Values (names, contact data, notes) are sealed into database fields; media
are sealed into chunked files. Each belongs to a data key; the data key is
wrapped by the master key. Nothing is written in plaintext, not even a
temporary file.
"""

import functools
import hashlib
import hmac
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ..lib.datadir import ensure_dir, write_private
from . import crypto, keyring
from .crypto import VaultIntegrityError  # noqa: F401  (re-exported for callers)
from .models import DataKey, VaultBlob

AUDIT_KEY_ID = uuid.UUID(int=1)
SIGNING_KEY_ID = uuid.UUID(int=2)
MAILBOX_KEY_ID = uuid.UUID(int=3)
PATROL_KEY_ID = uuid.UUID(int=4)


def _wrap_aad(key_id: uuid.UUID) -> bytes:
    return f"kesu-data-key:{key_id}".encode()


def new_data_key(purpose: str) -> DataKey:
    kid, master = keyring.current()
    key_id = uuid.uuid4()
    wrapped = crypto.seal(master, crypto.new_key(), _wrap_aad(key_id))
    return DataKey.objects.create(id=key_id, purpose=purpose, kid=kid, wrapped=wrapped)


def _installation_data_key(key_id: uuid.UUID, purpose: str) -> DataKey:
    data_key = DataKey.objects.filter(pk=key_id).first()
    if data_key is None:
        kid, master = keyring.current()
        wrapped = crypto.seal(master, crypto.new_key(), _wrap_aad(key_id))
        data_key, _ = DataKey.objects.get_or_create(
            pk=key_id, defaults={"purpose": purpose, "kid": kid, "wrapped": wrapped}
        )
    return data_key


def _installation_key(key_id: uuid.UUID, purpose: str) -> bytes:
    return unwrap(_installation_data_key(key_id, purpose))


def audit_key() -> bytes:
    """The key that MACs the audit chain; one per installation."""
    return _installation_key(AUDIT_KEY_ID, DataKey.Purpose.AUDIT)


def signing_key() -> bytes:
    """The 32-byte Ed25519 seed that signs evidence bundles; one per installation, wrapped like any data key."""
    return _installation_key(SIGNING_KEY_ID, DataKey.Purpose.SIGNING)


def mailbox_key() -> DataKey:
    """Seals mail that belongs to no case (replies Kesu could not thread, messages to staff)."""
    return _installation_data_key(MAILBOX_KEY_ID, "mailbox")


def patrol_key() -> DataKey:
    """Seals what the patrol holds before it knows whose it is: page URLs (search URLs carry a case's
    keywords) and downloaded media waiting to be matched."""
    return _installation_data_key(PATROL_KEY_ID, "patrol")


def blind_index(value: str) -> str:
    """A keyed hash of value (a URL): rows can be found and compared by it without keeping the value."""
    key = _blind_key(unwrap(patrol_key()))
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=4)
def _blind_key(patrol: bytes) -> bytes:
    return hmac.new(patrol, b"kesu-blind-index", hashlib.sha256).digest()


def unwrap(data_key: DataKey) -> bytes:
    return crypto.unseal(keyring.get(data_key.kid), bytes(data_key.wrapped), _wrap_aad(data_key.id))


def _field_aad(data_key: DataKey, field: str) -> bytes:
    return f"{data_key.id}:{field}".encode()


def seal_bytes(data_key: DataKey, value: bytes, field: str) -> bytes:
    return crypto.seal(unwrap(data_key), value, _field_aad(data_key, field))


def open_bytes(data_key: DataKey, token: bytes, field: str) -> bytes:
    return crypto.unseal(unwrap(data_key), bytes(token), _field_aad(data_key, field))


def seal_text(data_key: DataKey, value: str, field: str) -> bytes:
    return seal_bytes(data_key, value.encode(), field)


def open_text(data_key: DataKey, token: bytes | None, field: str) -> str:
    return open_bytes(data_key, token, field).decode() if token else ""


def seal_json(data_key: DataKey, value, field: str) -> bytes:
    return seal_bytes(data_key, json.dumps(value, ensure_ascii=False).encode(), field)


def open_json(data_key: DataKey, token: bytes | None, field: str, default=None):
    return json.loads(open_bytes(data_key, token, field)) if token else default


# --- media ----------------------------------------------------------------------


def _blob_path(blob: VaultBlob) -> Path:
    return settings.KESU_VAULT_DIR / str(blob.data_key_id) / blob.id.hex


def store_blob(data_key: DataKey, pieces: Iterable[bytes] | bytes) -> VaultBlob:
    """Seal media into a new blob; the file holds only ciphertext."""
    if isinstance(pieces, bytes | bytearray | memoryview):
        pieces = [bytes(pieces)]
    blob = VaultBlob(data_key=data_key, size=0)
    path = _blob_path(blob)
    ensure_dir(path.parent)
    size = 0

    def counted():
        nonlocal size
        for piece in pieces:
            size += len(piece)
            yield piece

    tmp = path.with_suffix(".partial")
    with open(tmp, "wb") as handle:
        for chunk in crypto.seal_stream(unwrap(data_key), blob.id.bytes, counted()):
            handle.write(chunk)
    os.replace(tmp, path)
    blob.size = size
    blob.save()
    return blob


def iter_blob(blob: VaultBlob) -> Iterator[bytes]:
    path = _blob_path(blob)
    key = unwrap(blob.data_key)
    with open(path, "rb") as handle:
        yield from crypto.open_stream(key, blob.id.bytes, handle, path.stat().st_size)


def read_blob(blob: VaultBlob) -> bytes:
    return b"".join(iter_blob(blob))


def delete_blob(blob: VaultBlob) -> None:
    path = _blob_path(blob)
    blob.delete()
    transaction.on_commit(lambda: path.unlink(missing_ok=True))


def shred(data_key: DataKey) -> None:
    """Destroy a data key and the files it sealed (crypto-shredding).

    Once the row is gone nothing it sealed can be opened, wherever copies of
    the ciphertext survive (backups, replicas). The files are removed too,
    after the transaction commits, so a rollback does not lose media.
    """
    directory = settings.KESU_VAULT_DIR / str(data_key.pk)
    data_key.delete()
    transaction.on_commit(lambda: shutil.rmtree(directory, ignore_errors=True))


# --- master key rotation -------------------------------------------------------------


def rotate_master_key(new_key: bytes | None = None) -> tuple[str, int]:
    """Re-wrap every data key under a new master key; media stay as they are.

    Returns the new key id and how many data keys were re-wrapped.
    """
    if settings.KESU_MASTER_KEY:
        raise keyring.MasterKeyError(
            "the master key comes from KESU_MASTER_KEY: use a key file (KESU_MASTER_KEY_FILE) to rotate"
        )
    new_key = new_key or crypto.new_key()
    new_kid = keyring.key_id(new_key)
    write_private(keyring.next_key_path(), keyring.encode_key(new_key))
    keyring.reload()
    count = 0
    with transaction.atomic():
        for data_key in DataKey.objects.select_for_update().exclude(kid=new_kid):
            plain = unwrap(data_key)
            data_key.wrapped = crypto.seal(new_key, plain, _wrap_aad(data_key.id))
            data_key.kid = new_kid
            data_key.save(update_fields=["wrapped", "kid"])
            count += 1
    os.replace(keyring.next_key_path(), settings.KESU_MASTER_KEY_FILE)
    keyring.reload()
    return new_kid, count
