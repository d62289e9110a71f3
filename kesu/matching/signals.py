"""Signal types: what Kesu derives from a medium to find it again.

A registry of kind -> SignalType. The matching engine adds more kinds
(dihedral PDQ, video frame hashes, faces); each kind computes from the bytes
(and the decoded image when there is one) and stores strings only.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class SignalValue:
    kind: str
    value: str
    quality: int | None = None


class SignalType:
    kind: str = ""
    media_kinds: tuple[str, ...] = ("image", "video")

    def compute(self, data: bytes, image: Image.Image | None) -> list[SignalValue]:
        raise NotImplementedError


class Sha256(SignalType):
    kind = "sha256"

    def compute(self, data, image):
        return [SignalValue(self.kind, hashlib.sha256(data).hexdigest())]


class Md5(SignalType):
    """MD5 only because StopNCII and partners exchange video MD5s."""

    kind = "md5"

    def compute(self, data, image):
        return [SignalValue(self.kind, hashlib.md5(data, usedforsecurity=False).hexdigest())]


class Pdq(SignalType):
    """Meta's PDQ: 256-bit perceptual hash, with its 0-100 quality."""

    kind = "pdq"
    media_kinds = ("image",)
    max_side = 512  # PDQ downsamples to 64x64 anyway; this keeps it fast

    def compute(self, data, image):
        import pdqhash

        if image is None:
            return []
        small = image.convert("RGB")
        small.thumbnail((self.max_side, self.max_side))
        bits, quality = pdqhash.compute(np.asarray(small))
        return [SignalValue(self.kind, bits_to_hex(bits), int(quality))]


def bits_to_hex(bits) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


REGISTRY: dict[str, SignalType] = {cls.kind: cls() for cls in (Sha256, Md5, Pdq)}


def compute_all(data: bytes, media_kind: str, image: Image.Image | None) -> list[SignalValue]:
    values: list[SignalValue] = []
    for signal_type in REGISTRY.values():
        if media_kind in signal_type.media_kinds:
            values += signal_type.compute(data, image)
    return values
