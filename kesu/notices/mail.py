"""E-mail on the wire: building messages (with optional DKIM), talking SMTP and IMAP with limits.

Nothing here logs a body, a subject or an address: callers log ids and codes.
"""

import imaplib
import re
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.conf import settings
from django.utils import timezone

from ..lib.errors import UserError
from .render import clean

# One address, no display name, no comments: what a recipient field from a site's contact may be.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)  # noqa: E501


class TemporaryFailure(Exception):
    """The server or the network said "try later" (4xx, timeouts, refused connections)."""


class PermanentFailure(Exception):
    """The server refused the message for good (5xx)."""

    def __init__(self, code: int, text: str):
        super().__init__(f"{code} {text}")
        self.code, self.text = code, text


def check_address(address: str) -> str:
    address = (address or "").strip()
    if len(address) > 254 or not _ADDRESS.match(address):
        raise UserError("not a plain e-mail address (one address, no name, no line breaks)")
    return address


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def new_message_id(token: str) -> str:
    return make_msgid(idstring=re.sub(r"[^A-Za-z0-9-]", "", token)[:20], domain=domain_of(settings.DEFAULT_FROM_EMAIL))


def build(
    *, to: str, subject: str, body: str, message_id: str, language: str, references: tuple[str, ...] = ()
) -> bytes:
    """An RFC 5322 message in UTF-8; every header value is one clean line, so nothing can add a header."""
    message = EmailMessage()
    sender = check_address(settings.DEFAULT_FROM_EMAIL)
    org = clean(settings.KESU_ORG["name"], single_line=True)
    message["From"] = Address(display_name=org, addr_spec=sender)
    message["To"] = check_address(to)
    message["Subject"] = clean(subject, single_line=True)
    message["Date"] = format_datetime(timezone.now())
    message["Message-ID"] = message_id
    message["Content-Language"] = re.sub(r"[^A-Za-z-]", "", language)[:8] or "en"
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return dkim_sign(data)


def dkim_sign(data: bytes) -> bytes:
    if not settings.KESU_DKIM_KEY_FILE:
        return data
    import dkim

    with open(settings.KESU_DKIM_KEY_FILE, "rb") as handle:
        key = handle.read()
    domain = settings.KESU_DKIM_DOMAIN or domain_of(settings.DEFAULT_FROM_EMAIL)
    signature = dkim.sign(
        data,
        settings.KESU_DKIM_SELECTOR.encode(),
        domain.encode(),
        key,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to", b"references"],
    )
    return signature + data


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.KESU_MAIL_CA_FILE or None)


def smtp_send(data: bytes, sender: str, recipients: list[str]) -> tuple[int, str]:
    """Hand one message to the SMTP server; returns (code, reply) or raises Temporary/PermanentFailure."""
    # EHLO names the desk's mail domain: the machine's own name would need a lookup, and relays copy it into
    # the Received header that reaches the site.
    where = {"host": settings.EMAIL_HOST, "port": settings.EMAIL_PORT, "timeout": settings.EMAIL_TIMEOUT,
             "local_hostname": domain_of(settings.DEFAULT_FROM_EMAIL)}  # fmt: skip
    try:
        if settings.EMAIL_USE_SSL:
            server = smtplib.SMTP_SSL(**where, context=_tls_context())
        else:
            server = smtplib.SMTP(**where)
        with server:
            if settings.EMAIL_USE_TLS:
                server.starttls(context=_tls_context())
            if settings.EMAIL_HOST_USER:
                server.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
            refused = server.sendmail(sender, recipients, data)
            code, reply = 250, "accepted"
            if refused:  # some recipients refused, the rest accepted: the notice went (archive copy may not)
                reply = "accepted; refused " + ", ".join(f"{c}" for c, _ in refused.values())
            return code, reply
    except smtplib.SMTPRecipientsRefused as error:
        code, text = next(iter(error.recipients.values()))
        raise _failure(code, text) from None
    except smtplib.SMTPResponseException as error:
        raise _failure(error.smtp_code, error.smtp_error) from None
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(type(error).__name__) from None


def _failure(code: int, text) -> Exception:
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    # A server's answer often quotes the address it refused: for mail to her that is personal data.
    text = re.sub(r"[^\s<>\"']+@[^\s<>\"']+", "<address>", clean(text, single_line=True))[:200]
    return TemporaryFailure(f"{code} {text}") if code < 500 else PermanentFailure(code, text)


def imap_connect() -> imaplib.IMAP4:
    config = settings.KESU_IMAP
    if not config["host"]:
        raise UserError("no mailbox configured (KESU_IMAP_HOST)")
    try:
        if config["security"] == "tls":
            imap = imaplib.IMAP4_SSL(
                config["host"], config["port"], ssl_context=_tls_context(), timeout=config["timeout"]
            )
        else:
            imap = imaplib.IMAP4(config["host"], config["port"], timeout=config["timeout"])
            if config["security"] == "starttls":
                imap.starttls(ssl_context=_tls_context())
        imap.login(config["user"], config["password"])
    except (imaplib.IMAP4.error, OSError) as error:
        raise UserError(f"mailbox {config['host']}:{config['port']}: {type(error).__name__}: {error}"[:200]) from None
    return imap


def imap_quote(text: str) -> str:
    """An IMAP quoted string (mailbox names, search values)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
