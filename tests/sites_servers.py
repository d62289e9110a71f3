"""Real servers on loopback for the site resolution tests: DNS (UDP and TCP), RDAP (HTTP), WHOIS (TCP 43-style)
and a web server whose response headers carry CDN signatures.

Each records what it was asked, so a test can see which queries went out and
in what form (punycode, RDAP paths, WHOIS query lines).
"""

from __future__ import annotations

import datetime
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

RDAP_DATA = Path(__file__).parent / "data" / "rdap"


# --- DNS ------------------------------------------------------------------------


class DnsServer:
    """A recursive-looking DNS server answering from a dict zone, on UDP and TCP of one port.

    ``zone``: name -> {"A": [...], "AAAA": [...], "CNAME": "target", "NS": [...], "MX": ["10 mx.example."],
    "TXT": ["text"]}. A name not in the zone is NXDOMAIN; names in ``silent`` get
    no answer at all (a timeout); names in ``truncate`` are answered over UDP
    with the TC bit and no records, so the client has to ask again over TCP.
    CNAMEs inside the zone are followed into the answer, as a resolver does.
    """

    def __init__(self, zone: dict, host: str = "127.0.0.1", silent=(), truncate=()):
        self.zone = {self._key(name): entry for name, entry in zone.items()}
        self.host, self.silent, self.truncate = host, {self._key(n) for n in silent}, {self._key(n) for n in truncate}
        self.queries: list[tuple[str, str, str]] = []  # (udp|tcp, name, type)
        self._stop = threading.Event()

    @staticmethod
    def _key(name: str) -> str:
        return name.lower().rstrip(".")

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def serve(self, name: str, **records) -> None:
        """Answer name from now on, e.g. ``serve("leak.example", A=["127.0.0.1"])``."""
        self.zone[self._key(name)] = records

    def names_asked(self, rdtype: str | None = None) -> list[str]:
        return [name for _, name, kind in self.queries if rdtype is None or kind == rdtype]

    def __enter__(self) -> DnsServer:
        for _ in range(20):  # the same port number must be free on UDP and TCP
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, 0))
            self.port = udp.getsockname()[1]
            try:
                self.tcp = socketserver.ThreadingTCPServer((self.host, self.port), self._tcp_handler())
                break
            except OSError:
                udp.close()
        self.tcp.daemon_threads = True
        self.udp = udp
        self.udp.settimeout(0.1)
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self.tcp.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.tcp.shutdown()
        self.tcp.server_close()
        for thread in self._threads:
            thread.join(5)
        self.udp.close()

    def _serve_udp(self):
        while not self._stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.respond(wire, "udp")
            if reply is not None:
                self.udp.sendto(reply, peer)

    def _tcp_handler(self):
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                self.request.settimeout(5)
                while True:
                    head = self.request.recv(2)
                    if len(head) < 2:
                        return
                    (length,) = struct.unpack("!H", head)
                    wire = b""
                    while len(wire) < length:
                        chunk = self.request.recv(length - len(wire))
                        if not chunk:
                            return
                        wire += chunk
                    reply = server.respond(wire, "tcp")
                    if reply is None:
                        time.sleep(2)  # the client gives up first
                        return
                    self.request.sendall(struct.pack("!H", len(reply)) + reply)

        return Handler

    def respond(self, wire: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except (dns.exception.DNSException, IndexError):
            return None
        name, rdtype = self._key(question.name.to_text()), dns.rdatatype.to_text(question.rdtype)
        self.queries.append((transport, name, rdtype))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if transport == "udp" and name in self.truncate:
            response.flags |= dns.flags.TC
            return response.to_wire()
        self._answer(response, name, rdtype)
        return response.to_wire()

    def _answer(self, response, name: str, rdtype: str) -> None:
        current, seen = name, set()
        while current not in seen:
            seen.add(current)
            entry = self.zone.get(current)
            if entry is None:
                if current == name:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                return
            if "CNAME" in entry and rdtype != "CNAME":
                response.answer.append(_rrset(current, "CNAME", [entry["CNAME"]]))
                current = self._key(entry["CNAME"])
                continue
            if entry.get(rdtype):
                response.answer.append(_rrset(current, rdtype, entry[rdtype]))
            return


def _rrset(name: str, rdtype: str, values) -> dns.rrset.RRset:
    values = [values] if isinstance(values, str) else list(values)
    if rdtype in ("CNAME", "NS"):
        values = [v if v.endswith(".") else v + "." for v in values]
    elif rdtype == "MX":
        values = [v if v.endswith(".") else v + "." for v in values]
    elif rdtype == "TXT":
        values = [json.dumps(v) for v in values]  # a quoted character-string
    return dns.rrset.from_text_list(dns.name.from_text(name), 300, "IN", rdtype, values)


# --- HTTP: RDAP and a CDN-fronted web site ------------------------------------------


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


class RdapServer:
    """RFC 9083 answers from tests/data/rdap/*.json, by request path.

    ``routes``: path -> a file name in tests/data/rdap, or ("sleep", seconds),
    ("garbage", bytes, content type), ("redirect", location), ("status", code).
    ``{{server}}`` in a file becomes this server's base URL (for "related"
    links between the registry's and the registrar's records). Anything else
    is a 404 with an RFC 9083 error object.
    """

    def __init__(self, routes: dict | None = None, host: str = "127.0.0.1"):
        self.routes = dict(routes or {})
        self.requests: list[tuple[str, str]] = []  # (path, Accept header)
        server = self

        class Handler(_QuietHandler):
            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Accept", "")))
                server.serve(self)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://{host}:{self.httpd.server_address[1]}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(handler.path)
        if route is None:
            error = {"errorCode": 404, "title": "Not Found", "description": [f"{handler.path} is not here"]}
            return _send(handler, 404, json.dumps(error).encode(), "application/rdap+json")
        if isinstance(route, str):
            body = (RDAP_DATA / route).read_text(encoding="utf-8").replace("{{server}}", self.base)
            return _send(handler, 200, body.encode(), "application/rdap+json")
        kind = route[0]
        if kind == "sleep":
            time.sleep(route[1])
            return _send(handler, 200, b"{}", "application/rdap+json")
        if kind == "garbage":
            return _send(handler, 200, route[1], route[2])
        if kind == "redirect":
            handler.send_response(301)
            handler.send_header("Location", route[1].replace("{{server}}", self.base))
            handler.send_header("Content-Length", "0")
            return handler.end_headers()
        return _send(handler, route[1], b"", "text/plain")

    def __enter__(self) -> RdapServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _send(handler, status: int, body: bytes, content_type: str) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:  # the client gave up (the timeout tests)
        pass


class WebServer:
    """A site answering every GET with the given response headers, over HTTP and (with a made-up certificate) HTTPS."""

    def __init__(self, headers: dict[str, str], host: str = "127.0.0.1", tls_dir: Path | None = None):
        self.headers, self.hosts = headers, []
        server = self

        class Handler(_QuietHandler):
            def do_GET(self):
                server.hosts.append(self.headers.get("Host", ""))
                self.send_response(200)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.http = ThreadingHTTPServer((host, 0), Handler)
        self.https = ThreadingHTTPServer((host, 0), Handler)
        if tls_dir is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*_self_signed(tls_dir))
            self.https.socket = context.wrap_socket(self.https.socket, server_side=True)
        for httpd in (self.http, self.https):
            httpd.daemon_threads = True
        self.http_port, self.https_port = self.http.server_address[1], self.https.server_address[1]

    def __enter__(self) -> WebServer:
        self.threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
                        for s in (self.http, self.https)]  # fmt: skip
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        for httpd in (self.http, self.https):
            httpd.shutdown()
            httpd.server_close()


def _self_signed(directory: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cdn-fronted.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


# --- WHOIS ------------------------------------------------------------------------------


class WhoisServer:
    """RFC 3912: reads one query line, writes the answer for it and closes.

    ``answers``: query line -> text, or ("sleep", seconds), or ("garbage", bytes). Unknown queries get a
    Verisign-style "No match" answer.
    """

    def __init__(self, answers: dict, host: str = "127.0.0.1"):
        self.answers, self.queries = dict(answers), []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                line = self.rfile.readline(1024).decode("ascii", "replace").strip()
                server.queries.append(line)
                answer = server.answers.get(line, f'No match for "{line.upper()}".\r\n')
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    return
                data = answer[1] if isinstance(answer, tuple) else answer.encode("utf-8")
                try:
                    self.wfile.write(data)
                except OSError:
                    pass

        self.tcp = socketserver.ThreadingTCPServer((host, 0), Handler)
        self.tcp.daemon_threads = True
        self.address = (host, self.tcp.server_address[1])

    def __enter__(self) -> WhoisServer:
        self.thread = threading.Thread(target=self.tcp.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.tcp.shutdown()
        self.tcp.server_close()
        self.thread.join(5)
