"""Master keys: one in force, read from KESU_MASTER_KEY or a key file.

During a rotation the next key sits beside the current file as
``<file>.next`` until every data key is re-wrapped, so a crash at any point
leaves a key that opens each data key.
"""

import base64
import hashlib
import sys
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from ..lib.datadir import write_private
from . import crypto


class MasterKeyError(Exception):
    pass


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"kesu-master-key-id" + key).hexdigest()[:16]


def encode_key(key: bytes) -> bytes:
    return base64.b64encode(key) + b"\n"


def _read_key_file(path: Path) -> bytes:
    try:
        key = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise MasterKeyError(f"master key file {path} cannot be read: {exc}") from None
    if len(key) != crypto.KEY_BYTES:
        raise MasterKeyError(f"master key file {path} does not hold a 32-byte key")
    return key


def next_key_path() -> Path:
    path = settings.KESU_MASTER_KEY_FILE
    return path.with_name(path.name + ".next")


@lru_cache(maxsize=1)
def keyring() -> dict[str, bytes]:
    """All master keys that may be in use, by id; the current one first."""
    keys: list[bytes] = []
    if settings.KESU_MASTER_KEY:
        keys.append(settings.KESU_MASTER_KEY)
    else:
        path = settings.KESU_MASTER_KEY_FILE
        if not path.exists():
            write_private(path, encode_key(crypto.new_key()))
            print(
                f"kesu: created master key {path}; production keeps the master key "
                "outside the data directory (KESU_MASTER_KEY_FILE)",
                file=sys.stderr,
            )
        keys.append(_read_key_file(path))
    if next_key_path().exists():
        keys.append(_read_key_file(next_key_path()))
    return {key_id(key): key for key in keys}


def current() -> tuple[str, bytes]:
    return next(iter(keyring().items()))


def get(kid: str) -> bytes:
    try:
        return keyring()[kid]
    except KeyError:
        raise MasterKeyError(f"master key {kid} is not available") from None


def reload() -> None:
    keyring.cache_clear()
