"""Reading a body from the web whole, within a byte limit and a deadline: one loop for every reader
(the capture's re-fetches, the patrol's fetcher, the site resolvers), so a limit is enforced the same way
everywhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Body:
    data: bytes
    complete: bool  # the stream ended within the limit and before the deadline
    over_limit: bool = False  # it held more than the limit; data is what came before the chunk that crossed it
    late: bool = False  # the deadline passed first; data is what had arrived


def read_body(
    stream, limit: int, deadline: float, *, chunk: int = 64 * 1024, before_read: Callable[[float], None] | None = None
) -> Body:
    """Read ``stream`` (anything with ``read(n)``) until it ends, it passes ``limit`` bytes, or
    ``time.monotonic()`` passes ``deadline``. ``before_read`` gets the seconds left before each read (a
    socket's timeout, so a single stalled read cannot outlast the deadline)."""
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return Body(b"".join(chunks), complete=False, late=True)
        if before_read is not None:
            before_read(left)
        data = stream.read(min(chunk, limit + 1 - size))
        if not data:
            return Body(b"".join(chunks), complete=True)
        size += len(data)
        if size > limit:
            return Body(b"".join(chunks), complete=False, over_limit=True)
        chunks.append(data)
