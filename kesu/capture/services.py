"""Capturing a URL: the one browser engine of this process, configured from settings."""

from __future__ import annotations

import atexit
import threading

from django.conf import settings

from .browser import Engine
from .policy import check_url, policy_from_settings
from .record import Capture
from .recorder import Limits

_engine: Engine | None = None
_engine_lock = threading.Lock()


def limits_from_settings() -> Limits:
    return Limits(
        page_seconds=settings.KESU_CAPTURE_PAGE_SECONDS,
        body_seconds=settings.KESU_CAPTURE_BODY_SECONDS,
        body_bytes=settings.KESU_CAPTURE_BODY_MB * 1024 * 1024,
        page_bytes=settings.KESU_CAPTURE_PAGE_MB * 1024 * 1024,
    )


def engine() -> Engine:
    """This process's browser (a Celery worker process keeps it warm between tasks)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine(
                policy_from_settings(),
                limits_from_settings(),
                warm=settings.KESU_CAPTURE_WARM_CONTEXTS,
                host_connections=settings.KESU_CAPTURE_HOST_CONNECTIONS,
                executable=settings.KESU_CHROMIUM,
            )
            atexit.register(shutdown)
        return _engine


def shutdown() -> None:
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.close()
            _engine = None


def capture(url: str) -> Capture:
    """Capture one URL. A bad URL raises UserError; whatever the site does ends up in capture.errors."""
    return engine().capture(check_url(url))


def warm_up() -> None:
    """Start the browser and its warm contexts now rather than at the first capture."""
    engine().warm()
