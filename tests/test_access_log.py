"""The web server's logs keep no query string and no hashing link's key (kesu/lib/accesslog.py), under the very
gunicorn command `kesu run` starts: its access log, and Django's error log."""

import os
import subprocess
import time
import urllib.error
import urllib.request

from ports import free_port

from kesu.runner import _commands

TOKEN = "Zq3-secret-link-key-of-her-hashing-page"


def get(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=10).read()
    except urllib.error.HTTPError:
        pass  # the page's answer does not matter here, only its line in the log


def test_the_access_log_has_neither_her_link_nor_what_staff_searched(tmp_path):
    port = free_port()
    web = _commands("127.0.0.1", port, 1, with_worker=False)["web"]
    env = {**os.environ, "KESU_DATA_DIR": str(tmp_path / "data")}
    env.pop("KESU_DATABASE_URL", None)
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(web, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while b"Booting worker" not in log.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.2)
            get(f"http://127.0.0.1:{port}/h/{TOKEN}/")
            get(f"http://127.0.0.1:{port}/cases/?q=Hanako+Yamada")
            deadline = time.monotonic() + 30
            while log.read_bytes().count(b'" ') < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    assert '"GET /h/…/ HTTP/1.1"' in text and '"GET /cases/?… HTTP/1.1"' in text, text[-2000:]
    # the data directory has no tables yet: her page fails, and Django's own error line is cut the same way
    assert "Internal Server Error: /h/…/" in text
    assert TOKEN not in text and "Hanako" not in text
