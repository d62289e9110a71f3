"""Real mail servers on loopback for the notice tests: Dovecot (IMAP, IMAPS) and an aiosmtpd sink (SMTP).

``Dovecot(tmpdir)`` runs the system's ``/usr/sbin/dovecot`` with a config of
its own in ``tmpdir`` (nothing under /etc is read or touched) and users
from passwd-files there. ``SmtpSink`` records what it accepts, can deliver
chosen recipients into a Dovecot mailbox before it answers 250, and can be
told to fail. Fixtures: ``dovecot``, ``smtp_sink``
(load with ``pytest_plugins = ["mail_servers"]``).

Standalone sink for crash tests, one accepted message = one file ``*.eml``:
    python tests/mail_servers.py smtp --port-file F --spool DIR [--delay S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import email
import imaplib
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from ports import free_port

DOVECOT = "/usr/sbin/dovecot"
# aiosmtpd logs every SMTP command (addresses included) at INFO from its own thread, also after pytest has
# closed the stream it captured: keep it to warnings.
logging.getLogger("mail.log").setLevel(logging.WARNING)

START_TIMEOUT = 10.0


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers in another process must never see half a file."""
    part = path.with_name("." + path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


# --- IMAP: Dovecot ----------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost that is its own CA, so clients can verify it with ``cafile``."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kesu test imap")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "imap-cert.pem", directory / "imap-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


MAIL_USER = "mail"  # Debian's base-passwd user (uid 8); Dovecot refuses to access mail as root

CONFIG = """\
# Written by tests/mail_servers.py; a private instance, independent of /etc/dovecot.
instance_name = {instance}
base_dir = {runtime}/run
state_dir = {state_dir}
log_path = {log}
info_log_path = {log}
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
auth_mechanisms = plain login
disable_plaintext_auth = no
# Tests try wrong passwords on purpose. Without these, each failure delays the reply 2 s and every later login
# from 127.0.0.1, good ones too, by up to 15 s (anvil's auth penalty; an unusable socket turns it off).
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = {mail_user}
mail_gid = {mail_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{runtime}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {passwd}/%u
}}
userdb {{
  driver = passwd-file
  args = {passwd}/%u
  default_fields = home={runtime}/mail/%u
}}
service auth {{
  # The passwd-file lives in the test's tmpdir, which only root may enter (pytest makes it 0700).
  user = root
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  # No chroot: some container runtimes deny it, and nothing here needs the isolation.
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"""


# Dovecot's own SIGTERM shutdown takes 1-6 s; SIGKILL of its process group is instant but leaves the children
# to whatever reaps orphans (in some containers nothing does: zombies pile up). This small supervisor runs Dovecot
# in its own process group, adopts its orphans as subreaper, and on SIGTERM (or when the test process dies)
# kills the group and reaps every process before it exits with the master's status.
SUPERVISOR = """\
import ctypes, os, signal, sys
master = 0
def stop(*_):
    if master:
        os.killpg(master, signal.SIGKILL)
    else:
        sys.exit(1)
signal.signal(signal.SIGTERM, stop)  # before the fork, so no SIGTERM can orphan Dovecot
libc = ctypes.CDLL(None)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
master = os.fork()
if master == 0:
    os.setpgid(0, 0)
    os.execv(sys.argv[1], sys.argv[1:])
try:
    os.setpgid(master, master)  # also here, so killpg works even before the child got to it
except PermissionError:
    pass  # the child already ran setpgid and exec
status = 0
while True:
    try:
        pid, code = os.wait()
    except ChildProcessError:
        sys.exit(status)
    if pid == master:
        status = os.waitstatus_to_exitcode(code)
"""


class Dovecot:
    """A private Dovecot IMAP server on 127.0.0.1: ``start()``, ``stop()``, ``close()``, or a context manager.

    ``port`` speaks plain IMAP (STARTTLS offered when ``tls``), ``imaps_port``
    implicit TLS with a certificate clients verify against ``ca_pem``.
    Config, ``log``, passwd-files and state live in ``tmpdir``. Sockets and
    maildirs (``mail_dir``/<user>) live in a short world-traversable dir under
    /tmp: socket paths must stay under 108 bytes, and the unprivileged mail
    user cannot enter pytest's 0700 tmp_path. ``stop()`` keeps the mail and
    the ports, so ``start()`` brings the same server back; ``close()`` removes it all.
    Start from the thread that stops it: the server dies with the thread that started it.
    """

    host = "127.0.0.1"

    def __init__(self, tmpdir, tls: bool = True):
        self.dir = Path(tmpdir)
        self.tls = tls
        self.passwd = self.dir / "users"  # one passwd-file per user, see add_user
        self.conf = self.dir / "dovecot.conf"
        self.log = self.dir / "dovecot.log"
        self.users: dict[str, str] = {}
        self.ca_pem: Path | None = None
        self.port = self.imaps_port = 0
        self.process: subprocess.Popen | None = None
        self.runtime: Path | None = None

    @property
    def mail_dir(self) -> Path:
        return self.runtime / "mail"

    # lifecycle

    def start(self) -> Dovecot:
        if self.runtime is None:
            self._prepare()
        for attempt in range(3):
            self._write_config(new_ports=attempt > 0 or not self.port)
            with open(self.dir / "dovecot.stderr", "ab") as stderr:  # startup errors before the log opens
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-c", SUPERVISOR, DOVECOT, "-F", "-c", str(self.conf)],
                    stdout=stderr,
                    stderr=stderr,
                )
            if self._wait_ready():
                return self
            self.stop()  # most likely a port taken since free_port(): try others
        self.close()
        raise RuntimeError(f"dovecot did not start; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self._kill_orphaned_master()

    def _kill_orphaned_master(self) -> None:
        """If the supervisor died by SIGKILL, its Dovecot lives on; its pid file still names it."""
        with contextlib.suppress(OSError, ValueError, TypeError):
            pid = int((self.runtime / "run" / "master.pid").read_text())
            if str(self.conf).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.killpg(pid, signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        if self.runtime:
            shutil.rmtree(self.runtime, ignore_errors=True)
            self.runtime = None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.passwd.mkdir(exist_ok=True)
        if self.tls:
            self.ca_pem, self._key = _self_signed(self.dir)
        self.runtime = Path(tempfile.mkdtemp(prefix="kesu-dc-"))
        self.runtime.chmod(0o755)
        self.mail_dir.mkdir(mode=0o700)
        account = pwd.getpwnam(MAIL_USER)
        os.chown(self.mail_dir, account.pw_uid, account.pw_gid)

    def _write_config(self, new_ports: bool) -> None:
        if new_ports:
            self.port, self.imaps_port = free_port(), free_port() if self.tls else 0
        ssl_files = f"ssl_cert = <{self.ca_pem}\nssl_key = <{self._key}" if self.tls else ""
        self.conf.write_text(
            CONFIG.format(
                instance=self.runtime.name,
                runtime=self.runtime,
                state_dir=self.dir / "state",
                log=self.log,
                ssl="yes" if self.tls else "no",
                ssl_files=ssl_files,
                mail_user=MAIL_USER,
                passwd=self.passwd,
                port=self.port,
                imaps_port=self.imaps_port,
            )
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(OSError):
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        sock.sendall(b"a LOGOUT\r\n")  # a polite goodbye keeps the log free of resets
                        return True
            time.sleep(0.02)
        return False

    # users and mail

    def add_user(self, name: str, password: str) -> None:
        """Works while Dovecot runs too: a file per user, because Dovecot re-reads a changed passwd-file
        at most once a second, so a user added to a shared file might not log in right away."""
        if not re.fullmatch(r"[a-z0-9._-]+", name):
            raise ValueError("user names here are [a-z0-9._-]+")
        self.users[name] = password
        # uid, gid and home come from the config (mail_uid, mail_gid, default_fields).
        self.passwd.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.passwd / name, f"{name}:{password}::::::\n".encode())

    @contextlib.contextmanager
    def imap(self, user: str):
        """A logged-in imaplib client for ``user`` on the plain port."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    def append(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        with self.imap(user) as client:
            if mailbox.upper() != "INBOX":
                client.create(mailbox)  # "already exists" is a NO we can ignore
            status, detail = client.append(mailbox, None, None, raw)
            if status != "OK":
                raise RuntimeError(f"IMAP APPEND failed: {detail!r}")

    def messages(self, user: str, mailbox: str = "INBOX") -> list[bytes]:
        with self.imap(user) as client:
            status, _ = client.select(mailbox, readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("SEARCH", None, "ALL")
            found = []
            for uid in data[0].split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                found.append(parts[0][1])
            return found


# --- SMTP: aiosmtpd sink ----------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message_id: str | None
    login: str | None  # the AUTH user, None without AUTH


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sink.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from, envelope.mail_options = address, list(mail_options)
        self.sink.greetings.append(session.host_name)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.sink.refused.get(address.lower())
        if code:
            return f"{code} recipient refused by test"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        failure = self.sink._take_failure()
        if failure:
            return failure
        data = envelope.original_content or envelope.content
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        message = Received(envelope.mail_from, list(envelope.rcpt_tos), data, _message_id(data), login)
        try:
            # A real MTA stores the message (local copies included) before it says 250, and a client that
            # hangs up after its final "." does not undo that: both happen in a thread that a cancelled
            # session cannot interrupt halfway.
            await asyncio.get_running_loop().run_in_executor(None, self.sink._accept, message)
        except Exception as exc:  # noqa: BLE001 - any delivery failure must become a temporary SMTP error
            return f"451 local delivery failed ({type(exc).__name__})"
        return "250 OK accepted"


def _message_id(data: bytes) -> str | None:
    value = email.message_from_bytes(data).get("Message-ID")
    return str(value).strip() if value else None


class SmtpSink:
    """An SMTP server on 127.0.0.1 in a thread that records every message it accepts.

    ``auth=(user, password)`` offers AUTH PLAIN/LOGIN without TLS and requires it.
    ``local_delivery``: address -> (Dovecot, user, mailbox), appended before 250.
    ``on_message``: called with each accepted ``Received`` (the standalone spool uses it).
    """

    host = "127.0.0.1"

    def __init__(self, auth: tuple[str, str] | None = None, delay: float = 0.0, local_delivery=None, on_message=None):
        self.auth, self.delay = auth, delay
        self.local_delivery: dict = dict(local_delivery or {})
        self.on_message = on_message
        self.refused: dict[str, int] = {}
        self.messages: list[Received] = []
        self.greetings: list[str] = []  # the name each client gave in EHLO/HELO
        self._failures: list[str] = []
        self._changed = threading.Condition()
        self.port = 0
        self.controller: Controller | None = None

    def start(self, port: int = 0) -> SmtpSink:
        self.port = port or free_port()
        # As real MTAs do: notices may carry non-ASCII addresses. A greeting name of its own: aiosmtpd would
        # look the machine's name up.
        options = {"enable_SMTPUTF8": True, "server_hostname": "mx.test"}
        if self.auth:
            # AUTH is enforced in handle_MAIL: aiosmtpd's auth_required warns on every plain-text connection.
            options |= {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # failure injection

    def fail_next(self, n: int = 1, code: int = 451, text: str = "try again later") -> None:
        """The next ``n`` DATA commands are answered ``code text`` and nothing is recorded."""
        with self._changed:
            self._failures.extend([f"{code} {text}"] * n)

    def refuse_recipient(self, address: str, code: int = 550) -> None:
        self.refused[address.lower()] = code

    def _take_failure(self) -> str | None:
        with self._changed:
            return self._failures.pop(0) if self._failures else None

    # what arrived

    def messages_for(self, address: str) -> list[Received]:
        with self._changed:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least ``count`` messages were accepted; raises TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} messages arrived")
            return list(self.messages)

    def _record(self, message: Received) -> None:
        if self.on_message:
            self.on_message(message)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def _accept(self, message: Received) -> None:
        self._deliver_locally(message)
        self._record(message)

    def _deliver_locally(self, message: Received) -> None:
        for rcpt in message.rcpt_tos:
            target = self.local_delivery.get(rcpt) or self.local_delivery.get(rcpt.lower())
            if target:
                server, user, mailbox = target
                server.append(user, message.data, mailbox)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.auth[0].encode(),
            self.auth[1].encode(),
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def dovecot(tmp_path):
    server = Dovecot(tmp_path / "dovecot")
    server.add_user("desk", "desk-imap-pass")
    with server:
        yield server


@pytest.fixture
def smtp_sink():
    with SmtpSink() as sink:
        yield sink


# --- standalone sink --------------------------------------------------------------


def _spool_writer(spool: Path):
    counter = iter(range(1, 1 << 62))
    lock = threading.Lock()

    def write(message: Received) -> None:
        stem = re.sub(r"[^A-Za-z0-9.@_-]", "_", (message.message_id or "no-id").strip("<>"))[:150]
        with lock:
            name = f"{stem}-{next(counter)}.eml"
        _write_atomic(spool / name, message.data)

    return write


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    smtp = sub.add_parser("smtp", help="run the SMTP sink until SIGTERM/SIGINT")
    smtp.add_argument("--port-file", type=Path, required=True, help="the chosen port is written here when ready")
    smtp.add_argument("--spool", type=Path, required=True, help="each accepted message becomes a *.eml file here")
    smtp.add_argument("--port", type=int, default=0)
    smtp.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering DATA")
    args = parser.parse_args(argv)

    args.spool.mkdir(parents=True, exist_ok=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    sink = SmtpSink(delay=args.delay, on_message=_spool_writer(args.spool)).start(args.port)
    try:
        _write_atomic(args.port_file, str(sink.port).encode())
        done.wait()
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
