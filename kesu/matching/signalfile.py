"""The file of a found medium's signals: what the patrol keeps (sealed with its key) of a medium between its
fingerprint and its match, instead of the medium: no bytes, no pixels, only every signal type's values.

Format 1 is an .npz (numpy's zip of .npy arrays) holding

- ``header``: UTF-8 JSON as bytes: ``{"format": 1, "kind": "image" | "video", "sha256": hex, "faces": [box,
  score, quality of each face, no embedding], "notes": [...], "types": {kind: the type's FORMAT}}``;
- for each signal type computed for the medium's kind, its arrays as ``<kind>.<name>`` (the type's
  ``to_arrays`` says what they are).

Reading never runs code (numpy refuses object arrays by default) and refuses a file of another format, or one
holding a type the registry no longer has or has at another version (`FormatError`).
"""

import json
import zipfile

import numpy as np

from ..lib.errors import UserError
from .indexes import arrays_to_bytes, bytes_to_arrays
from .signals import REGISTRY
from .values import FoundMedium

FORMAT = 1


class FormatError(UserError):
    """Signals written by another version of Kesu (or not signals at all)."""


def dumps(medium: FoundMedium) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    types = {}
    for kind, signal_type in REGISTRY.items():
        if medium.kind in signal_type.media_kinds:
            types[kind] = signal_type.FORMAT
            for name, array in signal_type.to_arrays(medium.of(kind)).items():
                arrays[f"{kind}.{name}"] = array
    header = {"format": FORMAT, "kind": medium.kind, "sha256": medium.sha256, "faces": medium.faces,
              "notes": medium.notes, "types": types}  # fmt: skip
    return arrays_to_bytes(header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


def loads(raw: bytes) -> FoundMedium:
    try:
        arrays = bytes_to_arrays(raw)
        header = json.loads(arrays.pop("header").tobytes())
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
        raise FormatError("not a file of signals") from None
    if header.get("format") != FORMAT:
        raise FormatError(f"signals of format {header.get('format')}, this Kesu reads {FORMAT}")
    values = []
    for kind, version in header["types"].items():
        signal_type = REGISTRY.get(kind)
        if signal_type is None or signal_type.FORMAT != version:
            raise FormatError(f"signals of type {kind} version {version}, which this Kesu does not read")
        prefix = f"{kind}."
        values += signal_type.from_arrays({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
    return FoundMedium(header["kind"], header["sha256"], values, header["faces"], header["notes"])
