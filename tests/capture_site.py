"""A local web site for the capture tests: real pages, real media, known hashes.

``CaptureSite(directory)`` makes every medium in ``directory`` (Pillow images,
ffmpeg H.264/AAC clips, HLS and DASH sets) and serves it from three threaded
servers: the "origin" (127.0.0.1) with the pages, a "CDN" (127.0.0.2, another
origin for the browser) with most media, and an HTTPS server with a self-signed
certificate. ``expected`` maps a name to the URL, kind, size and SHA-256 of
what is served, so a test can check that a capture recorded exactly those bytes.

Page templates live in tests/site/{origin,cdn,tls}; ``{{origin}}`` and
``{{cdn}}`` in them become the servers' base URLs. hls.js and dash.js are
served from tests/site/node_modules (``npm ci --prefix tests/site``).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import ipaddress
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image, ImageDraw, ImageFont

SITE = Path(__file__).parent / "site"
# Only these two packages' dist folders are served, as /vendor/<package>/<file>.
VENDOR = {name: SITE / "node_modules" / name / "dist" for name in ("hls.js", "dashjs")}
FFMPEG = "/usr/bin/ffmpeg"

CHUNK = 256 * 1024
HUGE_SIZE = 5_000_000_000
# /huge.bin's content: byte i is i % 256. Doubled so any slice of up to 1 MiB
# starting anywhere in the first half is one zero-copy memoryview.
_PATTERN = bytes(range(256)) * 4096
_HUGE = memoryview(_PATTERN * 2)

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".map": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mpd": "application/dash+xml",
    ".m4s": "video/iso.segment",
}
COMPRESSIBLE = {".html", ".css", ".js"}

# Images: name -> (server, path, size). Page is all.html unless PAGE_OF says otherwise.
IMAGES = {
    "plain": ("cdn", "img/plain.png", (200, 150)),
    "srcset-1x": ("cdn", "img/srcset-1x.jpg", (200, 150)),
    "srcset-2x": ("cdn", "img/srcset-2x.jpg", (400, 300)),
    "srcset-3x": ("cdn", "img/srcset-3x.jpg", (600, 450)),
    "picture-webp": ("cdn", "img/picture.webp", (200, 150)),
    "picture-fallback": ("cdn", "img/picture-fallback.jpg", (200, 150)),
    "bg-css": ("cdn", "img/bg-css.png", (200, 150)),
    "bg-inline": ("cdn", "img/bg-inline.png", (200, 150)),
    "lazy-native": ("cdn", "img/lazy-native.jpg", (200, 150)),
    "lazy-io": ("cdn", "img/lazy-io.jpg", (200, 150)),
    "delayed": ("cdn", "img/delayed.jpg", (200, 150)),
    "blob": ("cdn", "img/blob.png", (200, 150)),
    "canvas-source": ("cdn", "img/canvas-source.png", (320, 240)),
    "iframe": ("cdn", "img/iframe.png", (200, 150)),
    "simple-image": ("cdn", "img/simple.png", (200, 150)),
    "malformed": ("cdn", "img/malformed.png", (200, 150)),
    "popups": ("cdn", "img/popups.png", (200, 150)),
    "tls": ("tls", "tls.png", (200, 150)),
}
PAGE_OF = {
    "simple-image": "/simple.html",
    "simple-video": "/simple.html",
    "malformed": "/malformed.html",
    "popups": "/popups.html",
}
CANVAS_SIZE = (320, 240)  # as in all.html's <canvas>
MEDIA50 = 50


def _ffmpeg(clip: str, options: str, *outputs: Path) -> list[str]:
    """An ffmpeg command line: the clip's inputs, encoders and options, then the outputs."""
    return [FFMPEG, "-nostdin", "-loglevel", "error", "-y", *clip.split(), *options.split(), *map(str, outputs)]


