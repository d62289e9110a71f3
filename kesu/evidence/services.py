"""Preserving evidence: capture a URL, build and sign the bundle, keep it sealed; export and verify.

``preserve`` is what notices call before anything is sent. Staff ask for it
from the case page (a Celery task) and operators from ``kesu capture``.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from kesu.audit import anchors
from kesu.audit import services as audit
from kesu.audit.anchors import Anchor
from kesu.audit.services import Actor, log_action
from kesu.capture.policy import check_url
from kesu.capture.record import Capture
from kesu.lib import taskqueue, workrows
from kesu.lib.errors import UserError
from kesu.vault import services as vault

from . import bundle
from .models import EvidenceBundle
from .timestamp import TimestampError, request_timestamp

if TYPE_CHECKING:
    from . import verify

log = logging.getLogger(__name__)
SOFTWARE = f"Kesu {version('kesu')}"


def signer_pem() -> bytes:
    return bundle.public_pem(vault.signing_key())


def _tsa_ca() -> bytes | None:
    if not settings.KESU_TSA_CA_FILE:
        return None
    try:
        return Path(settings.KESU_TSA_CA_FILE).read_bytes()
    except OSError as error:
        raise UserError(f"KESU_TSA_CA_FILE: cannot read {settings.KESU_TSA_CA_FILE} ({error.strerror})") from None


def _timestamper(errors: list[str]):
    if not settings.KESU_TSA_URL:
        return None

    def stamp(digest: bytes) -> bytes:
        return request_timestamp(digest, settings.KESU_TSA_URL, ca_pem=_tsa_ca())

    def safe(digest: bytes):
        try:
            return stamp(digest)
        except (TimestampError, UserError, OSError) as error:
            errors.append(f"no timestamp: {error}")
            return None

    return safe


def _capture(url: str) -> Capture:
    # The browser stack (Playwright) and the WACZ writer load with the first capture, not in every process
    # that imports this module: each `kesu` command and every worker start ~1 s sooner.
    from kesu.capture import services as capturing

    return capturing.capture(url)


def seal_capture(
    capture: Capture, *, bundle_id: str, case: dict | None, reason: str, collector: str, withhold_media: bool
) -> tuple[dict[str, bytes], list[str]]:
    """The bundle's files for a capture, signed (and timestamped when an authority is set)."""
    from . import build  # the WACZ writer, loaded with the first capture (see _capture)

    files = build.files_of(capture, software=SOFTWARE, operator="", withhold_media=withhold_media)
    manifest = build.manifest_of(
        capture,
        bundle_id=bundle_id,
        case=case,
        reason=reason,
        collector=collector,
        software=SOFTWARE,
        withhold_media=withhold_media,
    )
    manifest["audit"] = _audit_anchor()
    files["summary.html"] = summary(manifest, bundle.file_table(files), signer_pem()).encode("utf-8")
    errors: list[str] = []
    stamper = _timestamper(errors)
    sealed = bundle.seal(files, manifest, vault.signing_key(), timestamp=stamper)
    if sealed.get(bundle.TIMESTAMP) is None:
        sealed.pop(bundle.TIMESTAMP, None)
    return sealed, errors


def _audit_anchor() -> dict | None:
    """The audit log's head when the bundle was sealed: a signed copy of it outside the database, so that a log
    later cut back (or wiped) before this point fails ``kesu audit verify --bundle``."""
    anchor = audit.current_anchor()
    return anchor.as_dict() if anchor else None


def audit_anchor_of(path) -> Anchor:
    """The audit anchor in an exported bundle's manifest, once the manifest is shown signed by this
    installation."""
    try:
        files = bundle.from_path(Path(path))
    except bundle.BundleError as error:
        raise UserError(str(error)) from None
    trusted = bundle.fingerprint(signer_pem())
    if not bundle.signature_valid(files) or bundle.fingerprint(files[bundle.SIGNER]) != trusted:
        raise UserError(f"{path}: the manifest is not signed by this installation's key")
    manifest = json.loads(files[bundle.MANIFEST])
    try:
        return anchors.from_mapping(manifest.get("audit"), f"bundle {str(manifest.get('bundle'))[:40]}")
    except ValueError:
        raise UserError(f"{path}: the manifest holds no audit anchor (sealed before bundles carried one)") from None


def summary(manifest: dict, files: dict, signer: bytes) -> str:
    hosts: dict[str, set] = {}
    for exchange in manifest["network"]:
        host = urlsplit(exchange["url"]).hostname or ""
        if host and exchange["remote_ip"]:
            hosts.setdefault(host, set()).add(exchange["remote_ip"])
    return render_to_string(
        "evidence/summary.html",
        {
            "m": manifest,
            "files": files,
            "fingerprint": bundle.fingerprint(signer),
            "hosts": sorted((h, sorted(ips)) for h, ips in hosts.items()),
            "complete_count": sum(1 for e in manifest["network"] if e["complete"]),
        },
    )


