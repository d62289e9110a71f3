"""kesu capture and kesu evidence: preserving pages as signed bundles, and checking them."""

import sys
from pathlib import Path

from ..cases import services as cases
from ..evidence import bundle, services
from ..evidence.models import EvidenceBundle
from ..lib.errors import NotFound, UserError
from .output import emit_json, table


def register(commands) -> None:
    p = commands.add_parser("capture", help="capture pages in a real browser and preserve them as evidence bundles")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.add_argument("--case", dest="case_id", metavar="ID", help="keep the bundle with this case (in the vault)")
    p.add_argument("--out", metavar="DIR", help="also (or only, without --case) write the bundle to DIR, unencrypted")
    p.add_argument("--json", action="store_true", help="one JSON object per URL")
    p.set_defaults(handler=capture)

    group = commands.add_parser("evidence", help="evidence bundles: list, show, export, verify")
    sub = group.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("verify", help="check every hash, the signature, the timestamp, the WARC and WACZ")
    p.add_argument("target", metavar="BUNDLE", help="an exported bundle directory (or .zip), or a bundle id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=verify)
    p = sub.add_parser("list", help="the bundles of a case")
    p.add_argument("--case", dest="case_id", metavar="ID", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_bundles)
    p = sub.add_parser("export", help="write a bundle as files a lawyer can hand over (unencrypted)")
    p.add_argument("bundle_id", metavar="ID")
    p.add_argument("--out", metavar="DIR", required=True)
    p.set_defaults(handler=export)


def _out_dir(base: str, index: int, total: int) -> Path:
    path = Path(base) if total == 1 else Path(base) / f"{index:02d}"
    if path.exists() and any(path.iterdir()):
        raise UserError(f"{path} is not empty; give an empty or new directory")
    return path


def capture(args):
    if not args.case_id and not args.out:
        raise UserError("give --case ID (keep it in the vault) or --out DIR (write it there), or both")
    case = cases.case_for(args.principal, args.case_id) if args.case_id else None
    failures = 0
    for index, url in enumerate(args.urls, 1):
        try:
            result = _capture_one(args, case, url, index)
        except UserError as error:
            failures += 1
            print(f"kesu: error: {url[:200]}: {error}", file=sys.stderr)
            continue
        except Exception as error:  # noqa: BLE001 - one URL's failure must not stop the batch
            failures += 1
            print(f"kesu: error: {url[:200]}: capture failed ({type(error).__name__})", file=sys.stderr)
            continue
        failures += result["outcome"] == "failed"
        if args.json:
            emit_json(result)
        else:
            where = result.get("path") or result.get("id")
            print(f"{result['outcome']:8} {result['media']:3} media  {where}  {url[:120]}")
        for line in result["errors"]:
            print(f"kesu: warning: {line}", file=sys.stderr)
    return 1 if failures else 0


def _capture_one(args, case, url: str, index: int) -> dict:
    out = _out_dir(args.out, index, len(args.urls)) if args.out else None
    if case is not None:
        item = services.preserve(url, case, EvidenceBundle.Reason.CLI, actor=args.principal)
        result = {**services.describe(item), "url": url, "errors": services.errors_of(item)}
        if out is not None and item.blob is not None:
            services.export(args.principal, item, out)
            result["path"] = str(out)
        return result
    captured, files, errors = services.capture_to_directory(url, out, actor=args.principal)
    return {
        "url": url,
        "path": str(out),
        "outcome": captured.outcome,
        "media": len(captured.media),
        "manifest_sha256": bundle.sha256(files[bundle.MANIFEST]),
        "errors": captured.errors + errors,
    }


def _bundle(args, bundle_id: str) -> EvidenceBundle:
    item = services.bundle_for(args.principal, bundle_id)
    cases.case_for(args.principal, item.case_id)
    return item


def verify(args):
    target = Path(args.target)
    if target.exists():
        files = bundle.from_path(target)
        report = services.verify_files(files, directory=target if target.is_dir() else None)
    else:
        try:
            item = _bundle(args, args.target)
        except NotFound:
            raise UserError(f"{args.target}: no such bundle directory, file or id") from None
        report = services.verify_stored(args.principal, item)
    if args.json:
        emit_json({"ok": report.ok, "checks": [c.__dict__ for c in report.checks]})
    else:
        print("\n".join(report.lines()))
        print("VERIFIED" if report.ok else "NOT VERIFIED: the bundle was changed or is incomplete")
    return 0 if report.ok else 1


def list_bundles(args):
    case = cases.case_for(args.principal, args.case_id)
    rows = [services.describe(item) for item in case.evidence.all()]
    if args.json:
        for row in rows:
            emit_json(row)
    else:
        table(rows, ["id", "status", "outcome", "media", "size", "timestamped", "requested_at"])


def export(args):
    item = _bundle(args, args.bundle_id)
    out = _out_dir(args.out, 1, 1)
    services.export(args.principal, item, out)
    print(out)