def _clip(size: str, seconds: int, tone: int | None = None) -> str:
    """A moving test pattern (and a sine tone) encoded H.264 (+ AAC), which Chromium plays."""
    pattern = f"-f lavfi -i testsrc2=size={size}:rate=25:duration={seconds}"
    if not tone:
        return f"{pattern} -c:v libx264 -pix_fmt yuv420p"
    sine = f"-f lavfi -i sine=frequency={tone}:duration={seconds}"
    return f"{pattern} {sine} -c:v libx264 -pix_fmt yuv420p -c:a aac -b:a 64k"


MP4 = "-preset veryfast -b:v 150k -movflags +faststart"
# A keyframe every 2 s exactly, so the HLS/DASH muxers cut 2 s segments.
HLS = "-g 50 -keyint_min 50 -sc_threshold 0 -f hls -hls_time 2 -hls_playlist_type vod -hls_segment_filename"
DASH = (
    "-g 50 -keyint_min 50 -sc_threshold 0 -f dash -seg_duration 2 -use_template 1 -use_timeline 1"
    " -init_seg_name init.m4s -media_seg_name seg-$Number$.m4s"
)


def _video_jobs(cdn: Path) -> list[list[str]]:
    """ffmpeg command lines, run in parallel (the large clip takes longest, ~2 s)."""
    return [
        _ffmpeg(_clip("320x240", 4, 440), MP4, cdn / "video/small.mp4"),  # ~100 KB
        _ffmpeg(_clip("256x192", 2, 660), MP4, cdn / "video/simple.mp4"),
        # ~30 MB: big enough that Chromium streams it over a while and aborts what it doesn't need.
        _ffmpeg(_clip("1280x720", 20, 330), "-preset ultrafast -b:v 12M -movflags +faststart", cdn / "video/large.mp4"),
        _ffmpeg(_clip("320x240", 8, 550), HLS, cdn / "hls/seg%d.ts", cdn / "hls/index.m3u8"),
        # Other segment names than hls/, so even the two playlists differ.
        _ffmpeg(_clip("352x288", 8, 770), HLS, cdn / "native/native%d.ts", cdn / "native/index.m3u8"),
        # One video-only representation: an init segment and 2 s media segments.
        _ffmpeg(_clip("320x240", 8), DASH, cdn / "dash/manifest.mpd"),
    ]


