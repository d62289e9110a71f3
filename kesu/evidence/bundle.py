"""An evidence bundle: the files of one capture, a manifest of their hashes, signed.

A bundle is a flat set of named files (kept as a dict of bytes, so nothing
touches the disk until someone exports it):

    capture.warc.gz   every request and response (WARC/1.1), bodies as received
    capture.wacz      the same WARC packaged for replay (WACZ 1.1.1)
    screenshot.png    the full page as the browser showed it
    page.mhtml        the page with its resources in one file
    dom.html          the main frame's DOM after scripts ran
    frame-NN.html     each frame's DOM
    media/NN-*.ext    videos joined from HLS/DASH segments (the segments are in the WARC)
    summary.html      a readable account for a lawyer
    manifest.json     what was captured, when, from where, by whom, and the SHA-256 of every file above
    manifest.sig      Ed25519 signature of manifest.json by the installation's key
    signer.pem        that public key
    manifest.tsr      RFC 3161 timestamp token over SHA-256(manifest.json), when an authority is configured
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from itertools import islice
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..lib import archives
from ..lib.errors import UserError

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNER = "signer.pem"
TIMESTAMP = "manifest.tsr"
SEALS = (SIGNATURE, SIGNER, TIMESTAMP)  # files that vouch for the manifest rather than being listed in it
FORMAT = "kesu-evidence-bundle/1"
MAX_BUNDLE_FILES = 10_000
MAX_RATIO = 200  # unpacked / packed per ZIP member; a bundle's files are media, gzip and HTML (under 20:1)


class BundleError(UserError):
    """A bundle that cannot be read at all (not a directory or zip, no manifest, over the size limits)."""


def limits() -> archives.ZipLimits:
    """What a bundle, or the WACZ in it, may unpack to. One file up to KESU_EVIDENCE_MAX_MB; the WARC is
    there twice (as it is and inside the WACZ) beside joined media, so all files together three times that."""
    from django.conf import settings

    member = settings.KESU_EVIDENCE_MAX_MB << 20
    return archives.ZipLimits(MAX_BUNDLE_FILES, member, 3 * member, MAX_RATIO, setting="KESU_EVIDENCE_MAX_MB")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_table(files: dict[str, bytes]) -> dict[str, dict]:
    return {name: {"sha256": sha256(data), "size": len(data)} for name, data in sorted(files.items())}


def canonical(manifest: dict) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def public_pem(seed: bytes) -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def fingerprint(pem: bytes) -> str:
    """SHA-256 of the raw public key, as shown to people comparing keys."""
    key = serialization.load_pem_public_key(pem)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256(raw)


def seal(files: dict[str, bytes], manifest: dict, seed: bytes, timestamp=None) -> dict[str, bytes]:
    """Add the manifest (with every file's hash), its signature and, if given, its timestamp.

    ``timestamp`` is a callable taking the manifest's SHA-256 digest and
    returning a token (or raising); its failure is recorded, not fatal.
    """
    manifest = {**manifest, "format": FORMAT, "integrity": {"algorithm": "sha256", "files": file_table(files)}}
    body = canonical(manifest)
    sealed = dict(files)
    sealed[MANIFEST] = body
    sealed[SIGNATURE] = Ed25519PrivateKey.from_private_bytes(seed).sign(body)
    sealed[SIGNER] = public_pem(seed)
    if timestamp is not None:
        sealed[TIMESTAMP] = timestamp(hashlib.sha256(body).digest())
    return sealed


def signature_valid(files: dict[str, bytes]) -> bool:
    try:
        key = serialization.load_pem_public_key(files[SIGNER])
        if not isinstance(key, Ed25519PublicKey):
            return False
        pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if pem != files[SIGNER]:
            return False  # the PEM reader forgives stray bytes; a bundle's key file must be exact
        key.verify(files[SIGNATURE], files[MANIFEST])
        return True
    except Exception:  # any malformed part is simply "not valid"
        return False


def to_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def from_zip(data: bytes) -> dict[str, bytes]:
    bounds = limits()
    try:
        with archives.open_zip(data, bounds) as archive:
            names = [info.filename for info in archive.infolist()]
            if len(set(names)) != len(names):
                # Tools disagree on which copy of a name they show: such an archive is not a bundle.
                raise BundleError("the archive holds two files of the same name")
            infos = [info for info in archive.infolist() if not info.is_dir()]
            return {info.filename: archives.read_member(archive, info, bounds.member) for info in infos}
    except archives.ArchiveRefused as refusal:
        raise BundleError(f"the bundle archive: {refusal}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as error:
        raise BundleError(f"not a readable bundle archive ({error})") from None


def to_directory(files: dict[str, bytes], directory: Path) -> None:
    """Plain files for whoever exports them: readable by the operator only."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)


def from_path(path: Path) -> dict[str, bytes]:
    """A bundle exported as a directory, or as a .zip of one."""
    if path.is_file():
        if path.stat().st_size > limits().total:
            raise BundleError(f"{path.name}: {path.stat().st_size:,} bytes, more than any bundle holds")
        return from_zip(path.read_bytes())
    if not path.is_dir():
        raise BundleError(f"{path}: no such bundle (a directory or a .zip)")
    items = list(islice((item for item in path.rglob("*") if item.is_file()), MAX_BUNDLE_FILES + 1))
    if len(items) > MAX_BUNDLE_FILES:
        raise BundleError("too many files for an evidence bundle")
    items.sort()
    _check_sizes(path, items)
    files = {item.relative_to(path).as_posix(): item.read_bytes() for item in items}
    if MANIFEST not in files:
        raise BundleError(f"{path}: no {MANIFEST}, so not an evidence bundle")
    return files


def _check_sizes(path: Path, items: list[Path]) -> None:
    """The files' sizes against the limits, before any is read into memory."""
    bounds, total = limits(), 0
    for item in items:
        size = item.stat().st_size
        total += size
        if size > bounds.member:
            name = item.relative_to(path).as_posix()[:80]
            raise BundleError(
                f"{name} holds {size:,} bytes, more than the {bounds.member:,}-byte limit (set by {bounds.setting})"
            )
        if total > bounds.total:
            raise BundleError(f"{path.name}: its files hold more than {bounds.total:,} bytes together")
