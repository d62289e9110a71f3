"""The outbox under fire: a sending process is killed (SIGKILL) at random moments, 100 times; afterwards
every notice reached the SMTP server exactly once.

The sender is ``kesu notice deliver --until-empty`` in its own process over a SQLite data directory (forked
from ``tests/outbox_zygote.py``, which imported Kesu once, so the kills do not each pay a start-up). The
SMTP server (aiosmtpd, in this process) answers DATA after a short delay, so many kills land while the
server is taking a message; it delivers the desk's archive copy into Dovecot before it answers 250, as a
real MTA stores mail before acknowledging it. The next sender settles the dead claims against that
archive (``outbox.recover``) before it sends anything again.
"""

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.mail_servers import SmtpSink

pytest_plugins = ["tests.mail_servers"]

ROOT = Path(__file__).resolve().parent.parent
KESU = str(ROOT / ".venv" / "bin" / "kesu")
RECIPIENT = "abuse@crash.example"
ARCHIVE = "archive@desk.example"
NOTICES = 400
KILLS = 100


def _env(data_dir: Path, sink: SmtpSink, dovecot) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env.update(
        KESU_DATA_DIR=str(data_dir),
        KESU_SMTP_HOST="127.0.0.1",
        KESU_SMTP_PORT=str(sink.port),
        KESU_MAIL_FROM="takedown@desk.example",
        KESU_MAIL_ARCHIVE=ARCHIVE,
        KESU_MAIL_CLAIM_SECONDS="1",
        KESU_MAIL_RATE_PER_DOMAIN="100000",
        KESU_IMAP_HOST="127.0.0.1",
        KESU_IMAP_PORT=str(dovecot.port),
        KESU_IMAP_USER="desk",
        KESU_IMAP_PASSWORD="desk-imap-pass",
        KESU_IMAP_SECURITY="none",
        KESU_LOG_LEVEL="WARNING",
    )
    return env


@pytest.mark.slow
def test_every_notice_is_delivered_exactly_once_when_the_sender_is_killed_100_times(tmp_path, dovecot):
    rng = random.Random(20261121)
    with SmtpSink(delay=0.06, local_delivery={ARCHIVE: (dovecot, "desk", "INBOX")}) as sink:
        env = _env(tmp_path / "data", sink, dovecot)
        subprocess.run([sys.executable, str(ROOT / "tests" / "outbox_crash.py"), str(NOTICES), RECIPIENT],
                       env=env, check=True, cwd=ROOT, timeout=120)  # fmt: skip

        database = tmp_path / "data" / "kesu.sqlite3"
        kills_mid_send = arrived_while_killing = 0
        zygote = subprocess.Popen([sys.executable, str(ROOT / "tests" / "outbox_zygote.py")], env=env, cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        for _ in range(KILLS):
            zygote.stdin.write("notice deliver --until-empty --batch 1\n")
            zygote.stdin.flush()
            sender = int(zygote.stdout.readline())  # a fresh `kesu notice deliver` process
            zygote.stdout.readline()  # its first message went: it is in the middle of sending now
            before = len(sink.messages)
            time.sleep(rng.uniform(0.0, 0.25))
            with contextlib.suppress(ProcessLookupError):  # it may have sent everything and exited already
                os.kill(sender, signal.SIGKILL)
            assert zygote.stdout.readline().startswith("reaped")
            arrived_while_killing += len(sink.messages) > before
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
                claimed = db.execute("select count(*) from notices_outboxmessage where status='sending'").fetchone()
            kills_mid_send += claimed[0] > 0  # it died holding a claim: between claiming and settling a message
            time.sleep(0.05)  # let the server finish a message whose sender died in DATA

        zygote.stdin.close()
        zygote.wait(timeout=30)
        time.sleep(1.2)  # older than KESU_MAIL_CLAIM_SECONDS: the dead claims may be settled
        final = subprocess.run([KESU, "notice", "deliver", "--until-empty"], env=env, cwd=ROOT, timeout=300,
                               capture_output=True, text=True)  # fmt: skip
        assert final.returncode == 0, final.stderr

        delivered = Counter(m.message_id for m in sink.messages_for(RECIPIENT))
        assert len(delivered) == NOTICES, f"{NOTICES - len(delivered)} notices never arrived"
        assert [mid for mid, n in delivered.items() if n > 1] == []
        assert sum(delivered.values()) == NOTICES
        print(f"kills holding a claim: {kills_mid_send}; with messages arriving meanwhile: {arrived_while_killing}")
        assert kills_mid_send >= KILLS // 10  # many kills really landed between claiming and settling a message
        statuses = subprocess.run(
            [sys.executable, "-c", "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','kesu.settings');"
             "django.setup();from kesu.notices.models import OutboxMessage as O;"
             "print(sorted(set(O.objects.values_list('status',flat=True))))"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert statuses.stdout.strip() == "['sent']", statuses.stderr[-500:]
