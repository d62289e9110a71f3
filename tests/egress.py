"""Upstream proxies for the capture tests: a SOCKS5 and an HTTP CONNECT proxy on 127.0.0.1.

They stand in for the organisation's proxy with a Japanese address; each
records the targets it was asked to reach, so a test can see which traffic
went through it.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import socketserver
import threading


class _Relay(socketserver.BaseRequestHandler):
    def pipe(self, upstream: socket.socket) -> None:
        sockets = [self.request, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 30)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.request else self.request).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _Socks5(_Relay):
    def handle(self):
        conn = self.request
        _version, count = conn.recv(2)
        conn.recv(count)
        conn.sendall(b"\x05\x00")
        head = conn.recv(4)
        if head[3] == 1:
            host = str(ipaddress.ip_address(conn.recv(4)))
        elif head[3] == 4:
            host = str(ipaddress.ip_address(conn.recv(16)))
        else:
            host = conn.recv(conn.recv(1)[0]).decode()
        port = int.from_bytes(conn.recv(2), "big")
        self.server.targets.append((host, port))
        upstream = socket.create_connection((host, port), timeout=10)
        conn.sendall(b"\x05\x00\x00\x01" + bytes(4) + bytes(2))
        self.pipe(upstream)


class _HttpConnect(_Relay):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target, _ = head.split(b"\r\n")[0].decode().split(" ")
        host, _, port = target.rpartition(":")
        self.server.targets.append((host.strip("[]"), int(port)))
        upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        self.request.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.pipe(upstream)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class EgressProxy:
    """``with EgressProxy("socks5") as proxy: proxy.url, proxy.targets``."""

    def __init__(self, kind: str):
        handler = _Socks5 if kind == "socks5" else _HttpConnect
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.targets = []
        self.url = f"{kind}://127.0.0.1:{self.server.server_address[1]}"

    @property
    def targets(self) -> list[tuple[str, int]]:
        return self.server.targets

    def __enter__(self) -> EgressProxy:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
