"""Notices end to end against real servers on loopback: aiosmtpd (SMTP) and Dovecot (IMAP).

A notice is prepared from URLs on a site and its mirror (one notice for their shared operator), its
pages are preserved by the real capture engine from a local web server (reached by name through
KESU_CAPTURE_HOSTS), it is sent through the outbox, the site's answer is put into the desk's mailbox,
fetched, threaded and decided, and the notice, its history row and the victim's receipt follow.
"""

import base64
import json
import threading
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone, translation

from kesu.accounts.models import User
from kesu.law import regimes
from kesu.lib.errors import UserError
from kesu.notices import compose, outbox, replies, services, templates
from kesu.notices.models import Notice, OutboxMessage, Reply
from kesu.sites.models import Contact, Organisation, Outcome, Role, Site, TakedownRequest

pytest_plugins = ["tests.mail_servers"]

DESK = "takedown@desk.example"
ARCHIVE = "archive@desk.example"
ABUSE = "abuse@leak.example"


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = f"<html><head><title>video {self.path}</title></head><body><p>{self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def web():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def capture_by_name(settings, web):
    """leak.example and mirror.example answer on loopback, for the capture engine only."""
    from kesu.capture import services as capturing
    from kesu.lib.netsettings import parse_host_rules

    settings.KESU_ALLOW_LOOPBACK = True
    settings.KESU_CAPTURE_HOSTS = parse_host_rules(["leak.example=127.0.0.1", "mirror.example=127.0.0.1"], "t")
    settings.KESU_CAPTURE_PAGE_SECONDS = 30
    settings.KESU_CAPTURE_WARM_CONTEXTS = 0
    capturing.shutdown()
    yield web
    capturing.shutdown()


@pytest.fixture
def mail(settings, dovecot):
    from tests.mail_servers import SmtpSink

    with SmtpSink(local_delivery={ARCHIVE: (dovecot, "desk", "INBOX")}) as sink:
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.DEFAULT_FROM_EMAIL = DESK
        settings.KESU_MAIL_ARCHIVE = ARCHIVE
        settings.KESU_IMAP = {
            "host": "127.0.0.1",
            "port": dovecot.port,
            "user": "desk",
            "password": "desk-imap-pass",
            "security": "none",
            "mailbox": "INBOX",
            "archive_mailbox": "INBOX",
            "timeout": 10,
        }
        sink.dovecot = dovecot
        yield sink


@pytest.fixture
def leak(db):
    """A site and its mirror run by one operator (e-mail first, then a form), hosted in NL."""
    templates.sync_shipped()
    operator = Organisation.objects.create(role=Role.OPERATOR, key="leak", name="Leak Tube")
    Contact.objects.create(organisation=operator, channel="email", address=ABUSE, priority=10)
    Contact.objects.create(organisation=operator, channel="email", address="legal@leak.example", priority=20)
    host = Organisation.objects.create(role=Role.HOST, key="as64500", name="Offshore Hosting B.V.", country="NL")
    Contact.objects.create(organisation=host, channel="email", address="abuse@offshore.example", priority=10)
    main = Site.objects.create(domain="leak.example", operator=operator, host=host, server_country="NL")
    mirror = Site.objects.create(domain="mirror.example", operator=operator, host=host, server_country="NL")
    return {"operator": operator, "host": host, "site": main, "mirror": mirror}


@pytest.fixture
def mandated(case):
    case.mandate_signed_on = date(2026, 10, 1)
    case.save()
    return case


def urls_on(port):
    return [f"http://leak.example:{port}/v/1", f"http://leak.example:{port}/v/2", f"http://mirror.example:{port}/m/1"]


def send_now(notice):
    """What the Celery tasks do after "send": dispatch, then deliver what the outbox holds."""
    services.send("user:hana", notice)
    services.dispatch(notice.pk)
    outbox.deliver_due()
    notice.refresh_from_db()
    return notice


