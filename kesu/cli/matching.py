"""kesu hash, kesu match and kesu bank: the matching engine from the command line."""

import sys

from django.conf import settings

from ..cases import services as cases
from ..lib.errors import UserError
from ..matching import bank, media, services
from ..matching.calibration import PINK
from ..matching.signals import Medium, found_medium
from .output import emit_json, read_file


def register(commands) -> None:
    p = commands.add_parser("hash", help="every signal of each file: hashes, faces, quality, nudity")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(handler=hash_files)

    p = commands.add_parser("match", help="search files in one case's bank (or every case you can see)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--case", dest="case_id", metavar="ID", help="only this case")
    p.add_argument("--record", action="store_true", help="store the hits for review")
    p.add_argument("--url", default="", help="where the file was found (with --record)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=match_file)

    group = commands.add_parser("bank", help="the search bank of all open cases")
    sub = group.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("rebuild", help="rebuild the indexes from the database")
    p.set_defaults(handler=rebuild)
    p = sub.add_parser("stats", help="what the bank holds")
    p.set_defaults(handler=stats)


def _limit() -> int:
    return settings.KESU_MAX_UPLOAD_MB * 1024 * 1024


def describe(data: bytes) -> dict:
    """Every signal of one medium, with nothing secret in it (no embeddings)."""
    info = media.inspect(data)
    medium = Medium(data, info.kind, info.image)
    found = found_medium(medium)
    out: dict = {"kind": info.kind, "mime": info.mime, "width": info.width, "height": info.height, "signals": []}
    for value in found.values:
        if value.kind in ("sha256", "md5"):
            out[value.kind] = value.value
        elif value.kind == "nudity":
            out["nudity"] = float(value.value)
        elif value.kind in ("pdq", "vpdq"):
            out["signals"].append({"kind": value.kind, "value": value.value, "quality": value.quality, **value.meta})
        elif value.kind == "orb" and not value.meta.get("mirrored"):
            out["local_features"] = value.meta["points"]
    out["faces"] = found.faces
    if info.kind == "video":
        hashes = medium.video_hashes
        out.update(duration=hashes.duration, width=hashes.width, height=hashes.height, complete=hashes.complete)
    return out


def each_file(paths: list[str], as_json: bool, work, show) -> int:
    """Run `work` on each file's bytes; a bad file costs one line and the batch goes on."""
    failed = 0
    for path in paths:
        try:
            result = work(read_file(path, _limit()))
        except UserError as exc:
            failed += 1
            print(f"kesu: error: {path}: {exc}", file=sys.stderr)
            if as_json:
                emit_json({"file": path, "error": str(exc)})
            continue
        if as_json:
            emit_json({"file": path, **result})
        else:
            show(path, result)
    return 1 if failed else 0


def hash_files(args) -> int:
    def show(path, result):
        faces = sum(1 for f in result["faces"] if f.get("ok"))
        print(f"{path}: {result['kind']} sha256={result['sha256'][:16]}… signals={len(result['signals'])} "
              f"faces={faces} nudity={result.get('nudity', 0):.2f}")  # fmt: skip

    return each_file(args.files, args.json, describe, show)


def match_file(args) -> int:
    if args.case_id:
        case_ids = [cases.case_for(args.principal, args.case_id).pk]
    else:
        case_ids = list(cases.visible_cases(args.principal).values_list("pk", flat=True))

    def work(data: bytes) -> dict:
        result = services.match(data, case_ids)
        recorded = services.record_hits(result, data, args.url) if args.record else []
        return {**result.as_dict(), "recorded": [h.pk for h in recorded]}

    return each_file(args.files, args.json, work, _print_hits)


def _print_hits(path: str, result: dict) -> None:
    if not result["hits"]:
        print(f"{path}: no match")
    for hit in result["hits"]:
        mark = " PINK" if hit["probability"] >= PINK else ""
        print(f"{path}: case #{hit['case']} {hit['signal']} p={hit['probability']:.3f}{mark}")


def rebuild(args) -> int:
    cases.require_supervisor(args.principal)
    stats_of(bank.rebuild())
    return 0


def stats(args) -> int:
    stats_of(bank.current())
    return 0


def stats_of(current) -> None:
    sizes = "; ".join(f"{kind} {len(index)}" for kind, index in current.indexes.items())
    print(f"signals {current.count} of {len(set(current.owners))} items; indexed: {sizes}")
