"""One loop reads bodies from the web (issue 24): the capture's re-fetches, the patrol's fetcher and the
site resolvers all stop the same way at the byte limit and at the deadline. The readers themselves are
tested against real servers in test_capture, test_patrol and test_sites_resolve; this pins the loop."""

import ast
import io
import time
from pathlib import Path

import kesu
from kesu.lib.bodies import read_body


class Trickle(io.RawIOBase):
    """A stream that gives one byte every ``pause`` seconds, for ever."""

    def __init__(self, pause: float):
        self.pause = pause

    def read(self, size=-1):
        time.sleep(self.pause)
        return b"x"


def test_a_body_within_the_limit_is_read_whole():
    body = read_body(io.BytesIO(b"a" * 100_000), limit=100_000, deadline=time.monotonic() + 10, chunk=4096)
    assert body.complete and body.data == b"a" * 100_000 and not body.over_limit and not body.late


def test_a_body_over_the_limit_stops_there():
    body = read_body(io.BytesIO(b"a" * 100_001), limit=100_000, deadline=time.monotonic() + 10, chunk=4096)
    assert not body.complete and body.over_limit and len(body.data) <= 100_000


def test_a_trickling_body_stops_at_the_deadline_and_each_read_is_told_the_time_left():
    told = []
    started = time.monotonic()
    body = read_body(Trickle(0.05), limit=10**9, deadline=started + 0.5, before_read=told.append)
    assert body.late and not body.complete and 0 < len(body.data) <= 11
    assert time.monotonic() - started < 2
    assert told == sorted(told, reverse=True) and all(0 < left <= 0.5 for left in told)


def test_every_reader_of_the_web_uses_the_one_loop():
    root = Path(kesu.__file__).parent
    for reader in ("capture/fetch.py", "patrol/http.py", "sites/resolvers/net.py"):
        tree = ast.parse((root / reader).read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
        assert "read_body" in names, reader