def reply_to(original: bytes, text: str, **headers) -> bytes:
    sent = message_from_bytes(original, policy=policy.default)
    answer = EmailMessage()
    answer["From"] = headers.pop("From", ABUSE)
    answer["To"] = DESK
    answer["Subject"] = headers.pop("Subject", "Re: " + str(sent["Subject"]))
    answer["Message-ID"] = make_msgid(domain="leak.example")
    answer["In-Reply-To"] = headers.pop("In_Reply_To", str(sent["Message-ID"]))
    for name, value in headers.items():
        answer[name.replace("_", "-")] = value
    answer.set_content(text)
    return answer.as_bytes()


def test_a_notice_is_sent_answered_threaded_and_settled(mandated, leak, mail, capture_by_name):
    prepared = compose.prepare("user:hana", mandated, urls=urls_on(capture_by_name))
    assert prepared.unrouted == [] and len(prepared.notices) == 1  # the mirror shares the operator
    notice = prepared.notices[0]
    assert notice.recipient == leak["operator"] and notice.address == ABUSE and notice.url_count == 3
    assert compose.check(notice).complete

    notice = send_now(notice)

    assert notice.status == Notice.Status.SENT and len(notice.evidence) == 3
    [delivered] = mail.messages_for(ABUSE)
    assert ARCHIVE in delivered.rcpt_tos  # the desk's copy, which settles interrupted sends
    sent = message_from_bytes(delivered.data, policy=policy.default)
    body = sent.get_body().get_content()
    assert notice.token in str(sent["Subject"]) and all(url in body for url in urls_on(capture_by_name))
    assert "山田" not in body and "Hanako" not in body  # a general notice never names her
    request = TakedownRequest.objects.get(pk=notice.request_id)
    assert (request.site, request.url_count, request.outcome) == (leak["site"], 3, Outcome.ONGOING)

    outbox.deliver_due()  # the receipt, queued once the notice went
    [receipt] = mail.messages_for("hanako.yamada@example.org")  # she asked for receipts by e-mail, in ja
    receipt_text = message_from_bytes(receipt.data, policy=policy.default).get_body().get_content()
    assert "leak.example/v" not in receipt_text and "Leak Tube" in receipt_text

    mail.dovecot.append("desk", reply_to(delivered.data, "Thank you. The videos have been removed from our site."))
    counts = replies.fetch()
    assert counts["threaded"] == 1 and counts["own"] >= 2  # the archive copies of the notice and receipt
    reply = Reply.objects.get()
    assert (reply.notice, reply.threaded_by, reply.proposal) == (notice, "reply", Reply.Proposal.REMOVED)
    assert replies.fetch()["fetched"] == 0  # read once

    replies.decide("user:hana", reply, Reply.Proposal.REMOVED)
    notice.refresh_from_db()
    request.refresh_from_db()
    assert notice.status == Notice.Status.CLOSED and notice.outcome == Outcome.DELETED
    assert request.outcome == Outcome.DELETED and request.resolved_at is not None
    kinds = list(notice.events.values_list("kind", flat=True))
    assert kinds[:1] == ["prepared"] and {"queued", "evidence", "sent", "reply", "outcome"} <= set(kinds)


def test_a_bounce_marks_the_contact_and_moves_the_notice_to_the_next_address(mandated, leak, mail, capture_by_name):
    notice = send_now(compose.prepare("user:hana", mandated, urls=urls_on(capture_by_name)[:1]).notices[0])
    [delivered] = mail.messages_for(ABUSE)
    report = EmailMessage()
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.leak.example>"
    report["To"] = DESK
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = make_msgid(domain="mx.leak.example")
    report.set_content("This is the mail system. Your message could not be delivered: user unknown.")
    original_headers = delivered.data.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    report.add_attachment(original_headers, maintype="text", subtype="rfc822-headers")
    mail.dovecot.append("desk", report.as_bytes())

    replies.fetch()
    bounce = Reply.objects.get()
    assert (bounce.notice, bounce.threaded_by, bounce.proposal) == (notice, "bounce", Reply.Proposal.BOUNCE)
    replies.decide("user:hana", bounce, Reply.Proposal.BOUNCE)

    assert Contact.objects.get(address=ABUSE).bounced_at is not None
    notice.refresh_from_db()
    assert notice.status == Notice.Status.FAILED
    again = Notice.objects.exclude(pk=notice.pk).get()
    assert again.address == "legal@leak.example" and again.status == Notice.Status.DRAFT


