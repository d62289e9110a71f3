"""Starts ``kesu`` processes for the outbox crash test (tests/test_notices_crash.py) without paying a Python
and Django start-up for each of its hundred kills: this process imports Kesu once and forks a child per
line read on stdin; the child runs the CLI's own ``main`` with that line's arguments, as ``kesu`` would.

For each line it writes, flushed: the child's pid, then the child's first line of output (once the child
wrote it), then ``reaped <exit status>`` once the child is gone (killed or finished). No database
connection is open when it forks: each child opens its own, as a fresh ``kesu`` does.
"""

import os
import sys


def run(argv: list[str]) -> None:
    from django.db import connections

    from kesu.cli import main

    connections.close_all()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its stdout is the pipe; it never returns into this loop
        os.close(read_end)
        os.dup2(write_end, 1)
        code = 1
        try:
            code = main(argv)
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(write_end)
    print(pid, flush=True)
    with os.fdopen(read_end, "r") as output:
        print(output.readline().rstrip("\n"), flush=True)
        output.read()  # until the child exits (or is killed)
    _, status = os.waitpid(pid, 0)
    print(f"reaped {status}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
    from kesu.cli import _setup_django, build_parser

    _setup_django()
    build_parser()
    from kesu.notices import outbox  # noqa: F401 - imported once here, not in each child

    for line in sys.stdin:
        run(line.split())
