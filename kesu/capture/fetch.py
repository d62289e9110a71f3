"""Kesu's own requests during a capture, through the same guard proxy as the browser.

Used for what the browser did not fetch whole: media loaded by aborted range
requests, srcset candidates it skipped, stream segments the player never asked
for. No cookies, no referrer beyond the page itself, the browser's user agent.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

from .record import Exchange

_FORBIDDEN = {"cookie", "authorization", "range"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    max_redirections = 10


def fetch(
    url: str, *, proxy_url: str, user_agent: str, referer: str, limit: int, seconds: float, ident: str
) -> Exchange:
    """GET url whole (up to limit bytes within seconds); the result is an Exchange of route "refetch"."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy_url, "https": proxy_url}), _NoRedirect()
    )
    headers = {"User-Agent": user_agent, "Accept": "*/*", "Referer": referer, "Accept-Encoding": "identity"}
    request = urllib.request.Request(url, headers=headers)
    exchange = Exchange(
        id=ident,
        url=url,
        route="refetch",
        started_at=datetime.now(UTC),
        resource_type="Other",
        request_headers=list(headers.items()),
    )
    deadline = time.monotonic() + seconds
    try:
        with opener.open(request, timeout=min(seconds, 30)) as response:
            exchange.status, exchange.status_text = response.status, response.reason
            exchange.response_headers = list(response.headers.items())
            exchange.mime_type = response.headers.get_content_type()
            exchange.final_url = response.url
            _read(response, exchange, limit, deadline, seconds)
    except urllib.error.HTTPError as error:
        if error.headers.get("X-Kesu-Refused"):
            exchange.error = "re-fetch refused by the capture policy"
            exchange.finished_at = datetime.now(UTC)
            return exchange
        exchange.status, exchange.status_text = error.code, error.reason
        exchange.response_headers = list(error.headers.items())
        exchange.complete, exchange.body = True, error.read(64 * 1024)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        exchange.error = f"re-fetch failed: {str(reason)[:200]}"
    exchange.finished_at = datetime.now(UTC)
    return exchange


def _read(response, exchange: Exchange, limit: int, deadline: float, seconds: float) -> None:
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            exchange.incomplete_reason = f"body not complete after {seconds:g} s"
            break
        data = response.read(256 * 1024)
        if not data:
            exchange.complete = True
            break
        size += len(data)
        if size > limit:
            exchange.incomplete_reason = f"body larger than the {limit // (1024 * 1024)} MB limit"
            break
        chunks.append(data)
    exchange.body = b"".join(chunks)