# --- bundles kept for a case ----------------------------------------------------------------------


def request_preservation(actor, case, url: str, reason: str = EvidenceBundle.Reason.STAFF) -> EvidenceBundle:
    """Record the request and queue the capture (a Celery task, after the transaction commits)."""
    item = _new_bundle(actor, case, url, reason)
    taskqueue.after_commit("evidence.preserve_bundle", str(item.pk))
    return item


def preserve(url: str, case, reason: str, *, actor=None) -> EvidenceBundle:
    """Capture url now and keep the signed bundle with the case; returns it done or failed.

    Notices call this before anything is sent: a notice goes out only with
    the page preserved as it was.
    """
    item = _new_bundle(actor or "system:preserve", case, url, reason)
    return run_preservation(item.pk)


def _new_bundle(actor, case, url: str, reason: str) -> EvidenceBundle:
    url = check_url(url)
    with transaction.atomic():
        item = EvidenceBundle.objects.create(
            case=case,
            reason=reason,
            url_sealed=vault.seal_text(case.data_key, url, "evidence.url"),
            requested_by=Actor.of(actor).label,
        )
        log_action(actor, "evidence.request", item, case_id=case.pk, reason=reason)
    return item


def capture_lease() -> timedelta:
    """How long a capture worker may hold a bundle before another may take it over: the capture stops at its
    page deadline and sealing takes seconds, so a claim three deadlines old belongs to a worker that died."""
    return timedelta(seconds=3 * settings.KESU_CAPTURE_PAGE_SECONDS)


def claim_bundle(bundle_id, now=None) -> str | None:
    """Take a pending bundle for one capture (see kesu.lib.workrows); None when it is done, failed, or held by a
    live claim."""
    now = now or timezone.now()
    waiting = EvidenceBundle.objects.filter(status=EvidenceBundle.Status.PENDING).filter(
        workrows.free(capture_lease(), now)
    )
    return workrows.take(waiting, bundle_id, now=now)


def run_preservation(bundle_id) -> EvidenceBundle:
    """Capture and seal one requested bundle; safe to run twice and from two workers at once: only the worker
    holding the claim captures, a done bundle is left alone, and a claim past the lease may be taken over (the
    first worker's results are then not kept)."""
    token = claim_bundle(bundle_id)
    item = EvidenceBundle.objects.select_related("case", "case__data_key").get(pk=bundle_id)
    if token is None:
        return item
    try:
        preserve_claimed(item, token)
    except workrows.LostClaim:
        log.warning("evidence bundle %s: the claim was taken over; this capture is not kept", item.pk)
        item.refresh_from_db()
    return item


def preserve_claimed(item: EvidenceBundle, token: str) -> None:
    """Capture and seal a bundle this worker holds the claim of (``claim_bundle``); LostClaim, and nothing
    kept, when another worker took the claim over meanwhile."""
    case = item.case
    url = vault.open_text(case.data_key, item.url_sealed, "evidence.url")
    try:
        captured = _capture(url)
        files, errors = seal_capture(
            captured,
            bundle_id=str(item.pk),
            case={"id": case.pk, "type": case.case_type},
            reason=item.reason,
            collector=item.requested_by,
            withhold_media=not case.keeps_media,
        )
    except Exception as error:  # a request must never stay "waiting" for ever; say what broke, no URL
        log.error("evidence bundle %s: capture failed (%s)", item.pk, type(error).__name__)
        _fail(item, token, f"capture failed ({type(error).__name__}); nothing was kept")
        return
    _store(item, token, captured, files, errors)


def _settle(item: EvidenceBundle, token: str) -> None:
    """First in the transaction that writes the results: LostClaim (and nothing written) when the bundle is no
    longer ours; otherwise the row is ours and locked until the results are in."""
    workrows.settle(EvidenceBundle, item.pk, token)
    item.claim, item.claimed_at = "", None


def _fail(item: EvidenceBundle, token: str, reason: str) -> None:
    with transaction.atomic():
        _settle(item, token)
        item.status, item.outcome, item.finished_at = EvidenceBundle.Status.FAILED, "failed", timezone.now()
        item.errors_sealed = vault.seal_json(item.case.data_key, [reason], "evidence.errors")
        item.save()
        log_action("system:capture", "evidence.preserve", item, case_id=item.case_id, outcome="failed", errors=1)


