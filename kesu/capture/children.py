"""What the processes a capture starts (Chromium, yt-dlp) may see of ours."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

# What the browser and yt-dlp may see of our environment: never the master key or database URLs.
CHILD_ENV_KEYS = ("PATH", "LANG", "LC_ALL", "TZ", "FONTCONFIG_PATH", "XDG_RUNTIME_DIR")


def child_env(home: str = "/nonexistent") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in CHILD_ENV_KEYS}
    env["HOME"] = home
    return env


@contextmanager
def scratch():
    """A private working folder in memory (/dev/shm when there is one), removed afterwards.

    yt-dlp writes stream fragments to its working folder even when the video
    goes to a pipe; they must not land on a disk.
    """
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = tempfile.mkdtemp(prefix="kesu-", dir=base)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
