"""The demo web: small fake sites that Kesu serves on loopback for the demo, the patrol tests and its benchmark.

One threaded HTTP server answers for every site of kesu.demo.sites, choosing the site by the Host
header; the names end in ``.test`` and are pinned to the server's address by ``host_rules()`` (for
KESU_CAPTURE_HOSTS), so no name is ever looked up. An SMTP server beside it takes the desk's
notices and applies each site's removal behaviour to the URLs they name. ``catalogue()`` describes
every item (endless.test's are infinite and left out).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import sys
import threading
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .media import MediaStore, thumbnail
from .pages import NOT_FOUND, Item, Response, Site
from .sites import SITES, Changing

URL = re.compile(r"https?://[^\s<>\"']+")


def _parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """One byte range as (start, stop); None to send it all (RFC 9110 allows ignoring ranges); False: 416."""
    spec = re.fullmatch(r"bytes=(\d*)-(\d*)", header.replace(" ", ""))
    if not spec or spec.groups() == ("", ""):
        return None
    first, last = spec.groups()
    if not first:
        tail = min(int(last), size)
        return (size - tail, size) if tail else False
    start, stop = int(first), min(int(last) + 1, size) if last else size
    if start >= size:
        return False
    return (start, stop) if stop > start else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):
        pass  # the demo web's log is DemoWeb.requests

    def do_GET(self):
        self.respond(head=False)

    def do_HEAD(self):
        self.respond(head=True)

    def respond(self, head: bool) -> None:
        web = self.server.web
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip().lower().rstrip(".")
        split = urlsplit(self.path)
        site = web.sites.get(host)
        query = {key: values[0] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        response = site.handle(split.path, query) if site else NOT_FOUND
        self.send(response, head, host)

    def send(self, response: Response, head: bool, host: str) -> int:
        body, status, headers = response.body, response.status, dict(response.headers)
        if status == 200 and not response.content_type.startswith("text/"):
            headers["Accept-Ranges"] = "bytes"
            wanted = _parse_range(self.headers["Range"], len(body)) if "Range" in self.headers else None
            if wanted is False:
                status, headers["Content-Range"], body = 416, f"bytes */{len(body)}", b""
            elif wanted:
                start, stop = wanted
                headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(body)}"
                status, body = 206, body[start:stop]
        self.server.web.record(host, self.path, status)  # before answering: a client may look right after
        self.send_response(status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)
        return status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], web: DemoWeb):
        super().__init__(address, _Handler)
        self.web = web

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a crawler hanging up mid-answer is normal
            super().handle_error(request, client_address)


class _Mailbox:
    """aiosmtpd handler: keep every message and let the sites act on it."""

    def __init__(self, web: DemoWeb):
        self.web = web

    async def handle_DATA(self, server, session, envelope) -> str:
        content = bytes(envelope.original_content or envelope.content)
        self.web.mailbox.append(content)
        await asyncio.get_running_loop().run_in_executor(None, self.web.notice_received, _plain_text(content))
        return "250 Message accepted"


def _plain_text(message: bytes) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(message)
    return "\n".join(part.get_content() for part in parsed.walk() if part.get_content_type() == "text/plain")


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class DemoWeb:
    """The demo sites on one HTTP port and their abuse desks on one SMTP port."""

    def __init__(
        self,
        directory: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        smtp_port: int = 0,
        ban_after: int = 30,
        removal_delay: float = 0.0,
    ):
        self.store = MediaStore(Path(directory) / "media")
        self.host, self.port, self.smtp_port = host, port, smtp_port
        self.ban_after, self.removal_delay = ban_after, removal_delay
        self.requests: list[tuple[str, str, int]] = []
        self.mailbox: list[bytes] = []
        self._lock = threading.Lock()
        self._thumbnails: dict[str, bytes] = {}
        self.hls: dict[str, bytes] = {}
        self.sites: dict[str, Site] = {}
        self._server: _Server | None = None
        self._smtp = None

    def start(self) -> DemoWeb:
        self.store.build()
        self.hls = self.store.hls_files()
        self.reset()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="demo-web", daemon=True).start()
        self._start_smtp()
        return self

    def _start_smtp(self) -> None:
        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # it logs every SMTP command at INFO
        self.smtp_port = self.smtp_port or _free_port(self.host)
        # A greeting name of its own: aiosmtpd would look the machine's name up.
        self._smtp = Controller(_Mailbox(self), hostname=self.host, port=self.smtp_port, server_hostname="mail.test")
        self._smtp.start()

    def stop(self) -> None:
        if self._smtp:
            self._smtp.stop()
            self._smtp = None
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DemoWeb:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, site: str, path: str = "/") -> str:
        return f"http://{site}:{self.port}{path}"

    def host_rules(self) -> str:
        """For KESU_CAPTURE_HOSTS: every .test name goes to this server, without a DNS query."""
        return f"*.test={self.host}"

    def thumbnail(self, variant: str) -> bytes:
        if variant not in self._thumbnails:
            self._thumbnails[variant] = thumbnail(self.store.read(variant))
        return self._thumbnails[variant]

    def record(self, site: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((site, path, status))

    def reset(self) -> None:
        """Back to the start: every item up, counters and logs empty, changing.test on layout A."""
        with self._lock:
            self.sites = {site.name: site(self) for site in SITES}
            self.requests.clear()
            self.mailbox.clear()

    def set_layout(self, site: str, layout: str) -> None:
        changing = self.sites[site]
        if not isinstance(changing, Changing):
            raise ValueError(f"{site} has one layout")
        with self._lock:
            changing.set_layout(layout)

    def notice_received(self, text: str) -> list[str]:
        """Remove what the notice names, each site in its own way; the URLs acted on."""
        acted = []
        with self._lock:
            for url in dict.fromkeys(match.rstrip(".,;:)]}") for match in URL.findall(text)):
                split = urlsplit(url)
                site = self.sites.get((split.hostname or "").lower())
                item = site and (site.pages.get(split.path) or site.files.get(split.path, (None,))[0])
                if item and site.remove(item):
                    acted.append(url)
        return acted

    def catalogue(self) -> list[dict]:
        """Every item of every site (endless.test's are infinite and left out)."""
        entries = []
        for site in self.sites.values():
            for item in site.items:
                if item.original is None:
                    entries.append(self._entry(site, item))
        return entries

    def _entry(self, site: Site, item: Item) -> dict:
        entry = {
            "site": site.name,
            "url": self.url(site.name, item.page),
            "title": item.title,
            "media": [self.url(site.name, path) for path in item.media],
            "extra": [self.url(site.name, path) for path in item.extra],
            "variant": item.variant,
            "behaviour": item.behaviour,
        }
        if item.behaviour == "reupload":
            entry["reupload_url"] = self.url(site.name, f"{item.page}-re1")
        return entry

    def base_urls(self) -> list[str]:
        return [self.url(name) for name in self.sites]
