"""AES-256-GCM primitives: sealing values and chunked streams.

A sealed value is ``nonce (12) || ciphertext || tag (16)``. A stream is
``MAGIC`` followed by chunks ``len (4, big-endian) || nonce || ct || tag``,
each bound to its blob id, its index and whether it is the last, so chunks
cannot be reordered, dropped or truncated without detection.
"""

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32
MAGIC = b"KSV1"
CHUNK_BYTES = 1024 * 1024


class VaultIntegrityError(Exception):
    """Ciphertext was changed, truncated, or the key is wrong or destroyed."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, token: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(token[:NONCE_BYTES], token[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise VaultIntegrityError("sealed value cannot be opened") from None


def _chunk_aad(stream_id: bytes, index: int, last: bool) -> bytes:
    return stream_id + struct.pack(">Q?", index, last)


def _rechunk(pieces: Iterable[bytes]) -> Iterator[bytes]:
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= CHUNK_BYTES:
            yield bytes(buffer[:CHUNK_BYTES])
            del buffer[:CHUNK_BYTES]
    yield bytes(buffer)


def seal_stream(key: bytes, stream_id: bytes, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Encrypt an iterable of byte pieces into the chunked stream format."""
    aead = AESGCM(key)
    yield MAGIC
    chunks = _rechunk(pieces)
    current = next(chunks)
    index = 0
    for following in chunks:
        yield _sealed_chunk(aead, stream_id, index, current, last=False)
        current, index = following, index + 1
    yield _sealed_chunk(aead, stream_id, index, current, last=True)


def _sealed_chunk(aead: AESGCM, stream_id: bytes, index: int, data: bytes, last: bool) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    body = nonce + aead.encrypt(nonce, data, _chunk_aad(stream_id, index, last))
    return struct.pack(">I", len(body)) + body


def open_stream(key: bytes, stream_id: bytes, handle: BinaryIO, size: int) -> Iterator[bytes]:
    """Decrypt a stream of ``size`` bytes from a seekable file; raises
    VaultIntegrityError on any change."""
    read = handle.read
    if read(len(MAGIC)) != MAGIC:
        raise VaultIntegrityError("not a vault stream")
    aead = AESGCM(key)
    index = 0
    while True:
        header = read(4)
        if len(header) != 4:
            raise VaultIntegrityError("vault stream is truncated")
        body = read(struct.unpack(">I", header)[0])
        last = handle.tell() >= size
        try:
            aad = _chunk_aad(stream_id, index, last)
            yield aead.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise VaultIntegrityError("vault stream was changed or truncated") from None
        if last:
            return
        index += 1
