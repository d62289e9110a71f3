"""A Chromium per worker process, kept warm, driven from a thread of its own.

Playwright's async API runs on an event loop in a daemon thread; callers in
any thread (the CLI, a Celery task, a view) hand it work and wait for the
result. Every capture gets a fresh browser context (no cookies, no storage
from an earlier site) with its own guard proxy; a few contexts are made ahead
of time so a capture does not wait for one.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from playwright.async_api import async_playwright

from . import media, session, ytdlp
from .children import child_env
from .policy import AddressPolicy, AddressRefused
from .proxy import GuardProxy, ProxyError, resolve
from .record import Capture
from .recorder import Limits

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium without a screen, without calling home, with every frame in
# one renderer so the page's DevTools session sees the iframes' requests too.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--mute-audio",
    "--disable-quic",
    "--disable-features=IsolateOrigins,site-per-process,MediaRouter,OptimizationHints",
    "--disable-site-isolation-trials",
    "--autoplay-policy=no-user-gesture-required",
    # WebRTC would send UDP around the guard proxy (to private addresses, revealing the desk's own IP).
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy",
    # Chromium never resolves a name itself: pages reach their sites through the guard proxy (127.0.0.1),
    # which resolves and checks; what the browser would fetch on its own (Google's update and account
    # services, seen asked of the system resolver despite the switches above) finds no address.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


@dataclass
class Warm:
    context: object
    proxy: GuardProxy


class Engine:
    def __init__(
        self,
        policy: AddressPolicy,
        limits: Limits,
        *,
        warm: int = 1,
        host_connections: int = 6,
        executable: str = CHROMIUM,
    ):
        self.policy, self.limits, self.warm_count = policy, limits, warm
        self.host_connections, self.executable = host_connections, executable
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kesu-capture", daemon=True)
        self._thread.start()
        self._playwright = self._browser = None
        self._warm: list[Warm] = []
        self._lock: asyncio.Lock | None = None
        self.version = ""

    def _call(self, coroutine, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def capture(self, url: str) -> Capture:
        """Capture url with every limit applied; never raises for what a site does."""
        return self._call(self._capture(url), self.limits.page_seconds * 3 + 120)

    @property
    def ready(self) -> int:
        """Fresh contexts waiting for a capture."""
        return len(self._warm)

    def warm(self) -> None:
        self._call(self._fill(), 120)

    def close(self) -> None:
        try:
            self._call(self._close(), 60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _capture(self, url: str) -> Capture:
        refused = await self._refused(url)
        if refused:
            return Capture(
                url=url,
                started_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
                errors=[refused],
                environment=self._environment(),
            )
        warm = await self._take()
        try:
            warm.proxy.reset(byte_limit=self.limits.page_bytes)
            capture, findings = await session.run(warm.context, warm.proxy, url, self.limits)
            capture.environment = self._environment()
            referer = capture.final_url or url
            # The page is closed: its idle keep-alive tunnels would only hold the per-host slots.
            await warm.proxy.drop_connections()
            agent = capture.environment["user_agent"]
            refetcher = media.Refetcher(warm.proxy.url, agent, referer, self.limits, warm.proxy.token)
            try:
                await asyncio.wait_for(media.extract(capture, findings, refetcher), self.limits.page_seconds)
            except TimeoutError:
                capture.errors.append(f"fetching media again did not finish within {self.limits.page_seconds:g} s")
            finally:
                known = {e.id for e in capture.exchanges}
                capture.exchanges.extend(e for e in refetcher.made.values() if e.id not in known)
            if ytdlp.wanted(capture.media, findings):
                await self._second_route(capture, url, warm)
            capture.environment["egress"] = warm.proxy.traffic.egress
            capture.finished_at = datetime.now(UTC)
            return capture
        finally:
            asyncio.ensure_future(self._discard(warm))
            asyncio.ensure_future(self._fill())

    async def _second_route(self, capture: Capture, url: str, warm: Warm) -> None:
        medium, exchange, error = await ytdlp.download(
            capture.final_url or url,
            proxy_url=warm.proxy.url,
            user_agent=capture.environment["user_agent"],
            limit=self.limits.body_bytes,
            seconds=self.limits.page_seconds,
        )
        if error:
            capture.errors.append(error)
        if exchange is not None:
            capture.exchanges.append(exchange)
            capture.media.append(medium)

    async def _refused(self, url: str) -> str:
        """Refuse a forbidden target before the browser sees it (the proxy checks every later hop)."""
        parts = urlsplit(url)
        try:
            await resolve(self.policy, parts.hostname, parts.port or 443, 15)
        except (AddressRefused, ProxyError) as error:
            return f"{parts.hostname}: {error}"
        return ""

    async def _start(self) -> None:
        if self._browser is None or not self._browser.is_connected():
            self._playwright = self._playwright or await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable, args=LAUNCH_ARGS, env=child_env()
            )
            self.version = self._browser.version
            self._warm = []

    async def _new(self) -> Warm:
        await self._start()
        proxy = await GuardProxy(self.policy, host_connections=self.host_connections).start()
        context = await self._browser.new_context(
            proxy={"server": proxy.url},
            service_workers="block",
            viewport=session.VIEWPORT,
            accept_downloads=False,
            ignore_https_errors=False,
            locale="ja-JP",
            timezone_id="Asia/Tokyo",
            user_agent=self._user_agent(),
        )
        return Warm(context, proxy)

    async def _take(self) -> Warm:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            while self._warm:
                warm = self._warm.pop()
                if self._browser and self._browser.is_connected():
                    return warm
            return await self._new()

    async def _fill(self) -> None:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            while len(self._warm) < self.warm_count:
                try:
                    self._warm.append(await self._new())
                except Exception:  # the next capture starts a browser again
                    return

    async def _discard(self, warm: Warm) -> None:
        try:
            await asyncio.wait_for(warm.context.close(), 15)
        except Exception:
            pass
        await warm.proxy.close()

    async def _close(self) -> None:
        for warm in self._warm:
            await self._discard(warm)
        self._warm = []
        if self._browser:
            await self._browser.close()
        if self._playwright:
            await self._playwright.stop()
        self._browser = self._playwright = None

    def _environment(self) -> dict:
        return {
            "browser": f"Chromium {self.version}" if self.version else "",
            "user_agent": self._user_agent(),
            "viewport": session.VIEWPORT,
            "limits": {k: getattr(self.limits, k) for k in self.limits.__dataclass_fields__},
            "egress": [],
        }

    def _user_agent(self) -> str:
        major = self.version.split(".")[0] if self.version else "0"
        return (
            f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
        )
