"""The test run never leaves loopback: an audit hook refuses name lookups through the system resolver and
connections or datagrams to any address off this machine, and records each so the test that made it fails.

Audit hooks see every socket call of the process, in every thread (asyncio's getaddrinfo runs in an executor),
without patching anything. The hook runs for every audit event, so it returns at once for the others.
Processes the tests start are not covered: they get KESU_DNS_SERVERS (the test's resolver) instead.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
            ipaddress.ip_network("::ffff:127.0.0.0/104"))  # fmt: skip
LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"}
SENDS = {"socket.connect", "socket.sendto", "socket.sendmsg"}
WATCHED = frozenset(LOOKUPS | SENDS | {"socket.getnameinfo"})
INET = (socket.AF_INET, socket.AF_INET6)

violations: list[str] = []
_local: dict[str, bool] = {}  # host -> stays on this machine (hosts repeat: one parse each)


def on_loopback(host) -> bool:
    """A literal loopback address or "localhost" (answered from /etc/hosts, never by DNS)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host is None:
        return True  # getaddrinfo(None, port): the wildcard or loopback address, no lookup
    known = _local.get(host)
    if known is None:
        known = _local[host] = _is_loopback(host)
    return known


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return any(address in network for network in LOOPBACK)


def _is_literal(host) -> bool:
    try:
        ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False
    return True


def _hook(event: str, args: tuple) -> None:
    if event not in WATCHED:
        return
    if event == "socket.getnameinfo":
        host = args[0][0]
        if not on_loopback(host):
            _refuse(f"{event} {host!r}", socket.gaierror(socket.EAI_NONAME, "refused by the test network guard"))
    elif event in LOOKUPS:
        host = args[0]
        # A literal needs no resolver: where it leads is checked at connect.
        if not on_loopback(host) and not (event == "socket.getaddrinfo" and _is_literal(host)):
            _refuse(f"{event} {host!r}", socket.gaierror(socket.EAI_NONAME, "refused by the test network guard"))
    else:
        sock, address = args[0], args[1]
        if address is not None and sock.family in INET and not on_loopback(address[0]):
            _refuse(f"{event} {address!r}", PermissionError("refused by the test network guard"))


def _refuse(what: str, error: OSError) -> None:
    violations.append(f"{what} (from {_caller()})")
    raise error


def _caller() -> str:
    """The innermost frame of Kesu or the tests that made the call: what to fix."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if ("/kesu/" in name or "/tests/" in name) and not name.endswith("netguard.py"):
            return f"{name.rsplit('/', 2)[-2]}/{name.rsplit('/', 1)[-1]}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


_installed = False


def install() -> None:
    """Once per process (audit hooks cannot be removed)."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def take() -> list[str]:
    """The violations since the last call."""
    found = violations[:]
    del violations[: len(found)]
    return found
