"""Hashes as the field writes them, read into Kesu's signal values.

The field's names are ``threatexchange``'s signal type names (``pdq``, ``video_md5``, ``video_sha256``,
``vpdq``); each text is checked by that type's own ``validate_signal_str``, so what Kesu accepts is what
HMA and the ``threatexchange`` CLI accept. Kesu's own kinds (``md5``, ``sha256``) are taken as aliases.
"""

import json
from dataclasses import dataclass

from threatexchange.extensions.vpdq.vpdq import VPDQSignal
from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.sha256 import VideoSHA256Signal

from ..lib.errors import UserError
from ..matching.signals import MIN_QUALITY
from ..matching.values import SignalValue

# threatexchange's name -> (its class, Kesu's kind)
FIELD_TYPES = {
    PdqSignal.get_name(): (PdqSignal, "pdq"),
    VideoMD5Signal.get_name(): (VideoMD5Signal, "md5"),
    VideoSHA256Signal.get_name(): (VideoSHA256Signal, "sha256"),
    VPDQSignal.get_name(): (VPDQSignal, "vpdq"),
}
ALIASES = {"md5": "video_md5", "sha256": "video_sha256", "sha-256": "video_sha256", "vpdq_frames": "vpdq"}
KINDS = ("pdq", "md5", "sha256", "vpdq")  # Kesu's kinds a hash-only reference can hold


@dataclass(frozen=True)
class Hash:
    """One hash as given: a field type name (or Kesu's kind) and its text.

    ``pdq``: 64 hex digits, optionally ``,quality`` (0-100; a PDQ with no quality is taken as trusted by the
    tool that made it: StopNCII's and HMA's hashers drop those under 50); ``video_md5`` / ``md5``: 32 hex
    digits; ``video_sha256`` / ``sha256``: 64; ``vpdq``: threatexchange's JSON list of ``"pdq,quality,seconds"``
    frames."""

    type: str
    text: str


def field_name(type_name: str) -> str:
    name = type_name.strip().lower()
    name = ALIASES.get(name, name)
    if name not in FIELD_TYPES:
        known = ", ".join(sorted(FIELD_TYPES))
        raise UserError(f"unknown hash type {type_name!r} (known: {known}, md5, sha256)")
    return name


def values_of(given: Hash) -> list[SignalValue]:
    """Kesu's signal values for one hash; UserError naming what is wrong."""
    name = field_name(given.type)
    text = given.text.strip()
    if name == "pdq":
        return [_pdq(text)]
    signal_class, kind = FIELD_TYPES[name]
    if name == "vpdq":
        return _vpdq(text)
    return [SignalValue(kind, _validated(signal_class, text.lower()))]


def _validated(signal_class, text: str) -> str:
    try:
        return signal_class.validate_signal_str(text)
    except (ValueError, AssertionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "malformed"
        raise UserError(f"bad {signal_class.get_name()} hash: {detail[:120]}") from None


def _pdq(text: str) -> SignalValue:
    hexes, _, quality = text.partition(",")
    code = _validated(PdqSignal, hexes.strip().lower())
    if quality.strip():
        try:
            level = int(quality)
        except ValueError:
            raise UserError(f"bad pdq quality {quality.strip()[:20]!r}: a whole number 0-100") from None
        if not 0 <= level <= 100:
            raise UserError(f"bad pdq quality {level}: a whole number 0-100")
    else:
        level = 100
    if level < MIN_QUALITY:
        raise UserError(f"pdq quality {level} is under {MIN_QUALITY}: such hashes match too easily to search with")
    return SignalValue("pdq", code, level, {"region": "full", "variant": "original"})


def _vpdq(text: str) -> list[SignalValue]:
    try:
        frames = [VpdqCompactFeature.from_str(str(f)) for f in json.loads(text)]
    except (ValueError, TypeError):
        raise UserError('bad vpdq hash: a JSON list of "pdq,quality,seconds" frames') from None
    if not frames:
        raise UserError("bad vpdq hash: no frames")
    return [SignalValue("vpdq", f.pdq_hex.lower(), f.quality, {"t": round(f.timestamp, 3)}) for f in frames]


def field_lines(kind: str, values: list[SignalValue], video: bool) -> list[str]:
    """A reference's banked values as local-file lines (``<type> <signal>``), in the field's names."""
    if kind == "pdq" and not video:
        return [f"pdq {v.value}" for v in values if v.meta.get("region", "full") in ("full", "trimmed")
                and v.meta.get("variant", "original") == "original" and (v.quality or 0) >= MIN_QUALITY]  # fmt: skip
    if kind == "md5" and video:
        return [f"video_md5 {v.value}" for v in values]
    if kind == "sha256" and video:
        return [f"video_sha256 {v.value}" for v in values]
    if kind == "vpdq" and values:
        frames = [str(VpdqCompactFeature(v.value, v.quality or 0, float(v.meta.get("t", 0.0)))) for v in values]
        return ["vpdq " + json.dumps(frames, separators=(",", ":"))]
    return []
