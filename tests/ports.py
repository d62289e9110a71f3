"""Ports for the servers tests start: free now, and not about to be taken by someone else.

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` comes from the ephemeral range, the range every
outgoing connection (to PostgreSQL, Redis, a browser's) also draws from. A test that frees such a port and has
``kesu run`` bind it a minute later (after the demo loads) lost it, now and then, to another xdist process's
connection ("Address already in use", the desk's end-to-end tests). Ports are drawn at random below that range
instead, where nothing is given out on its own, and checked free.
"""

import random
import socket
from pathlib import Path

_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _below_ephemeral() -> tuple[int, int]:
    try:
        low = int(_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    return 10_000, max(10_001, low - 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now, outside the range the kernel gives out; the server binds it a moment later."""
    low, high = _below_ephemeral()
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on {host} between {low} and {high}")
