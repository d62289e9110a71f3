"""One capture of one URL in a fresh browser context: visit, scroll, wait, snapshot."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from playwright.async_api import Error as PlaywrightError

from .proxy import GuardProxy
from .record import Capture, Exchange
from .recorder import Limits, NetworkRecorder

SNAPSHOT_SECONDS = 20  # screenshot, MHTML and DOM each get this long, even after a timeout
VIEWPORT = {"width": 1280, "height": 900}


@cache
def script(name: str) -> str:
    return (Path(__file__).parent / "js" / f"{name}.js").read_text()


def clean_error(error: BaseException) -> str:
    """One line, without Playwright's call log (which can repeat URLs)."""
    text = str(error).split("\n")[0].strip() or type(error).__name__
    for prefix in ("Page.goto: ", "Error: "):
        text = text.removeprefix(prefix)
    return text[:300]


async def run(context, proxy: GuardProxy, url: str, limits: Limits) -> tuple[Capture, list[dict]]:
    """Capture url; returns the record (without media) and what the page showed (findings)."""
    capture = Capture(url=url, started_at=datetime.now(UTC))
    page = await context.new_page()
    context.on("page", lambda popup: _close_popup(capture, popup))
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.dismiss()))
    cdp = await context.new_cdp_session(page)
    recorder = NetworkRecorder(cdp, limits, proxy.traffic, proxy.token)
    await recorder.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.page_seconds
    try:
        await asyncio.wait_for(_visit(page, recorder, url, limits, deadline), limits.page_seconds)
    except TimeoutError:
        capture.errors.append(f"the page did not finish within {limits.page_seconds:g} s; what had arrived is kept")
    except PlaywrightError as error:
        capture.errors.append(clean_error(error))
    findings = await _bounded(_findings(page), [])
    await _snapshot(page, cdp, capture)
    capture.exchanges = await recorder.stop()
    document = next((e for e in capture.exchanges if e.resource_type == "Document" and e.status), None)
    if document is not None and not document.complete:
        capture.errors.append(f"the page's own HTML is incomplete: {document.incomplete_reason}")
    capture.final_url = page.url if page.url != "about:blank" else ""
    capture.errors.extend(proxy.traffic.refusals)
    if proxy.traffic.byte_limit_hit:
        capture.errors.append(f"the capture passed its {limits.page_bytes // (1024 * 1024)} MB download limit")
    await page.close()
    return capture, findings


def _close_popup(capture: Capture, popup) -> None:
    # A page that opens windows gets them closed; the record says where they led.
    capture.popups.append(popup.url)
    asyncio.ensure_future(_quietly(popup.close()))


async def _quietly(awaitable):
    try:
        return await awaitable
    except Exception:
        return None


async def _bounded(awaitable, default, seconds: float = SNAPSHOT_SECONDS):
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except (TimeoutError, PlaywrightError):
        return default


async def _visit(page, recorder: NetworkRecorder, url: str, limits: Limits, deadline: float) -> None:
    loop = asyncio.get_running_loop()
    remaining_ms = lambda: max(1000, (deadline - loop.time()) * 1000)  # noqa: E731
    await page.goto(url, wait_until="commit", timeout=remaining_ms())
    loaded_at = loop.time()
    await page.wait_for_load_state("load", timeout=remaining_ms())
    await page.evaluate(script("scroll"), {"steps": limits.scroll_steps, "pause": 150})
    # Late scripts: wait at least late_seconds after load, then until the network
    # has been quiet for settle_seconds (the outer timeout bounds it all).
    while loop.time() - loaded_at < limits.late_seconds or recorder.quiet_for() < limits.settle_seconds:
        await asyncio.sleep(0.1)


async def _findings(page) -> list[dict]:
    found = []
    for frame in page.frames:
        try:
            items = await frame.evaluate(script("findings"))
        except PlaywrightError:
            continue
        # The script runs in the page's own world, which the page can tamper with: take only well-formed items.
        for item in filter(None, map(_well_formed, items if isinstance(items, list) else [])):
            item["frame_url"] = frame.url
            if item["url"].startswith("blob:") and item["kind"] == "image":
                blob = await _bounded(frame.evaluate(script("blob"), item["url"]), None, 5)
                try:
                    item["data"], item["type"] = base64.b64decode(blob["data"]), str(blob["type"])[:100]
                except (TypeError, KeyError, ValueError):
                    pass
            found.append(item)
    return found


def _well_formed(item) -> dict | None:
    if not isinstance(item, dict) or item.get("kind") not in ("image", "video"):
        return None
    box = item.get("box")
    good_box = isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)
    clean = {
        "kind": item["kind"],
        "url": str(item.get("url") or "")[:1_000_000],
        "source": str(item.get("source", ""))[:20],
        "selector": str(item.get("selector", ""))[:500],
        "box": [float(v) for v in box] if good_box else None,
    }
    for key in ("data", "error"):
        if isinstance(item.get(key), str):
            clean[key] = item[key]
    for key in ("width", "height"):
        if isinstance(item.get(key), int):
            clean[key] = item[key]
    return clean


async def _snapshot(page, cdp, capture: Capture) -> None:
    capture.title = await _bounded(page.title(), "")
    capture.screenshot = await _bounded(
        page.screenshot(full_page=True, type="png", timeout=SNAPSHOT_SECONDS * 1000), None
    )
    if capture.screenshot is None:
        capture.screenshot = await _bounded(page.screenshot(type="png", timeout=5000), None)
    mhtml = await _bounded(cdp.send("Page.captureSnapshot", {"format": "mhtml"}), None)
    capture.mhtml = mhtml["data"].encode("utf-8") if mhtml else None
    capture.dom = await _bounded(page.content(), "")
    for frame in page.frames[1:]:
        dom = await _bounded(frame.content(), None, 5)
        if dom is not None:
            capture.frame_doms[frame.url] = dom
    for label, value in (("screenshot", capture.screenshot), ("MHTML snapshot", capture.mhtml), ("DOM", capture.dom)):
        if not value:
            capture.errors.append(f"no {label}: the page did not allow it in time")


def page_exchange(item: dict, data: bytes, mime: str, index: int) -> Exchange:
    """A resource read from inside the page (blob:, data:, canvas) as an exchange of route "page"."""
    url = item["url"] or f"urn:kesu:canvas:{item['frame_url']}#{item['selector']}"
    now = datetime.now(UTC)
    return Exchange(
        id=f"page.{index}",
        url=url,
        route="page",
        status=None,
        mime_type=mime,
        body=data,
        complete=True,
        frame_url=item.get("frame_url", ""),
        started_at=now,
        finished_at=now,
        resource_type="Image",
    )
