"""Connections the resolvers open themselves (RDAP, WHOIS, a site's response headers).

Each host name is resolved once (kesu.capture.names), every address
is checked with the capture address policy (kesu.capture.policy), and the
connection goes to exactly the address that passed, so an answer cannot change
between the check and the connection. Environment proxies are not used. Time
and size are bounded on every read.
"""

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from ...capture import names
from ...capture.policy import AddressRefused, policy_from_settings
from ...lib.bodies import read_body
from .base import ResolveError

REDIRECT_CODES = (301, 302, 303, 307, 308)


@dataclass
class Response:
    url: str
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key.lower() == name.lower()), "")


def permitted_address(host: str) -> str:
    """The first address of host the address policy allows; ResolveError naming the host if none.

    A name is looked up like every connection Kesu opens (kesu.capture.names): pinned by KESU_CAPTURE_HOSTS,
    else through KESU_DNS_SERVERS or the system resolver."""
    try:
        return names.permitted(policy_from_settings(), host, 0)
    except names.Unresolved as error:
        raise ResolveError(str(error), reason=error.reason) from None
    except AddressRefused as error:
        raise ResolveError(f"{host} ({error.address}) is refused by the address policy", reason="refused") from None


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def http_get(
    url: str, *, headers: dict, limit: int, seconds: float, redirects: int = 0, verify: bool = True, port: int = 0
) -> Response:
    """GET url, following up to ``redirects`` http(s) redirects; the body is read up to ``limit`` bytes.

    ``port`` replaces the URL's port on the first request only (the headers
    resolver asks a site on a chosen port). The whole exchange, redirects
    included, must end within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    for _ in range(redirects + 1):
        response = _one(url, headers, limit, deadline, seconds, verify, port)
        location = response.header("location")
        if response.status not in REDIRECT_CODES or not location or not redirects:
            return response
        url, port = urljoin(url, location), 0
        if urlsplit(url).scheme not in ("http", "https"):
            raise ResolveError(f"redirect to {url[:120]!r} refused: not http(s)", reason="redirect")
    raise ResolveError(f"more than {redirects} redirects from {url[:120]}", reason="redirect")


def _one(url, headers, limit, deadline, seconds, verify, port) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ResolveError(f"not an http(s) URL: {url[:120]!r}", reason="url")
    try:
        port = port or parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ResolveError(f"bad port in {url[:120]!r}", reason="url") from None
    address = permitted_address(parts.hostname)
    timeout = _remaining(deadline, seconds, parts.hostname)
    if parts.scheme == "https":
        connection = _PinnedHTTPS(parts.hostname, port, address, timeout, _context(verify))
    else:
        connection = _PinnedHTTP(parts.hostname, port, address, timeout)
    where = f"{parts.hostname}:{port}"
    held: list = []
    # Socket timeouts bound each read, not the whole answer: a server trickling its status line and headers one
    # byte at a time would never time out. The watchdog shuts the socket at the deadline, whatever is being read.
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (held,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=headers)
        sock = connection.sock  # the response may detach it from the connection; reads still need its timeout
        held.append(sock)
        reply = connection.getresponse()
        body = _read(reply, sock, limit, deadline, seconds, where) if limit else b""
        return Response(url, reply.status, list(reply.getheaders()), body)
    except TimeoutError:
        raise ResolveError(f"{where} did not answer within {seconds:g} s", reason="timeout") from None
    except ssl.SSLError as exc:
        if time.monotonic() >= deadline:
            raise ResolveError(f"{where} did not answer within {seconds:g} s", reason="timeout") from None
        raise ResolveError(f"TLS with {where} failed: {exc.reason or exc}", reason="tls") from None
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise ResolveError(f"{where} did not answer within {seconds:g} s", reason="timeout") from None
        raise ResolveError(f"{where} failed: {_why(exc)}", reason="connect") from None
    finally:
        watchdog.cancel()
        connection.close()


def _shut(held: list) -> None:
    for sock in held:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _read(reply, sock, limit, deadline, seconds, where) -> bytes:
    body = read_body(reply, limit, deadline, before_read=sock.settimeout)
    if body.over_limit:
        raise ResolveError(f"{where} sent more than {limit // 1024} KB", reason="too_large")
    if body.late:
        raise ResolveError(f"{where} did not answer within {seconds:g} s", reason="timeout")
    return body.data


def _remaining(deadline: float, seconds: float, where: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ResolveError(f"{where} did not answer within {seconds:g} s", reason="timeout")
    return left


def _why(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)[:160]


def tcp_exchange(host: str, port: int, request: bytes, *, limit: int, seconds: float) -> bytes:
    """Send request, read until the server closes (WHOIS, RFC 3912), within seconds and limit bytes."""
    address = permitted_address(host)
    deadline = time.monotonic() + seconds
    where = f"{host}:{port}"
    chunks, size = [], 0
    try:
        with socket.create_connection((address, port), timeout=seconds) as sock:
            sock.sendall(request)
            while True:
                sock.settimeout(_remaining(deadline, seconds, where))
                data = sock.recv(65536)
                if not data:
                    return b"".join(chunks)
                chunks.append(data)
                size += len(data)
                if size > limit:
                    raise ResolveError(f"{where} sent more than {limit // 1024} KB", reason="too_large")
    except TimeoutError:
        raise ResolveError(f"{where} did not answer within {seconds:g} s", reason="timeout") from None
    except OSError as exc:
        raise ResolveError(f"{where} failed: {_why(exc)}", reason="connect") from None
