"""The guard proxy: every connection of a capture goes through it.

It listens on 127.0.0.1 for one browser context (and Kesu's own re-fetches),
resolves each target once, refuses addresses the policy forbids, connects to
exactly the address it checked (directly, or through the site's egress proxy),
records which address answered for which host, limits connections per host and
bytes per capture. TLS stays end to end: HTTPS arrives as CONNECT and is only
tunnelled, so the browser still checks certificates.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..lib.netsettings import EgressProxy
from . import names
from .policy import AddressPolicy, AddressRefused

HEAD_LIMIT = 64 * 1024
CHUNK = 256 * 1024
# Connections per host across every capture of this worker process: politeness
# towards the sites, and no host can swallow the whole pool. Keyed by event loop
# too, since a semaphore belongs to the loop that uses it.
_host_slots: dict[tuple[int, str], asyncio.Semaphore] = {}


class ProxyError(Exception):
    pass


@dataclass
class Connection:
    host: str
    port: int
    address: str = ""
    via: str = ""  # egress proxy label, "" for direct
    error: str = ""


@dataclass
class CaptureTraffic:
    """What the proxy saw for one capture."""

    connections: list[Connection] = field(default_factory=list)
    bytes_in: int = 0
    byte_limit_hit: bool = False

    def address_of(self, host: str, port: int) -> str:
        found = [c.address for c in self.connections if c.host == host and c.port == port and c.address]
        return found[-1] if found else ""

    @property
    def refusals(self) -> list[str]:
        return [c.error for c in self.connections if c.error]

    @property
    def egress(self) -> list[str]:
        return sorted({c.via for c in self.connections if c.via})


class GuardProxy:
    def __init__(self, policy: AddressPolicy, *, host_connections: int = 6, byte_limit: int = 0, timeout: float = 15):
        self.policy = policy
        self.host_connections = host_connections
        self.byte_limit = byte_limit  # 0: none
        self.timeout = timeout
        self.traffic = CaptureTraffic()
        # Marks the proxy's own refusals; a site cannot forge it to pass its answers off as ours.
        self.token = secrets.token_hex(12)
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> GuardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def reset(self, byte_limit: int | None = None) -> CaptureTraffic:
        """Start a new capture's record; returns the previous one."""
        previous, self.traffic = self.traffic, CaptureTraffic()
        if byte_limit is not None:
            self.byte_limit = byte_limit
        return previous

    async def drop_connections(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        if self._server:
            self._server.close()
        await self.drop_connections()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            await self._relay(reader, writer)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProxyError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _relay(self, reader, writer) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
        request_line, _, rest = head.partition(b"\r\n")
        method, target, _version = request_line.decode("latin-1").split(" ", 2)
        if method.upper() == "CONNECT":
            host, port = _host_port(target, 443)
            forward = b""
        else:
            parts = urlsplit(target)
            if parts.scheme != "http" or not parts.hostname:
                writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                return
            host, port = parts.hostname, parts.port or 80
            forward = _origin_request(method, parts, rest)
        connection = Connection(host, port)
        self.traffic.connections.append(connection)
        key = (id(asyncio.get_running_loop()), host)
        slot = _host_slots.setdefault(key, asyncio.Semaphore(self.host_connections))
        await asyncio.wait_for(slot.acquire(), self.timeout * 4)
        try:
            try:
                up_reader, up_writer = await self._open(connection)
            except (TimeoutError, AddressRefused, ProxyError, OSError) as error:
                connection.error = connection.error or f"{host}: {_reason(error)}"
                refusal = f"HTTP/1.1 502 Bad Gateway\r\nX-Kesu-Refused: {self.token}\r\nConnection: close\r\n\r\n"
                writer.write(refusal.encode())
                return
            if forward:
                up_writer.write(forward)
            else:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await self._pipe(reader, writer, up_reader, up_writer)
        finally:
            slot.release()

    async def _open(self, connection: Connection):
        host, port = connection.host, connection.port
        address = await resolve(self.policy, host, port, self.timeout)
        connection.address = address
        egress = self.policy.proxy_for(host)
        if egress is None:
            return await asyncio.wait_for(asyncio.open_connection(address, port, limit=HEAD_LIMIT), self.timeout)
        connection.via = egress.label
        return await asyncio.wait_for(_through(egress, address, port), self.timeout)

    async def _pipe(self, reader, writer, up_reader, up_writer) -> None:
        async def copy(source, sink, inbound: bool):
            try:
                while data := await source.read(CHUNK):
                    if inbound:
                        self.traffic.bytes_in += len(data)
                        if self.byte_limit and self.traffic.bytes_in > self.byte_limit:
                            self.traffic.byte_limit_hit = True
                            return
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if sink.can_write_eof() and not sink.is_closing():
                    try:
                        sink.write_eof()
                    except OSError:
                        pass

        # Either side closing ends the exchange: the browser does not half-close,
        # and a server that closed has nothing more to say.
        tasks = [
            asyncio.create_task(copy(reader, up_writer, False)),
            asyncio.create_task(copy(up_reader, writer, True)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            up_writer.close()


async def resolve(policy: AddressPolicy, host: str, port: int, timeout: float) -> str:
    """The first address of host that the policy permits; ProxyError or AddressRefused otherwise."""
    lookup = asyncio.get_running_loop().run_in_executor(None, names.permitted, policy, host, port)
    try:
        return await asyncio.wait_for(lookup, timeout)
    except (TimeoutError, names.Unresolved):
        raise ProxyError("name does not resolve") from None


def _host_port(target: str, default: int) -> tuple[str, int]:
    parts = urlsplit("//" + target)
    if not parts.hostname:
        raise ProxyError("bad CONNECT target")
    return parts.hostname, parts.port or default


def _origin_request(method: str, parts, rest: bytes) -> bytes:
    """Turn a proxy request (absolute URL) into the origin's form, one request per connection."""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [line for line in rest.split(b"\r\n") if line]
    hop = (b"proxy-connection:", b"proxy-authorization:", b"connection:", b"keep-alive:")
    kept = [line for line in lines if not line.lower().startswith(hop)]
    return b"\r\n".join([f"{method} {path} HTTP/1.1".encode(), *kept, b"Connection: close", b"", b""])


async def _through(egress: EgressProxy, address: str, port: int):
    reader, writer = await asyncio.open_connection(egress.host, egress.port, limit=HEAD_LIMIT)
    try:
        if egress.scheme == "http":
            await _http_connect(reader, writer, egress, address, port)
        else:
            await _socks5_connect(reader, writer, egress, address, port)
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def _http_connect(reader, writer, egress: EgressProxy, address: str, port: int) -> None:
    target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if egress.username:
        token = base64.b64encode(f"{egress.username}:{egress.password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1:2]
    if status != [b"200"]:
        raise ProxyError(f"egress proxy {egress.label} refused CONNECT ({head[:40].decode('latin-1').strip()})")


async def _socks5_connect(reader, writer, egress: EgressProxy, address: str, port: int) -> None:
    methods = b"\x00\x02" if egress.username else b"\x00"
    writer.write(b"\x05" + bytes([len(methods)]) + methods)
    version, method = await reader.readexactly(2)
    if version != 5 or method == 0xFF:
        raise ProxyError(f"egress proxy {egress.label} refused the SOCKS handshake")
    if method == 2:
        user, password = egress.username.encode(), egress.password.encode()
        writer.write(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        if (await reader.readexactly(2))[1] != 0:
            raise ProxyError(f"egress proxy {egress.label} refused the credentials")
    ip = ipaddress.ip_address(address)
    kind = b"\x01" if ip.version == 4 else b"\x04"
    writer.write(b"\x05\x01\x00" + kind + ip.packed + port.to_bytes(2, "big"))
    reply = await reader.readexactly(4)
    if reply[1] != 0:
        raise ProxyError(f"egress proxy {egress.label} could not connect (SOCKS reply {reply[1]})")
    length = {1: 4, 4: 16}.get(reply[3]) or (await reader.readexactly(1))[0]
    await reader.readexactly(length + 2)  # the bound address, unused


def _reason(error: Exception) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return "connection timed out"
    return str(error) or type(error).__name__
