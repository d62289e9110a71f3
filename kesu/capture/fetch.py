"""Kesu's own requests during a capture, through the same guard proxy as the browser.

Used for what the browser did not fetch whole: media loaded by aborted range
requests, srcset candidates it skipped, stream segments the player never asked
for. No cookies, no referrer beyond the page itself, the browser's user agent.
Only http(s), always through the guard: the environment's proxy settings
(no_proxy among them) are ignored, and so is any redirect to another scheme.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..lib.bodies import read_body
from .record import Exchange

ERROR_BODY = 64 * 1024


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = 10

    def __init__(self, proxy_host: str):
        self.proxy_host = proxy_host

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a scheme other than http(s) refused", headers, fp)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.set_proxy(self.proxy_host, "http")
        return new


def fetch(
    url: str, *, proxy_url: str, user_agent: str, referer: str, limit: int, seconds: float, ident: str,
    refusal_token: str = "",
) -> Exchange:  # fmt: skip
    """GET url whole (up to limit bytes within seconds); the result is an Exchange of route "refetch"."""
    proxy_host = urlsplit(proxy_url).netloc
    # An empty ProxyHandler: no proxy from the environment, the guard is set on each request.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _GuardedRedirects(proxy_host))
    headers = {"User-Agent": user_agent, "Accept": "*/*", "Referer": referer, "Accept-Encoding": "identity"}
    exchange = Exchange(id=ident, url=url, route="refetch", started_at=datetime.now(UTC), resource_type="Other",
                        request_headers=list(headers.items()))  # fmt: skip
    if urlsplit(url).scheme not in ("http", "https"):
        exchange.error = "re-fetch refused: not an http(s) URL"
        return exchange
    request = urllib.request.Request(url, headers=headers)
    request.set_proxy(proxy_host, "http")
    deadline = time.monotonic() + seconds
    try:
        with opener.open(request, timeout=min(seconds, 30)) as response:
            exchange.status, exchange.status_text = response.status, response.reason
            exchange.response_headers = list(response.headers.items())
            exchange.mime_type = response.headers.get_content_type()
            exchange.final_url = response.url
            _read(response, exchange, limit, deadline, seconds)
    except urllib.error.HTTPError as error:
        _http_error(exchange, error, refusal_token)
    except (urllib.error.URLError, OSError, ValueError, AttributeError) as error:
        reason = getattr(error, "reason", error)
        exchange.error = f"re-fetch failed: {str(reason)[:200]}"
    exchange.finished_at = datetime.now(UTC)
    return exchange


def _http_error(exchange: Exchange, error: urllib.error.HTTPError, refusal_token: str) -> None:
    headers = error.headers or {}
    if refusal_token and headers.get("X-Kesu-Refused") == refusal_token:
        exchange.error = "re-fetch refused by the capture policy"
        return
    exchange.status, exchange.status_text = error.code, str(error.reason)
    exchange.response_headers = list(headers.items()) if hasattr(headers, "items") else []
    body = error.read(ERROR_BODY + 1) if error.fp else b""
    exchange.body, exchange.complete = body[:ERROR_BODY], len(body) <= ERROR_BODY
    if not exchange.complete:
        exchange.incomplete_reason = "error page larger than 64 KB; kept the start"


def _read(response, exchange: Exchange, limit: int, deadline: float, seconds: float) -> None:
    body = read_body(response, limit, deadline, chunk=256 * 1024)
    exchange.body, exchange.complete = body.data, body.complete
    if body.late:
        exchange.incomplete_reason = f"body not complete after {seconds:g} s"
    elif body.over_limit:
        exchange.incomplete_reason = f"body larger than the {limit // (1024 * 1024)} MB limit"
