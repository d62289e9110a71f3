"""Printing for the CLI: JSON lines for machines, aligned text for people."""

import json
import sys
from pathlib import Path

from ..lib.errors import UserError


def emit_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def read_input(path: str, limit: int = 1 << 20) -> str:
    """Text from a file or '-' (stdin): personal data never goes on a command line."""
    if path == "-":
        return sys.stdin.read(limit)
    try:
        return Path(path).read_text()[:limit]
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def read_file(path: str, limit: int) -> bytes:
    """A file's bytes; errors name what is wrong, the caller names the file."""
    file = Path(path)
    try:
        if not file.exists():
            raise UserError("no such file")
        if not file.is_file():
            raise UserError("not a regular file")
        if file.stat().st_size > limit:
            raise UserError(f"larger than the {limit // (1024 * 1024)} MB limit")
        return file.read_bytes()
    except OSError as exc:
        raise UserError(exc.strerror or "cannot be read") from None