@pytest.mark.parametrize(
    ("text", "headers", "expected"),
    [
        ("We will not remove this content; it does not violate our terms.", {}, Reply.Proposal.REFUSED),
        ("ご依頼の動画は削除いたしました。", {}, Reply.Proposal.REMOVED),
        ("Please provide a copy of the power of attorney.", {}, Reply.Proposal.MORE_INFO),
        ("I am out of the office until Monday.", {"Auto_Submitted": "auto-replied"}, Reply.Proposal.AUTO_REPLY),
        ("Wir haben die Inhalte entfernt.", {}, Reply.Proposal.REMOVED),
        ("Hello, what is this about?", {}, Reply.Proposal.UNKNOWN),
    ],
)
def test_a_reply_gets_a_proposal_for_staff_to_confirm(text, headers, expected):
    message = message_from_bytes(
        reply_to(b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\nx", text, **headers), policy=policy.default
    )
    assert replies.propose(message, replies._text(message)) == expected


def test_a_reply_without_references_is_threaded_by_the_token_in_its_subject(mandated, leak, mail, capture_by_name):
    notice = send_now(compose.prepare("user:hana", mandated, urls=urls_on(capture_by_name)[:1]).notices[0])
    answer = reply_to(
        b"Subject: x\r\n\r\n", "Removed.", Subject=f"Your ticket about {notice.token}", In_Reply_To="<x@y>"
    )
    mail.dovecot.append("desk", answer)
    replies.fetch()
    assert Reply.objects.get().threaded_by == "token" and Reply.objects.get().notice == notice


def test_her_name_goes_only_where_the_law_needs_it_and_she_agreed_for_that_recipient(mandated, leak):
    leak["operator"].country = "JP"
    leak["operator"].save()
    leak["site"].jurisdiction = "JP"
    leak["site"].save()
    notice = compose.prepare("user:hana", mandated, urls=["https://leak.example/v/1"]).notices[0]
    assert notice.regime == "jp_platform_act" and notice.language == "ja"

    with translation.override("en"):  # why, in the reader's language: here English
        result = compose.check(notice)
    assert not result.complete and [m[0] for m in result.missing] == ["requester"]
    assert "case consent" in result.missing[0][2]
    with pytest.raises(UserError, match="missing requester"):
        services.send("user:hana", notice)

    mandated.consent = [*mandated.consent, "name_in_notices"]
    mandated.save()
    assert "Leak Tube" in compose.check(notice).missing[0][2]  # agreed in general, not yet for this recipient
    compose.record_identity_consent("user:hana", notice)
    result = compose.check(notice)
    assert result.complete and result.identity and "山田花子" in result.rendered.body


def test_every_shipped_template_has_every_required_element_for_every_case_type_and_role():
    assert {regime for regime, _ in templates.shipped()} == set(regimes.notice_regimes())
    for (regime, language), (subject, body) in templates.shipped().items():
        assert templates.check_template(regime, subject, body) == [], (regime, language)
    for regime in {regime for regime, _ in templates.shipped()}:
        # Regimes added in issue 23 ship in English and Japanese only (others fall back to English).
        wanted = {"en", "ja"} if regime in ADDED_IN_ISSUE_23 else set(templates.LANGUAGES)
        assert {lang for r, lang in templates.shipped() if r == regime} >= wanted, regime


ADDED_IN_ISSUE_23 = {"au_osa_iba", "uk_osa", "search_engine_policy"}


def test_a_reminder_goes_after_a_day_and_the_next_step_after_the_deadline(mandated, leak, mail, capture_by_name):
    notice = send_now(compose.prepare("user:hana", mandated, urls=urls_on(capture_by_name)[:1]).notices[0])
    first = mail.messages_for(ABUSE)[0]
    later = notice.sent_at + timedelta(hours=25)
    counts = services.follow_up(now=later)
    outbox.deliver_due()
    assert counts["reminded"] == 1
    reminder = message_from_bytes(mail.messages_for(ABUSE)[1].data, policy=policy.default)
    assert str(reminder["Subject"]).startswith("Reminder 1:")
    assert str(reminder["In-Reply-To"]) == message_from_bytes(first.data)["Message-ID"]
    assert services.follow_up(now=later)["reminded"] == 0  # not twice for the same day

    counts = services.follow_up(now=notice.sent_at + timedelta(days=8))
    assert counts["escalated"] == 1
    to_host = Notice.objects.get(escalated_from=notice)
    assert to_host.recipient == leak["host"] and to_host.regime == "eu_dsa_16"
    assert to_host.status == Notice.Status.QUEUED  # complete, so it goes on its own (KESU_AUTO_ESCALATE)


def test_an_email_that_could_not_be_sent_is_retried_with_back_off_then_failed(mandated, leak, mail, settings):
    settings.KESU_NOTICE_EVIDENCE_HOURS = 0
    notice = compose.prepare("user:hana", mandated, urls=["https://leak.example/v/9"]).notices[0]
    data = b"Subject: t\r\nMessage-ID: <t1@desk.example>\r\n\r\nbody\r\n"
    message = outbox.queue(key="t:1", kind="notice", case=mandated, notice=notice, to=ABUSE, data=data,
                           message_id="<t1@desk.example>")  # fmt: skip
    assert outbox.queue(key="t:1", kind="notice", case=mandated, to=ABUSE, data=b"x", message_id="<t2@x>") == message

    mail.fail_next(1, 451)
    assert outbox.deliver(message.pk) == OutboxMessage.Status.PENDING
    message.refresh_from_db()
    assert message.attempts == 1 and message.next_attempt_at > timezone.now() and "451" in message.smtp_reply
    assert outbox.deliver(message.pk) == OutboxMessage.Status.PENDING  # not due yet: nothing sent
    assert mail.messages == []

    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    mail.fail_next(1, 550, f"<{ABUSE}>: no such user")
    assert outbox.deliver(message.pk) == OutboxMessage.Status.FAILED
    message.refresh_from_db()
    assert message.smtp_code == 550 and mail.messages == []
    assert ABUSE not in message.smtp_reply and "no such user" in message.smtp_reply  # addresses never kept


def test_sending_is_rate_limited_per_recipient_domain(mandated, leak, mail, settings):
    settings.KESU_MAIL_RATE_PER_DOMAIN = 2
    rows = [
        outbox.queue(
            key=f"r:{n}",
            kind="notice",
            case=mandated,
            to=ABUSE,
            data=f"Subject: {n}\r\nMessage-ID: <r{n}@desk.example>\r\n\r\nx\r\n".encode(),
            message_id=f"<r{n}@desk.example>",
        )  # fmt: skip
        for n in range(3)
    ]
    assert outbox.deliver_due() == {"sent": 2, "pending": 1}
    rows[2].refresh_from_db()
    assert rows[2].status == OutboxMessage.Status.PENDING and rows[2].attempts == 0
    assert len(mail.messages) == 2


def test_an_interrupted_send_is_settled_by_the_archive_copy_or_left_for_staff(mandated, leak, mail, settings):
    settings.KESU_MAIL_CLAIM_SECONDS = 0
    data = b"Subject: s\r\nMessage-ID: <s1@desk.example>\r\n\r\nx\r\n"
    taken = outbox.queue(key="s:1", kind="notice", case=mandated, to=ABUSE, data=data, message_id="<s1@desk.example>")
    lost = outbox.queue(key="s:2", kind="notice", case=mandated, to=ABUSE, data=data.replace(b"s1", b"s2"),
                        message_id="<s2@desk.example>")  # fmt: skip
    # A worker died after the server took s1 (its archive copy is in the mailbox) and before it sent s2.
    mail.dovecot.append("desk", data)
    OutboxMessage.objects.filter(pk__in=[taken.pk, lost.pk]).update(
        status="sending", claim="dead", claimed_at=timezone.now()
    )

    assert outbox.recover() == {"sent": 1, "again": 1, "uncertain": 0}
    assert OutboxMessage.objects.get(pk=taken.pk).status == OutboxMessage.Status.SENT
    assert outbox.deliver_due() == {"sent": 1}
    assert [m.message_id for m in mail.messages] == ["<s2@desk.example>"]

    settings.KESU_MAIL_ARCHIVE = ""
    OutboxMessage.objects.filter(pk=lost.pk).update(status="sending", claim="dead", claimed_at=timezone.now())
    assert outbox.recover()["uncertain"] == 1  # without an archive Kesu does not guess
    outbox.resolve_uncertain("user:sato", OutboxMessage.objects.get(pk=lost.pk), was_sent=True)
    assert OutboxMessage.objects.get(pk=lost.pk).status == OutboxMessage.Status.SENT and len(mail.messages) == 1


def test_the_rendered_samples_in_the_docs_are_current(tmp_path):
    from pathlib import Path

    from kesu.notices.samples import write_samples

    docs = Path(__file__).resolve().parent.parent / "docs" / "notices"
    written = write_samples(tmp_path)
    assert len(written) == len(templates.shipped()) == 66
    for path in [*written, tmp_path / "README.md"]:
        assert (docs / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), path.name


HOSTILE = "{{ victim.name }}{% debug %}\r\nBcc: spy@evil.example\u202e"


def test_header_and_template_injection_from_sites_and_staff_is_neutralised(mandated, leak, mail, settings):
    from kesu.notices import mail as mailer

    mandated.consent = [*mandated.consent, "name_in_notices"]
    mandated.save()
    leak["operator"].name = HOSTILE  # the name came from RDAP: the site controls it
    leak["operator"].save()
    url = "https://leak.example/v/1?title=%7B%7Bvictim.name%7D%7D"
    notice = compose.prepare("user:hana", mandated, urls=[url]).notices[0]
    result = compose.check(notice)
    assert "山田" not in result.rendered.body and "{% debug %}" in result.rendered.body  # shown, never run
    assert "\u202e" not in result.rendered.body and "\r" not in result.rendered.body and url in result.rendered.body

    # A recipient address from a contact list cannot carry a second header or recipient.
    for bad in ("abuse@leak.example\r\nBcc: spy@evil.example", "Spy <spy@evil.example>", "a@b.example, c@d.example"):
        with pytest.raises(UserError, match="plain e-mail address"):
            mailer.build(to=bad, subject="s", body="b", message_id="<m@desk.example>", language="en")
    data = mailer.build(to=ABUSE, subject=HOSTILE, body="b", message_id="<m@desk.example>", language="en")
    sent = message_from_bytes(data, policy=policy.default)
    assert sent.get_all("Bcc") is None and len(sent.get_all("To")) == 1 and "\n" not in str(sent["Subject"])

    # Supervisors edit templates, but only with the short list of tags: nothing reaches settings or files.
    template = templates.NoticeTemplate.objects.get(regime="general", language="en", case_type="", role="")
    supervisor = User.objects.get(username="sato")
    for source in (
        "{% debug %}",
        "{% load static %}",
        "{% include 'base.html' %}",
        "{{ x|safe }}",
        "{{ org.__class__ }}",
    ):
        with pytest.raises(UserError):
            templates.save_version(supervisor, template, "s", source)
    subject, body = templates.shipped()[("general", "en")]
    version = templates.save_version(supervisor, template, subject, body + "{{ settings.SECRET_KEY }}")
    rendered = compose.check(notice).rendered.body
    assert version.number == 2 and settings.SECRET_KEY not in rendered and "[settings.SECRET_KEY?]" in rendered


def test_a_notice_for_a_web_form_is_laid_out_then_recorded_as_submitted(mandated, leak, capture_by_name):
    Contact.objects.filter(address=ABUSE).update(channel="form", address="https://leak.example/report")
    notice = compose.prepare("user:hana", mandated, urls=urls_on(capture_by_name)[:1]).notices[0]
    assert notice.channel == "form"
    services.send("user:hana", notice)
    notice = services.dispatch(notice.pk)
    assert notice.status == Notice.Status.FORM and OutboxMessage.objects.filter(notice=notice).count() == 0
    services.form_submitted("user:hana", notice, "ticket 4711")
    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT and notice.form_reference == "ticket 4711" and notice.request_id


def test_dkim_signs_what_a_verifier_accepts(settings, tmp_path):
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from kesu.notices import mail as mailer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "dkim.pem").write_bytes(pem)
    settings.KESU_DKIM_KEY_FILE, settings.KESU_DKIM_SELECTOR, settings.DEFAULT_FROM_EMAIL = (
        str(tmp_path / "dkim.pem"), "kesu", DESK)  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    data = mailer.build(to=ABUSE, subject="s", body="削除依頼\n", message_id="<d@desk.example>", language="ja")
    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(
        data, dnsfunc=lambda name, timeout=5: record if name == b"kesu._domainkey.desk.example." else None
    )
    assert not dkim.verify(data.replace(b"=E5=89=8A", b"=E5=89=8B"), dnsfunc=lambda name, timeout=5: record)


