"""The loopback mail servers used by the notice tests really speak SMTP and IMAP."""

import imaplib
import smtplib
import ssl
import subprocess
import sys
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

import pytest

pytest.register_assert_rewrite("mail_servers")  # it is also loaded as the plugin below

from mail_servers import Dovecot, SmtpSink  # noqa: E402

pytest_plugins = ["mail_servers"]  # the dovecot and smtp_sink fixtures

DESK = "desk@kesu.test"


def notice(to: str = "abuse@host.test", subject: str = "Takedown notice") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = DESK, to, subject
    message["Message-ID"] = make_msgid(domain="kesu.test")
    message.set_content("Please remove the listed material.")
    return message


def send(port: int, message: EmailMessage, login: tuple[str, str] | None = None, to=None) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="kesu.test", timeout=10) as client:
        if login:
            client.login(*login)
        client.send_message(message, to_addrs=to)


def test_sink_records_what_it_accepts(smtp_sink):
    message = notice()
    send(smtp_sink.port, message)

    [got] = smtp_sink.wait_for(1, timeout=5)
    assert (got.mail_from, got.rcpt_tos, got.login) == (DESK, ["abuse@host.test"], None)
    assert got.message_id == message["Message-ID"]
    assert b"Subject: Takedown notice" in got.data
    assert smtp_sink.messages_for("ABUSE@host.test") == [got]
    assert smtp_sink.messages_for("other@host.test") == []


def test_sink_with_auth_requires_the_right_login():
    with SmtpSink(auth=("desk", "smtp-pass")) as sink:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            send(sink.port, notice())
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            send(sink.port, notice(), login=("desk", "wrong"))
        assert wrong.value.smtp_code == 535

        send(sink.port, notice(), login=("desk", "smtp-pass"))  # smtplib picks PLAIN
        with smtplib.SMTP(sink.host, sink.port, local_hostname="kesu.test", timeout=10) as client:
            client.user, client.password = "desk", "smtp-pass"
            client.ehlo()
            assert client.auth("LOGIN", client.auth_login)[0] == 235
            client.send_message(notice())
        assert [m.login for m in sink.wait_for(2)] == ["desk", "desk"]


def test_injected_failures_answer_the_given_codes(smtp_sink):
    smtp_sink.fail_next(1)
    smtp_sink.fail_next(1, code=554, text="rejected as spam")
    smtp_sink.refuse_recipient("gone@host.test", 550)

    with pytest.raises(smtplib.SMTPDataError) as temporary:
        send(smtp_sink.port, notice())
    assert temporary.value.smtp_code == 451
    with pytest.raises(smtplib.SMTPDataError) as permanent:
        send(smtp_sink.port, notice())
    assert (permanent.value.smtp_code, permanent.value.smtp_error) == (554, b"rejected as spam")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp_sink.port, notice(to="gone@host.test"))
    assert refused.value.recipients["gone@host.test"][0] == 550
    assert smtp_sink.messages == []

    send(smtp_sink.port, notice())  # failures were used up
    assert len(smtp_sink.wait_for(1)) == 1


def test_delay_holds_the_answer_to_data():
    with SmtpSink(delay=0.3) as sink:
        started = time.monotonic()
        send(sink.port, notice())
        assert time.monotonic() - started >= 0.3


def test_local_delivery_is_in_imap_before_the_250(dovecot):
    message = notice()
    with SmtpSink(local_delivery={DESK: (dovecot, "desk", "Sent")}) as sink:
        send(sink.port, message, to=["abuse@host.test", DESK])
        # No waiting: smtplib returned after the 250, so the archive copy must already be there.
        with dovecot.imap("desk") as imap:
            assert imap.select("Sent", readonly=True)[0] == "OK"
            status, found = imap.search(None, "HEADER", "Message-ID", message["Message-ID"])
            assert status == "OK" and len(found[0].split()) == 1
            assert imap.search(None, "HEADER", "Message-ID", "<not-sent@kesu.test>")[1] == [b""]
        assert dovecot.messages("desk", "INBOX") == []
        assert sink.messages_for(DESK)[0].message_id == message["Message-ID"]


def test_local_delivery_failure_is_a_temporary_error(dovecot):
    with SmtpSink(local_delivery={DESK: (dovecot, "desk", "Sent")}) as sink:
        dovecot.stop()
        with pytest.raises(smtplib.SMTPDataError) as failed:
            send(sink.port, notice(to=DESK))
        assert failed.value.smtp_code == 451
        assert sink.messages == []


def test_append_and_fetch_over_imap_and_imaps(dovecot):
    # CRLF, as IMAP stores and returns messages
    first, second = notice(subject="one").as_bytes(policy=SMTP), notice(subject="two").as_bytes(policy=SMTP)
    dovecot.append("desk", first)
    dovecot.append("desk", second)
    dovecot.append("desk", first, mailbox="Archive")

    assert dovecot.messages("desk") == [first, second]
    assert dovecot.messages("desk", "Archive") == [first]
    assert dovecot.messages("desk", "Missing") == []

    context = ssl.create_default_context(cafile=str(dovecot.ca_pem))
    with imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=context, timeout=10) as imap:
        imap.login("desk", "desk-imap-pass")
        assert imap.select("INBOX", readonly=True) == ("OK", [b"2"])
    with pytest.raises(ssl.SSLCertVerificationError):  # the certificate is trusted only through ca_pem
        imaplib.IMAP4_SSL(dovecot.host, dovecot.imaps_port, ssl_context=ssl.create_default_context(), timeout=10)
    with imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10) as imap, pytest.raises(imaplib.IMAP4.error):
        imap.login("desk", "wrong-pass")


def test_two_instances_run_side_by_side(tmp_path):
    with Dovecot(tmp_path / "a") as one, Dovecot(tmp_path / "b") as two:
        one.add_user("desk", "pass-a")
        two.add_user("desk", "pass-b")  # added while running
        assert one.port != two.port
        one.append("desk", bytes(notice()))

        assert len(one.messages("desk")) == 1
        assert two.messages("desk") == []
        with imaplib.IMAP4(two.host, two.port, timeout=10) as imap, pytest.raises(imaplib.IMAP4.error):
            imap.login("desk", "pass-a")
    assert not (one.process or two.process)


def test_standalone_sink_spools_each_message(tmp_path):
    port_file, spool = tmp_path / "port", tmp_path / "spool"
    script = Path(__file__).with_name("mail_servers.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "smtp", "--port-file", str(port_file), "--spool", str(spool)]
    )
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        messages = [notice(), notice()]
        for message in messages:
            send(int(port_file.read_text()), message)

        files = sorted(spool.glob("*.eml"), key=lambda f: f.name.rsplit("-", 1)[1])
        assert [f.name for f in files] == [
            f"{m['Message-ID'].strip('<>')}-{n}.eml" for n, m in enumerate(messages, start=1)
        ]
        for file, message in zip(files, messages, strict=True):
            assert b"Message-ID: " + message["Message-ID"].encode() in file.read_bytes()
    finally:
        process.terminate()
        assert process.wait(10) == 0
