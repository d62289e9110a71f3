"""yt-dlp as a second route for video pages the browser record cannot give whole.

Used when a page plays a video whose bytes the network record does not hold
(a MediaSource stream from an unknown manifest, a player that fetched only a
part). yt-dlp runs as a separate process through the same guard proxy, with
--hls-use-mpegts so HLS segments are kept as served rather than remuxed, and
writes to a pipe: nothing lands on disk.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from .children import child_env, scratch
from .media import stopped
from .record import Exchange, MediaItem

BASE = [sys.executable, "-m", "yt_dlp", "--ignore-config", "--no-cache-dir", "--no-playlist", "--quiet",
        "--no-warnings", "--no-progress", "--socket-timeout", "20", "--retries", "1",
        "--fragment-retries", "1"]  # fmt: skip


def wanted(media: list[MediaItem], findings: list[dict]) -> bool:
    """A video element showed something the record has no whole bytes for."""
    have_stream = any(item.source in ("hls", "dash") and item.body for item in media)
    blob_video = any(f["kind"] == "video" and f["url"].startswith("blob:") for f in findings)
    partial = any(item.kind == "video" and not item.complete and not stopped(item.incomplete_reason) for item in media)
    return partial or (blob_video and not have_stream)


async def _run(args: list[str], limit: int, seconds: float) -> tuple[int | None, bytes, str]:
    with scratch() as folder:
        return await _run_in(args, limit, seconds, folder)


async def _run_in(args: list[str], limit: int, seconds: float, folder: str) -> tuple[int | None, bytes, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        cwd=folder,
        env=child_env(home=folder),
    )
    chunks, size = [], 0

    async def read():
        nonlocal size
        while data := await process.stdout.read(1 << 20):
            size += len(data)
            if size > limit:
                raise OverflowError
            chunks.append(data)

    try:
        await asyncio.wait_for(read(), seconds)
        await asyncio.wait_for(process.wait(), 10)
    except (TimeoutError, OverflowError) as error:
        process.kill()
        await process.wait()
        reason = "larger than the limit" if isinstance(error, OverflowError) else f"not done after {seconds:g} s"
        return None, b"".join(chunks), reason
    stderr = (await process.stderr.read()).decode("utf-8", "replace").strip().splitlines()
    return process.returncode, b"".join(chunks), stderr[-1][:200] if stderr else ""


async def download(
    url: str, *, proxy_url: str, user_agent: str, limit: int, seconds: float
) -> tuple[MediaItem | None, Exchange | None, str]:
    """The page's video via yt-dlp: (medium, exchange, error line)."""
    common = [*BASE, "--proxy", proxy_url, "--user-agent", user_agent]
    code, info_json, error = await _run([*common, "--dump-single-json", url], 10 << 20, seconds)
    if code != 0:
        return None, None, f"yt-dlp found no video: {error or 'no answer'}"
    try:
        info = json.loads(info_json)
    except ValueError:
        return None, None, "yt-dlp gave no readable description"
    started = datetime.now(UTC)
    code, body, error = await _run(
        [*common, "--hls-use-mpegts", "--max-filesize", str(limit), "-f", "best", "-o", "-", url], limit, seconds
    )
    source = info.get("url") or info.get("webpage_url") or url
    complete = code == 0 and bool(body)
    exchange = Exchange(
        id="ytdlp.0",
        url=source,
        route="ytdlp",
        status=200 if body else None,
        mime_type=f"video/{info.get('ext', '')}",
        body=body,
        complete=complete,
        incomplete_reason="" if complete else f"yt-dlp: {error}",
        started_at=started,
        finished_at=datetime.now(UTC),
        resource_type="Media",
        frame_url=url,
    )
    medium = MediaItem(
        kind="video",
        url=source,
        source="ytdlp",
        exchange_ids=[exchange.id],
        mime_type=exchange.mime_type,
        body=body if complete else None,
        complete=complete,
        incomplete_reason=exchange.incomplete_reason,
    )
    return medium, exchange, "" if complete else f"yt-dlp could not download the video: {error}"