def _store(item: EvidenceBundle, token: str, captured: Capture, files: dict[str, bytes], errors: list[str]) -> None:
    case = item.case
    errors = captured.errors + errors
    archive = bundle.to_zip(files)
    with transaction.atomic():
        _settle(item, token)
        item.blob = vault.store_blob(case.data_key, archive)
        item.status = EvidenceBundle.Status.FAILED if captured.outcome == "failed" else EvidenceBundle.Status.DONE
        item.outcome = captured.outcome
        item.errors_sealed = vault.seal_json(case.data_key, errors, "evidence.errors")
        item.manifest_sha256 = bundle.sha256(files[bundle.MANIFEST])
        item.signer = bundle.fingerprint(files[bundle.SIGNER])
        item.timestamped_at = timezone.now() if bundle.TIMESTAMP in files else None
        item.media_count = len(captured.media)
        item.size = len(archive)
        item.finished_at = timezone.now()
        item.save()
        log_action(
            "system:capture",
            "evidence.preserve",
            item,
            case_id=case.pk,
            outcome=item.outcome,
            media=item.media_count,
            errors=len(errors),
        )


def url_of(item: EvidenceBundle) -> str:
    return vault.open_text(item.case.data_key, item.url_sealed, "evidence.url")


def errors_of(item: EvidenceBundle) -> list[str]:
    return vault.open_json(item.case.data_key, item.errors_sealed, "evidence.errors", default=[])


def files_of(actor, item: EvidenceBundle) -> dict[str, bytes]:
    """The bundle's files, opened from the vault: a view of sensitive media, so audited."""
    if item.blob is None:
        raise bundle.BundleError("this bundle holds no files (the capture failed before anything was kept)")
    log_action(actor, "evidence.open", item, case_id=item.case_id)
    return bundle.from_zip(vault.read_blob(item.blob))


def export(actor, item: EvidenceBundle, directory: Path) -> Path:
    """Write the bundle as plain files a lawyer can hand over (the operator chose to leave the vault)."""
    files = files_of(actor, item)
    bundle.to_directory(files, directory)
    log_action(actor, "evidence.export", item, case_id=item.case_id, files=len(files))
    return directory


def verify_files(files: dict[str, bytes], directory: Path | None = None) -> verify.Report:
    from . import verify  # it loads the WARC/WACZ tools: only a verification needs them

    return verify.verify(files, trusted_keys=[signer_pem()], tsa_ca=_tsa_ca(), directory=directory)


def verify_stored(actor, item: EvidenceBundle) -> verify.Report:
    report = verify_files(files_of(actor, item))
    log_action(actor, "evidence.verify", item, case_id=item.case_id, ok=report.ok)
    return report


def capture_to_directory(
    url: str, directory: Path, *, actor="system:cli"
) -> tuple[Capture, dict[str, bytes], list[str]]:
    """``kesu capture URL --out DIR`` without a case: the bundle goes only to DIR."""
    captured = _capture(url)
    files, errors = seal_capture(
        captured,
        bundle_id=str(uuid.uuid4()),
        case=None,
        reason="cli",
        collector=Actor.of(actor).label,
        withhold_media=False,
    )
    bundle.to_directory(files, directory)
    log_action(actor, "evidence.capture", None, outcome=captured.outcome, files=len(files))
    return captured, files, errors


def describe(item: EvidenceBundle) -> dict:
    """For lists and --json: ids, counts and times; the URL only for who may see the case."""
    return {
        "id": str(item.pk),
        "case": item.case_id,
        "status": item.status,
        "outcome": item.outcome,
        "reason": item.reason,
        "media": item.media_count,
        "size": item.size,
        "manifest_sha256": item.manifest_sha256,
        "signer": item.signer,
        "timestamped": item.timestamped_at is not None,
        "requested_at": _iso(item.requested_at),
        "finished_at": _iso(item.finished_at),
    }


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None


def bundle_for(actor, bundle_id: str) -> EvidenceBundle:
    """A bundle of a case this actor may see; NotFound otherwise (whether or not it exists)."""
    from kesu.cases.services import visible_cases
    from kesu.lib.errors import NotFound

    try:
        key = uuid.UUID(str(bundle_id))
    except ValueError:
        raise NotFound(f"no evidence bundle {str(bundle_id)[:40]!r}") from None
    item = EvidenceBundle.objects.filter(pk=key, case__in=visible_cases(actor)).select_related("case").first()
    if item is None:
        raise NotFound(f"no evidence bundle {bundle_id}")
    return item


def evidence_rows(case) -> list[tuple[EvidenceBundle, str, list[str]]]:
    """The case page's list: each bundle with its URL and errors opened (the page view is audited)."""
    return [(item, url_of(item), errors_of(item)) for item in case.evidence.select_related("case__data_key")]
