"""Plain HTTP for the patrol: listings, item pages, thumbnails and re-checks, without a browser.

Every connection goes to an address the capture policy permits (names are
looked up by kesu.capture.names: pinned ones never), to exactly the address
that was checked, and every redirect is checked again. Bodies stop at a size
limit and the whole exchange at a deadline. TLS is verified. A site's egress proxy
(KESU_CAPTURE_PROXIES) is not spoken here: such hosts go to the browser,
which reaches them through the guard proxy.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from ..capture import names
from ..capture.policy import AddressPolicy, AddressRefused
from ..lib.bodies import read_body

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
MAX_REDIRECTS = 5


class NeedsBrowser(Exception):
    """The host is reached through an egress proxy: only the browser's guard proxy speaks to it."""


@dataclass
class Response:
    url: str
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False
    error: str = ""  # one line: refused, timeout, too large, ...
    address: str = ""

    @property
    def mime(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def retry_after(self, cap: float = 86400.0) -> float | None:
        """Seconds the server asked us to wait (Retry-After as seconds or an HTTP date), capped."""
        value = self.headers.get("retry-after", "").strip()
        if not value:
            return None
        if value.isdigit():
            return min(float(value), cap)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, min(when.timestamp() - time.time(), cap))


class _Connection(http.client.HTTPConnection):
    def __init__(self, address: str, host: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _TLSConnection(_Connection):
    def connect(self):
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def get(url: str, policy: AddressPolicy, *, limit: int, seconds: float, referer: str = "") -> Response:
    """GET url, following up to five redirects, each checked against the policy."""
    deadline = time.monotonic() + seconds
    for _ in range(MAX_REDIRECTS + 1):
        response = _once(url, policy, limit, deadline, {"Referer": referer} if referer else {})
        location = response.headers.get("location", "")
        if response.status not in (301, 302, 303, 307, 308) or not location:
            return response
        url = urljoin(url, location)
        if urlsplit(url).scheme not in ("http", "https"):
            return Response(url, error="redirect to a scheme other than http(s) refused")
    return Response(url, error=f"more than {MAX_REDIRECTS} redirects")


def post_json(url: str, policy: AddressPolicy, data: bytes, *, limit: int, seconds: float) -> Response:
    """POST a JSON body (no redirects followed: a service that moves is misconfigured)."""
    headers = {"Content-Type": "application/json"}
    return _once(url, policy, limit, time.monotonic() + seconds, headers, "POST", data)


def _once(
    url: str, policy: AddressPolicy, limit: int, deadline: float, extra: dict, method: str = "GET", data=None
) -> Response:
    parts = urlsplit(url)
    response = Response(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        response.error = "not an http(s) URL"
        return response
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if policy.proxy_for(host):
        raise NeedsBrowser(host)
    remaining = deadline - time.monotonic()
    try:
        response.address = names.permitted(policy, host, port)
        kind = _TLSConnection if parts.scheme == "https" else _Connection
        connection = kind(response.address, host, port, timeout=max(1.0, min(remaining, 30)))
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity", **extra}
            connection.request(method, path, body=data, headers=headers)
            answer = connection.getresponse()
            response.status = answer.status
            response.headers = {name.lower(): value for name, value in answer.getheaders()}
            _read(answer, response, limit, deadline)
        finally:
            connection.close()
    except AddressRefused as error:
        response.error = str(error)
    except TimeoutError:
        response.error = "timed out"
    except ssl.SSLError as error:
        response.error = f"TLS failed: {error.reason or error}"[:200]
    except (OSError, http.client.HTTPException) as error:
        response.error = (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)[:200]
    return response


def _read(answer, response: Response, limit: int, deadline: float) -> None:
    declared = answer.getheader("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        response.error = f"larger than the {_size(limit)} limit"
        return
    body = read_body(answer, limit, deadline)
    response.body, response.complete = body.data, body.complete
    if body.late:
        response.error = "body not complete in time"
    elif body.over_limit:
        response.error = f"larger than the {_size(limit)} limit"


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
