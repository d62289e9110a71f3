"""The data directory: created on first use, private to the service user."""

import os
import secrets
from pathlib import Path


def ensure_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable only by its owner, atomically (no half-written key)."""
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def secret_in_file(path: Path, nbytes: int = 50) -> str:
    """Read a generated secret, creating it the first time."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(nbytes).encode())
    return path.read_text().strip()
