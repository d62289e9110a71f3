"""The values a signal type computes, a found medium made of them, and the typed arrays every type's format
is built from (plain numbers, bytes and fixed-width text: numpy reads them back without running code)."""

from dataclasses import dataclass, field

import numpy as np

from .indexes import hex_to_codes


@dataclass(frozen=True)
class SignalValue:
    kind: str
    value: str = ""
    quality: int | None = None
    meta: dict = field(default_factory=dict)
    secret: bytes | None = None  # sealed by the bank, never stored in the clear


# --- typed arrays: what every type's format is made of -----------------------------------------------------


def hex_array(values: list[SignalValue], width: int) -> np.ndarray:
    """Hex digests as rows of bytes."""
    return hex_to_codes([v.value for v in values], width)


def text_array(texts: list[str]) -> np.ndarray:
    """Short labels (a region, a variant) as fixed-width unicode: numpy reads it back without code."""
    return np.array(texts, dtype="<U32") if texts else np.zeros(0, "<U32")


def pack_secrets(values: list[SignalValue]) -> dict[str, np.ndarray]:
    secrets = [v.secret or b"" for v in values]
    return {"secret_lengths": np.array([len(s) for s in secrets], "<i8"),
            "secrets": np.frombuffer(b"".join(secrets), np.uint8)}  # fmt: skip


def unpack_secrets(arrays: dict) -> list[bytes]:
    blob, out, start = arrays["secrets"].tobytes(), [], 0
    for length in arrays["secret_lengths"]:
        out.append(blob[start : start + int(length)])
        start += int(length)
    return out


def optional_time(t: float | None) -> float:
    return np.nan if t is None else t


def known(**numbers: float) -> dict:
    """Meta of optional numbers read back from an array (NaN: not recorded)."""
    return {k: round(float(v), 3) for k, v in numbers.items() if not np.isnan(v)}


def time_meta(t: float) -> dict:
    return {} if np.isnan(t) else {"t": round(float(t), 3)}


@dataclass
class FoundMedium:
    """A found medium as the bank searches it: every type's values and what the review shows of it
    (faces without embeddings, notes), without its bytes or pixels. ``signalfile`` writes and reads it."""

    kind: str  # "image" or "video"
    sha256: str
    values: list[SignalValue]
    faces: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "video truncated"

    def of(self, kind: str) -> list[SignalValue]:
        return [v for v in self.values if v.kind == kind]

    @property
    def nudity(self) -> float | None:
        return max((float(v.value) for v in self.of("nudity")), default=None)