def make_image(path: Path, label: str, size: tuple[int, int]) -> None:
    """A picture that shows its own name in colours drawn from it, so no two files share bytes."""
    seed = hashlib.sha256(label.encode()).digest()
    width, height = size
    image = Image.new("RGB", size, tuple(seed[0:3]))
    draw = ImageDraw.Draw(image)
    for i in range(3):
        x, y, r = seed[3 + i] * width // 256, seed[6 + i] * height // 256, width // 5
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(seed[9 + 3 * i : 12 + 3 * i]))
    font = ImageFont.load_default(size=max(12, height // 8))
    draw.text((8, 8), label, fill="white", font=font, stroke_width=2, stroke_fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def _self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (which no browser trusts)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kesu test site")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


UNSATISFIABLE = "unsatisfiable"


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte of a single range, UNSATISFIABLE, or None to ignore the header and send
    everything, which RFC 9110 allows (used for several ranges and for syntax we don't understand)."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        if int(last) == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - int(last)), size - 1
    if last and int(last) < int(first):
        return None
    if int(first) >= size:
        return UNSATISFIABLE
    return int(first), min(int(last), size - 1) if last else size - 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, site: CaptureSite, host: str, root: Path, tls: ssl.SSLContext | None = None, pages=False):
        self.site, self.root, self.tls, self.pages = site, root, tls, pages
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__((host, 0), _Handler)

    def get_request(self):
        connection, address = super().get_request()
        if self.tls:  # the handshake happens in the handler's thread, not in the accept loop
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        with self.lock:
            self.connections.add(connection)
        return connection, address

    def shutdown_request(self, request):
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A client that went away (or a failed TLS handshake, or stop() cutting a connection) is normal
        # here; anything else is a bug in this file and keeps its traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def cut_connections(self):
        """Unblock every handler stuck reading or writing. socket.socket.shutdown, not SSLSocket's,
        which would drop the TLS state under a thread still using it."""
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "KesuTestSite/1"
    protocol_version = "HTTP/1.0"  # one request per connection: no keep-alive to manage

    def log_message(self, format, *args):
        pass

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def end_headers(self):
        # Media are fetched cross-origin by fetch(), hls.js, dash.js and a CORS <img> for the canvas.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", "Content-Length, Content-Range, Accept-Ranges")
        super().end_headers()

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self.respond(head=True)

    def do_GET(self):
        self.respond(head=False)

    def respond(self, head: bool):
        path = urlsplit(self.path).path
        if self.server.pages:
            special = {"/never": self.never, "/slow": self.slow, "/huge.bin": self.huge}.get(path)
            if special:
                return special(head)
            if path == "/redirect-loop" or path.startswith("/redirect-loop/"):
                return self.redirect_loop(path)
            if path.startswith("/vendor/"):
                return self.send_file(self.vendor_file(path), head)
        return self.send_file(self.site_file(path), head)

    def site_file(self, path: str) -> Path | None:
        if path.endswith("/"):
            path += "index.html"
        file = (self.server.root / path.lstrip("/")).resolve()
        return file if file.is_relative_to(self.server.root.resolve()) else None

    def vendor_file(self, path: str) -> Path | None:
        parts = path.split("/")  # "", "vendor", package, file
        return VENDOR[parts[2]] / parts[3] if len(parts) == 4 and parts[2] in VENDOR else None

    def send_file(self, file: Path | None, head: bool):
        if file is None or not file.is_file():
            return self.send_error(404)
        content_type = TYPES.get(file.suffix, "application/octet-stream")
        if (
            file.suffix in COMPRESSIBLE
            and "gzip" in self.headers.get("Accept-Encoding", "")
            and "Range" not in self.headers
        ):
            # Pages, scripts and stylesheets go gzipped so a capture must keep decoded bodies apart from wire bytes.
            body = gzip.compress(file.read_bytes(), mtime=0)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)
            return

        def chunks(start: int, stop: int):
            with file.open("rb") as stream:
                stream.seek(start)
                while start < stop and (data := stream.read(min(CHUNK, stop - start))):
                    start += len(data)
                    yield data

        self.send_ranged(file.stat().st_size, content_type, chunks, head)

    def send_ranged(self, size: int, content_type: str, chunks, head: bool):
        """200 with everything, or 206 with the one range asked for, or 416; chunks(start, stop) yields bytes."""
        first, last, status = 0, size - 1, 200
        wanted = parse_range(self.headers["Range"], size) if "Range" in self.headers else None
        if wanted == UNSATISFIABLE:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if wanted:
            (first, last), status = wanted, 206
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(last - first + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if not head:
            for chunk in chunks(first, last + 1):
                if self.server.site.stopping.is_set():
                    return
                self.wfile.write(chunk)

    # Bad pages ---------------------------------------------------------------------------------

    def redirect_loop(self, path: str):
        hop = int(path.rsplit("/", 1)[1]) if path.rsplit("/", 1)[1].isdigit() else 0
        self.send_response(302)
        self.send_header("Location", f"/redirect-loop/{hop + 1}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def never(self, head: bool):
        """Headers and half a page, then nothing until the client leaves or the site stops."""
        self.send_response(200)
        self.send_header("Content-Type", TYPES[".html"])
        self.end_headers()
        if head:
            return
        self.wfile.write(b"<!doctype html><html><head><title>Never</title></head><body><p>This page never ends")
        while not self.server.site.stopping.wait(0.5):
            if self.client_gone():
                return

    def slow(self, head: bool):
        """A whole, valid page at one byte a second."""
        body = b"<!doctype html><html><head><title>Slow</title></head><body><p>One byte a second.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", TYPES[".html"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for i in range(0 if head else len(body)):
            self.wfile.write(body[i : i + 1])
            if self.server.site.stopping.wait(1):
                return

    def huge(self, head: bool):
        """5 GB that exist only as they are sent."""

        def chunks(start: int, stop: int):
            while start < stop:
                offset = start % len(_PATTERN)
                length = min(len(_PATTERN), stop - start)
                yield _HUGE[offset : offset + length]
                start += length

        self.send_ranged(HUGE_SIZE, "application/octet-stream", chunks, head)

    def client_gone(self) -> bool:
        """True once the client closed its side (the socket reads end of file)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True


class CaptureSite:
    """The test site. Use ``with CaptureSite(directory) as site:`` or start()/stop().

    After start: ``origin``, ``cdn`` (base URLs, no trailing slash), ``tls_url`` (the HTTPS page),
    ``tls_certificate`` (its PEM, to trust it deliberately) and ``expected``:
    name -> {"url", "sha256", "kind" ("image"|"video"|"canvas"), "size", "page"} where "page" is the
    absolute URL of the page that shows the medium. Joined HLS/DASH entries also have "parts" (URLs
    in order); the canvas has "width", "height" and "selector" and no sha256/size.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.stopping = threading.Event()
        self.expected: dict[str, dict] = {}
        self.servers: list[_Server] = []
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> CaptureSite:
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def url(self, path: str) -> str:
        """An absolute URL on the origin, e.g. site.url("/all.html")."""
        return self.origin + path

    def on_page(self, path: str) -> dict[str, dict]:
        """The expected entries shown by one origin page, e.g. site.on_page("/all.html")."""
        return {name: entry for name, entry in self.expected.items() if entry["page"] == self.url(path)}

    def start(self):
        missing = [str(folder) for folder in VENDOR.values() if not folder.is_dir()]
        if missing:
            raise RuntimeError(f"missing {', '.join(missing)}: run npm ci --prefix tests/site")
        for name in ("origin", "cdn", "tls", "certificate"):
            shutil.rmtree(self.directory / name, ignore_errors=True)
        self.tls_certificate = self.directory / "certificate" / "cert.pem"
        # Bind first: the pages and the expected URLs need the ports.
        self.servers = [
            _Server(self, "127.0.0.1", self.directory / "origin", pages=True),
            _Server(self, "127.0.0.2", self.directory / "cdn"),
            _Server(self, "127.0.0.1", self.directory / "tls", tls=_self_signed(self.tls_certificate.parent)),
        ]
        origin, cdn, tls = (server.server_address[1] for server in self.servers)
        self.origin, self.cdn = f"http://127.0.0.1:{origin}", f"http://127.0.0.2:{cdn}"
        self.tls_url = f"https://127.0.0.1:{tls}/"
        try:
            self._generate()
        except BaseException:
            for server in self.servers:
                server.server_close()
            raise
        for server in self.servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for server in self.servers[: len(self.threads)]:
            server.shutdown()  # accepts nothing more (waits for serve_forever, so only on running servers)
        for server in self.servers:
            server.cut_connections()
            server.server_close()  # closes the listener and joins the (now unblocked) handler threads
        for thread in self.threads:
            thread.join()

    # Generation --------------------------------------------------------------------------------

    def _generate(self):
        cdn = self.directory / "cdn"
        for folder in ("video", "hls", "native", "dash"):
            (cdn / folder).mkdir(parents=True)
        encoders = [
            subprocess.Popen(job, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for job in _video_jobs(cdn)
        ]
        try:
            self._render_pages()
            for name, (server, path, size) in IMAGES.items():
                make_image(self.directory / server / path, name, size)
            self._media50()
        finally:
            failures = [(job.args, job.communicate()[1].decode()) for job in encoders if job.wait()]
        if failures:
            raise RuntimeError(f"ffmpeg failed: {failures}")
        self._fill_expected()

    def _render_pages(self):
        junk = b"\x00\xff\xfe\xc3\x28\x80 \xed\xa0\x80 &#xD800; &bogus; <\x01\x7f>"
        templates = [file for top in ("origin", "cdn", "tls") for file in (SITE / top).rglob("*") if file.is_file()]
        for template in templates:
            where = template.relative_to(SITE)
            text = template.read_bytes().replace(b"{{origin}}", self.origin.encode())
            text = text.replace(b"{{cdn}}", self.cdn.encode()).replace(b"{{junk}}", junk)
            (self.directory / where).parent.mkdir(parents=True, exist_ok=True)
            (self.directory / where).write_bytes(text)

    def _media50(self):
        """/media50.html: 40 images from the CDN and 10 from the origin; the last 10 lazy, far below."""
        tags = []
        for i in range(MEDIA50):
            server = "origin" if i % 5 == 4 else "cdn"
            make_image(self.directory / server / f"m50/{i:02}.jpg", f"m50-{i:02}", (160, 120))
            if i == 40:
                tags.append('<div style="height: 5000px"></div>')
            lazy = ' loading="lazy"' if i >= 40 else ""
            base = self.origin if server == "origin" else self.cdn
            tags.append(f'<img src="{base}/m50/{i:02}.jpg" width="160" height="120"{lazy} alt="{i}">')
        page = (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Kesu capture test: 50 images'
            "</title></head>\n<body>\n<h1>50 images</h1>\n" + "\n".join(tags) + "\n</body></html>\n"
        )
        (self.directory / "origin" / "media50.html").write_text(page)

    def _entry(self, name: str, server: str, path: str, kind: str, page: str):
        file = self.directory / server / path
        base = {"origin": self.origin, "cdn": self.cdn, "tls": self.tls_url.rstrip("/")}[server]
        data = file.read_bytes()
        self.expected[name] = {
            "url": f"{base}/{path}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "kind": kind,
            "size": len(data),
            "page": page,
        }

    def _joined(self, name: str, parts: list[str], url: str, page: str):
        """The stream as one file: its parts' bytes concatenated in playback order."""
        data = b"".join((self.directory / "cdn" / part).read_bytes() for part in parts)
        self.expected[name] = {
            "url": url,
            "sha256": hashlib.sha256(data).hexdigest(),
            "kind": "video",
            "size": len(data),
            "page": page,
            "parts": [f"{self.cdn}/{part}" for part in parts],
        }

    def _fill_expected(self):
        all_page = self.url("/all.html")
        for name, (server, path, _) in IMAGES.items():
            page = self.tls_url if server == "tls" else self.url(PAGE_OF.get(name, "/all.html"))
            self._entry(name, server, path, "image", page)
        width, height = CANVAS_SIZE
        self.expected["canvas"] = {
            "url": all_page,
            "sha256": None,
            "kind": "canvas",
            "size": None,
            "page": all_page,
            "width": width,
            "height": height,
            "selector": "canvas#canvas",
        }
        self._entry("video-small", "cdn", "video/small.mp4", "video", all_page)
        self._entry("video-large", "cdn", "video/large.mp4", "video", all_page)
        self._entry("simple-video", "cdn", "video/simple.mp4", "video", self.url("/simple.html"))
        for prefix in ("hls", "native"):
            playlist = self.directory / "cdn" / prefix / "index.m3u8"
            self._entry(f"{prefix}-playlist", "cdn", f"{prefix}/index.m3u8", "video", all_page)
            segments = [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]
            for i, segment in enumerate(segments):
                self._entry(f"{prefix}-seg{i}", "cdn", f"{prefix}/{segment}", "video", all_page)
            parts = [f"{prefix}/{segment}" for segment in segments]
            self._joined(f"{prefix}-joined", parts, self.expected[f"{prefix}-playlist"]["url"], all_page)
        self._entry("dash-manifest", "cdn", "dash/manifest.mpd", "video", all_page)
        self._entry("dash-init", "cdn", "dash/init.m4s", "video", all_page)
        numbers = sorted(int(file.stem.split("-")[1]) for file in (self.directory / "cdn/dash").glob("seg-*.m4s"))
        for number in numbers:
            self._entry(f"dash-seg{number}", "cdn", f"dash/seg-{number}.m4s", "video", all_page)
        parts = ["dash/init.m4s"] + [f"dash/seg-{number}.m4s" for number in numbers]
        self._joined("dash-joined", parts, self.expected["dash-manifest"]["url"], all_page)
        for i in range(MEDIA50):
            server = "origin" if i % 5 == 4 else "cdn"
            self._entry(f"m50-{i:02}", server, f"m50/{i:02}.jpg", "image", self.url("/media50.html"))
