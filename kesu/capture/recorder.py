"""Record every request of a page through DevTools, with complete bodies.

Network.* events give the metadata (redirects, headers, timing, errors);
bodies come from the Fetch domain paused at the Response stage, because
Network.getResponseBody loses them (fetch() read as a blob, media loaded by
aborted range requests). Small bodies are read whole and the request goes on
untouched; large or unknown-length bodies are streamed with a size cap and
handed back to the page with Fetch.fulfillRequest.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .proxy import CaptureTraffic
from .record import Exchange

READ_WHOLE = 8 * 1024 * 1024  # bodies announced below this are read in one call
# IO.read waits until it can fill the size asked for, and a read cut off by the
# time limit loses what it had: start small (a stalled page keeps nearly all it
# sent) and grow while the body flows.
IO_FIRST_CHUNK, IO_CHUNK = 4 * 1024, 1024 * 1024
# Headers that describe the wire form of a body we hand back decoded and whole.
WIRE_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


@dataclass
class Limits:
    page_seconds: float = 60.0  # one capture, wall clock
    body_seconds: float = 30.0  # reading one body
    body_bytes: int = 200 * 1024 * 1024
    page_bytes: int = 1024 * 1024 * 1024  # everything one capture downloads
    settle_seconds: float = 1.0  # quiet network that ends the wait for late requests
    late_seconds: float = 2.5  # minimum wait after load for late scripts
    scroll_steps: int = 60
    refetches: int = 300
    segments: int = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def _headers(mapping: dict | None) -> list[tuple[str, str]]:
    pairs = []
    for name, value in (mapping or {}).items():
        pairs.extend((name, line) for line in str(value).split("\n"))
    return pairs


def _header(pairs: list[dict] | list[tuple[str, str]], name: str) -> str:
    for pair in pairs:
        key, value = (pair["name"], pair["value"]) if isinstance(pair, dict) else pair
        if key.lower() == name:
            return value
    return ""


def _decode(result: dict) -> bytes:
    data = result.get("body", result.get("data", ""))
    return base64.b64decode(data) if result.get("base64Encoded") else data.encode("utf-8")


class NetworkRecorder:
    def __init__(self, cdp, limits: Limits, traffic: CaptureTraffic, token: str = ""):
        self.cdp = cdp
        self.token = token  # the guard proxy's refusal mark
        self.limits = limits
        self.traffic = traffic
        self._open: dict[str, Exchange] = {}  # Network requestId -> current exchange
        self._done: list[Exchange] = []
        self._bodies: dict[str, tuple[bytes | None, bool, str]] = {}  # networkId -> body, complete, reason
        self._refused: set[str] = set()
        self._heads: dict[str, tuple[int, str, list[dict]]] = {}  # networkId -> status line and headers seen by Fetch
        self._tasks: set[asyncio.Task] = set()
        self._in_flight: set[str] = set()
        self.last_activity = asyncio.get_running_loop().time()
        self.body_bytes = 0

    async def start(self) -> None:
        for event, handler in (
            ("Network.requestWillBeSent", self._on_request),
            ("Network.responseReceived", self._on_response),
            ("Network.loadingFinished", self._on_finished),
            ("Network.loadingFailed", self._on_failed),
            ("Fetch.requestPaused", self._on_paused),
        ):
            self.cdp.on(event, handler)
        await self.cdp.send("Network.enable")
        await self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        await self.cdp.send("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Response"}]})

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def quiet_for(self) -> float:
        return asyncio.get_running_loop().time() - self.last_activity if not self._in_flight else 0.0

    async def stop(self) -> list[Exchange]:
        """Let running body reads end (bounded), then return every exchange seen."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        for task in set(self._tasks):
            task.cancel()
        exchanges = self._done + list(self._open.values())
        for exchange in exchanges:
            self._attach_body(exchange)
            if exchange.status is not None and exchange.body is None and not exchange.incomplete_reason:
                exchange.incomplete_reason = "the page ended before the body arrived"
            if exchange.status is None and not exchange.error:
                exchange.error = self._refusal(exchange.url) or "no answer before the capture ended"
        return sorted(exchanges, key=lambda e: e.started_at or _now())

    # -- Network domain: metadata

    def _touch(self) -> None:
        self.last_activity = asyncio.get_running_loop().time()

    def _on_request(self, event: dict) -> None:
        request = event["request"]
        if not request["url"].startswith(("http:", "https:")):
            return
        self._touch()
        rid = event["requestId"]
        chain: list[str] = []
        previous = self._open.pop(rid, None)
        if previous is not None and event.get("redirectResponse"):
            self._fill_response(previous, event["redirectResponse"])
            previous.complete = True  # a redirect has no body to lose
            previous.finished_at = _now()
            self._done.append(previous)
            chain = [*previous.redirect_chain, previous.url]
        self._in_flight.add(rid)
        self._open[rid] = Exchange(
            id=f"{rid}.{len(chain)}",
            url=request["url"],
            method=request["method"],
            request_headers=_headers(request.get("headers")),
            request_body=request.get("postData", "").encode("utf-8") if request.get("postData") else None,
            redirect_chain=chain,
            resource_type=event.get("type", ""),
            frame_url=event.get("documentURL", ""),
            started_at=datetime.fromtimestamp(event["wallTime"], UTC) if event.get("wallTime") else _now(),
        )

    def _fill_response(self, exchange: Exchange, response: dict) -> None:
        exchange.status = response["status"]
        exchange.status_text = response.get("statusText", "")
        exchange.response_headers = _headers(response.get("headers"))
        exchange.mime_type = response.get("mimeType", "")
        exchange.final_url = response.get("url", exchange.url)
        exchange.timing = response.get("timing") or {}
        parts = urlsplit(exchange.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        # The browser only sees the guard proxy; the proxy knows who answered.
        exchange.remote_ip = self.traffic.address_of(parts.hostname or "", port)
        exchange.remote_port = port if exchange.remote_ip else None

    def _on_response(self, event: dict) -> None:
        exchange = self._open.get(event["requestId"])
        if exchange is not None:
            self._touch()
            self._fill_response(exchange, event["response"])
            exchange.resource_type = event.get("type", exchange.resource_type)

    def _on_finished(self, event: dict) -> None:
        self._end(event["requestId"])

    def _on_failed(self, event: dict) -> None:
        exchange = self._end(event["requestId"])
        if exchange is not None and not exchange.error:
            exchange.error = event.get("errorText", "failed") + (" (cancelled)" if event.get("canceled") else "")

    def _end(self, rid: str) -> Exchange | None:
        self._touch()
        self._in_flight.discard(rid)
        exchange = self._open.pop(rid, None)
        if exchange is not None:
            exchange.finished_at = _now()
            self._done.append(exchange)
        return exchange

    def _attach_body(self, exchange: Exchange) -> None:
        rid = exchange.id.rsplit(".", 1)[0]
        if rid in self._refused:
            exchange.status, exchange.response_headers = None, []
            exchange.error = self._refusal(exchange.url) or "connection refused by the capture policy"
            return
        if exchange.status is None and rid in self._heads:
            # Failed by us (a limit) before the page saw a response: the status and headers did arrive.
            status, text, headers = self._heads[rid]
            exchange.status, exchange.status_text = status, text
            exchange.response_headers = [(h["name"], h["value"]) for h in headers]
            exchange.mime_type = _header(headers, "content-type").split(";")[0].strip()
        if exchange.body is not None or rid not in self._bodies or (300 <= (exchange.status or 0) < 400):
            return
        exchange.body, exchange.complete, exchange.incomplete_reason = self._bodies[rid]

    def _refusal(self, url: str) -> str:
        host = urlsplit(url).hostname or ""
        return next((r for r in self.traffic.refusals if r.startswith(f"{host}:")), "")

    # -- Fetch domain: bodies

    def _on_paused(self, event: dict) -> None:
        task = asyncio.ensure_future(self._take_body(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take_body(self, event: dict) -> None:
        rid = event["requestId"]
        status = event.get("responseStatusCode")
        headers = event.get("responseHeaders") or []
        key = event.get("networkId") or rid
        if status == 502 and _header(headers, "x-kesu-refused") == self.token:
            # The guard refused the address: to the page this is a network error, not a server's answer.
            self._refused.add(key)
            await self._send("Fetch.failRequest", {"requestId": rid, "errorReason": "AccessDenied"})
            return
        if status is None or event.get("responseErrorReason") or 300 <= status < 400:
            await self._send("Fetch.continueRequest", {"requestId": rid})
            return
        if status in (204, 304) or event["request"]["method"] == "HEAD":
            self._keep(key, b"", True, "")  # nothing to lose: these have no body by definition
            await self._send("Fetch.continueRequest", {"requestId": rid})
            return
        self._heads[key] = (status, event.get("responseStatusText", ""), headers)
        length = _header(headers, "content-length")
        # Documents are streamed whatever their size, so a page that stops
        # sending half-way still renders with what it sent.
        small = length.isdigit() and int(length) <= READ_WHOLE and event.get("resourceType") != "Document"
        try:
            if small:
                body = _decode(
                    await asyncio.wait_for(
                        self.cdp.send("Fetch.getResponseBody", {"requestId": rid}), self.limits.body_seconds
                    )
                )
                self._keep(key, body, True, "")
                await self._send("Fetch.continueRequest", {"requestId": rid})
            else:
                await self._stream(rid, key, status, event.get("responseStatusText", ""), headers)
        except TimeoutError:
            self._bodies.setdefault(key, (None, False, f"body not complete after {self.limits.body_seconds:g} s"))
            await self._send("Fetch.failRequest", {"requestId": rid, "errorReason": "TimedOut"})
        except Exception as error:  # the page may have gone; the record says so
            self._bodies.setdefault(key, (None, False, f"body could not be read: {_short(error)}"))
            await self._send("Fetch.continueRequest", {"requestId": rid})

    async def _stream(self, rid: str, key: str, status: int, status_text: str, headers: list[dict]) -> None:
        handle = (await self.cdp.send("Fetch.takeResponseBodyAsStream", {"requestId": rid}))["stream"]
        chunks: list[bytes] = []
        size, reason, timed_out, chunk = 0, "", False, IO_FIRST_CHUNK
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_seconds
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    reason, timed_out = f"body not complete after {self.limits.body_seconds:g} s", True
                    break
                try:
                    result = await asyncio.wait_for(
                        self.cdp.send("IO.read", {"handle": handle, "size": chunk}), remaining
                    )
                except TimeoutError:
                    reason, timed_out = f"body not complete after {self.limits.body_seconds:g} s", True
                    break
                chunk = min(chunk * 2, IO_CHUNK)
                data = _decode(result)
                size += len(data)
                self._touch()
                if size > self.limits.body_bytes:
                    reason = f"body larger than the {self.limits.body_bytes // (1024 * 1024)} MB limit"
                    break
                if self.body_bytes + size > self.limits.page_bytes:
                    reason = f"capture passed its {self.limits.page_bytes // (1024 * 1024)} MB limit"
                    break
                chunks.append(data)
                if result.get("eof"):
                    break
        finally:
            await self._send("IO.close", {"handle": handle})
        body = b"".join(chunks)
        self._keep(key, body, not reason, reason)
        if reason and not timed_out:
            await self._send("Fetch.failRequest", {"requestId": rid, "errorReason": "Aborted"})
            return
        # A body cut off by time goes to the page as far as it came: a page that
        # never finishes still renders (and is screenshotted) with what it sent.
        kept = [h for h in headers if h["name"].lower() not in WIRE_HEADERS]
        await self._send(
            "Fetch.fulfillRequest",
            {
                "requestId": rid,
                "responseCode": status,
                "responsePhrase": status_text or "OK",
                "responseHeaders": kept,
                "body": base64.b64encode(body).decode("ascii"),
            },
        )

    def _keep(self, key: str, body: bytes | None, complete: bool, reason: str) -> None:
        self.body_bytes += len(body or b"")
        self._bodies[key] = (body, complete, reason)

    async def _send(self, method: str, params: dict) -> None:
        try:
            await self.cdp.send(method, params)
        except Exception:  # the request or page is already gone; nothing to hand back
            pass


def _short(error: Exception) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