def test_the_cli_prepares_shows_and_sends(mandated, leak, mail, capture_by_name, cli, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(urls_on(capture_by_name)))
    code, out, err = cli("notice", "prepare", "--case", str(mandated.pk), "--urls", str(urls), "--json")
    assert code == 0, err
    token = json.loads(out)["notices"][0]["token"]
    code, out, err = cli("notice", "show", token)
    assert code == 0 and "missing" not in out and "[x]" in out
    code, out, err = cli("notice", "send", token, "--now")
    assert code == 0 and out.strip() == f"{token} sent", err
    assert cli("notice", "send", token)[0] == 1  # not a draft any more: one line, no traceback
    assert cli("notice", "show", "KS-NOPE00")[2].strip() == "kesu: error: no notice KS-NOPE00"


def test_the_regime_clock_sets_the_due_time_escalates_and_shows_on_the_case(mandated, leak, mail, capture_by_name):
    from django.utils import translation

    from kesu.law.regimes import get
    from kesu.notices import timeline

    leak["operator"].country = "US"  # a covered platform under TAKE IT DOWN: 48 h from the valid request
    leak["operator"].save()
    notice = send_now(compose.prepare("user:hana", mandated, urls=urls_on(capture_by_name)[:1]).notices[0])
    assert notice.regime == "us_take_it_down"
    assert notice.clock_started_at == notice.sent_at
    assert notice.clock_due_at == notice.sent_at + timedelta(hours=48) == notice.escalate_at
    assert get("us_take_it_down").clock_for("ncii", "operator").ends_at(notice.sent_at) == notice.clock_due_at

    with translation.override("en"):
        titles = [action.title for action in timeline.due(mandated, None, notice.sent_at + timedelta(hours=17))]
        assert "clock: 31 hours left: Leak Tube" in titles, titles
        titles = [action.title for action in timeline.due(mandated, None, notice.sent_at + timedelta(days=4))]
        assert "clock missed by 2 days: Leak Tube" in titles, titles
    with translation.override("ja"):
        titles = [action.title for action in timeline.due(mandated, None, notice.sent_at + timedelta(hours=17))]
        assert "期限まで残り31時間：Leak Tube" in titles, titles

    assert services.follow_up(now=notice.sent_at + timedelta(hours=47))["escalated"] == 0
    assert services.follow_up(now=notice.sent_at + timedelta(hours=48))["escalated"] == 1

    from kesu.notices.packets import packet_for

    text = packet_for("user:hana", notice).text()
    assert "Federal Trade Commission" in text and urls_on(capture_by_name)[0] in text
    assert "SMTP 250" in text and notice.token in text and "山田" not in text
    with pytest.raises(UserError):  # she has not agreed to be named
        packet_for("user:hana", notice, with_identity=True)
