"""Checking a bundle: every byte, the signature, the timestamp, the archive formats.

Each check is one line in the report; the bundle passes only when every check
passes. A bundle that was changed anywhere fails: data files are hashed in
the manifest, the manifest is signed, the signature file and key are what
the signature check reads, the timestamp token is checked against the
manifest's hash, and no file may be added.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..lib import archives
from . import bundle, wacz, warc
from .timestamp import TimestampError, verify_timestamp


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))

    def lines(self) -> list[str]:
        return [f"{'ok ' if c.ok else 'FAIL'} {c.name}{': ' + c.detail if c.detail else ''}" for c in self.checks]


def verify(
    files: dict[str, bytes],
    *,
    trusted_keys: list[bytes] = (),
    tsa_ca: bytes | None = None,
    require_timestamp: bool = False,
    directory: Path | None = None,
) -> Report:
    """Check a bundle held in memory; with ``directory`` (an exported copy) also run warcio and wacz on it.

    Raises BundleError, naming the file, for a WARC or WACZ that would unpack past bundle.limits():
    such a bundle is refused, not checked.
    """
    report = Report()
    try:
        report.manifest = json.loads(files[bundle.MANIFEST])
    except (KeyError, ValueError):
        report.add("manifest", False, "manifest.json is missing or not JSON")
        return report
    _check_files(files, report)
    _check_signature(files, trusted_keys, report)
    _check_timestamp(files, tsa_ca, require_timestamp, report)
    _check_archives(files, report, directory)
    _check_media(files, report)
    return report


def _check_files(files: dict[str, bytes], report: Report) -> None:
    listed = report.manifest.get("integrity", {}).get("files", {})
    for name, expected in sorted(listed.items()):
        data = files.get(name)
        if data is None:
            report.add(f"file {name}", False, "missing")
        elif hashlib.sha256(data).hexdigest() != expected.get("sha256") or len(data) != expected.get("size"):
            report.add(f"file {name}", False, "SHA-256 differs from the manifest")
        else:
            report.add(f"file {name}", True, f"sha256 {expected['sha256']}")
    extra = sorted(set(files) - set(listed) - {bundle.MANIFEST, *bundle.SEALS})
    if extra:
        report.add("no added files", False, ", ".join(extra[:5]))


def _check_signature(files: dict[str, bytes], trusted_keys, report: Report) -> None:
    if not bundle.signature_valid(files):
        report.add("signature", False, "the manifest's Ed25519 signature does not verify")
        return
    key = bundle.fingerprint(files[bundle.SIGNER])
    trusted = {bundle.fingerprint(pem) for pem in trusted_keys}
    if trusted and key not in trusted:
        report.add("signature", False, f"valid, but signed by key {key[:16]}… which is not a trusted Kesu key")
    else:
        report.add("signature", True, f"Ed25519, key {key[:16]}…" + ("" if trusted else " (no trusted key given)"))


def _check_timestamp(files: dict[str, bytes], tsa_ca: bytes | None, required: bool, report: Report) -> None:
    token = files.get(bundle.TIMESTAMP)
    if token is None:
        report.add("timestamp", not required, "none" + (" (one is required here)" if required else ""))
        return
    digest = hashlib.sha256(files[bundle.MANIFEST]).digest()
    try:
        info = verify_timestamp(token, digest, tsa_ca)
    except TimestampError as error:
        report.add("timestamp", False, str(error))
        return
    if not info.trusted:
        # Anyone can make a token for the same hash with any time: without the authority's
        # certificate the time proves nothing, so this is not a pass.
        report.add("timestamp", False, f"says {info.gen_time.isoformat()}, but its authority cannot be checked here "
                   "(set KESU_TSA_CA_FILE to the authority's CA certificate)")  # fmt: skip
        return
    report.add("timestamp", True, f"RFC 3161, {info.gen_time.isoformat()} by {info.tsa}, trusted authority")


def _check_archives(files: dict[str, bytes], report: Report, directory: Path | None) -> None:
    archive = files.get("capture.warc.gz")
    package = files.get("capture.wacz")
    if archive is None or package is None:
        report.add("archives", False, "capture.warc.gz or capture.wacz is missing")
        return
    limits = bundle.limits()
    with _quiet(), _refused("capture.warc.gz"):  # warcio writes its own complaints to stderr; the report says it
        problems = warc.check_warc(archive, limits)
    report.add("WARC", not problems, problems[0] if problems else "every record and digest checks")
    with _quiet(), _refused("capture.wacz"):
        problems = wacz.check_wacz(package, limits)
    report.add("WACZ", not problems, problems[0] if problems else "package, hashes and index check")
    if directory is not None:
        # Only files Kesu's own checks passed: a crafted one could keep these tools busy for hours.
        report.add("warcio check", *_after(report, "WARC", _run_warcio, directory / "capture.warc.gz"))
        report.add("wacz validate", *_after(report, "WACZ", _run_wacz, directory / "capture.wacz"))


def _passed(report: Report, name: str) -> bool:
    return any(check.ok for check in report.checks if check.name == name)


def _after(report: Report, check: str, run, path: Path) -> tuple[bool, str]:
    return run(path) if _passed(report, check) else (False, f"not run: the {check} check failed")


def _run_warcio(path: Path) -> tuple[bool, str]:
    from warcio.cli import main as warcio_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = warcio_main(["check", str(path)])
        except SystemExit as exit_:
            code = exit_.code
        except Exception as error:  # a broken file makes warcio raise
            return False, f"warcio could not read it ({type(error).__name__})"
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    return not code, (lines[-1][:200] if code and lines else "valid")


def _run_wacz(path: Path) -> tuple[bool, str]:
    from wacz.main import main as wacz_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = wacz_main(["validate", "-f", str(path)])
        except SystemExit as exit_:
            code = exit_.code
        except Exception as error:
            return False, f"wacz could not read it ({type(error).__name__})"
    return not code, "valid" if not code else "wacz validate failed"


def _check_media(files: dict[str, bytes], report: Report) -> None:
    """Each medium the manifest lists is in the WARC (or, for joined streams, in media/), byte for byte."""
    listed = [m for m in report.manifest.get("media", []) if m.get("sha256")]
    if report.manifest.get("media_withheld") or not listed or not _passed(report, "WARC"):
        return
    try:
        with _quiet():
            payloads = warc.payload_sha256s(files["capture.warc.gz"])
    except Exception:  # already reported by the WARC check
        return
    payloads |= {hashlib.sha256(data).hexdigest() for name, data in files.items() if name.startswith("media/")}
    missing = [m["url"] for m in listed if m["complete"] and m["sha256"] not in payloads]
    report.add(
        "media in the archive",
        not missing,
        f"{len(listed) - len(missing)} of {len(listed)} media replay with their SHA-256"
        + (f"; missing {missing[0][:80]}" if missing else ""),
    )


def _quiet():
    return contextlib.redirect_stderr(io.StringIO())


@contextlib.contextmanager
def _refused(name: str):
    try:
        yield
    except archives.ArchiveRefused as refusal:
        raise bundle.BundleError(f"{name}: {refusal}") from None
