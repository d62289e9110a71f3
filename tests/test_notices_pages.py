"""The staff pages for notices: who may see them, what a draft's page says, and what each button does.

Sending here only queues (``services.send``); the worker side is covered in test_notices.py.
"""

import re
from datetime import date
from html import unescape

import pytest
from django.utils import timezone

from kesu.law import webforms
from kesu.matching.models import Hit
from kesu.notices import compose, templates
from kesu.notices.models import Notice, NoticeTemplate, OutboxMessage, Reply
from kesu.sites.models import Organisation, Role, Site
from kesu.vault import services as vault

URL = "https://leak.example/v/1"


@pytest.fixture(autouse=True)
def english(clients, settings):
    """The pages in English, so the assertions hold once the Japanese catalogue has these strings."""
    for client in clients.values():
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def draft(case, leak):
    return compose.prepare("user:hana", case, urls=[URL]).notices[0]


def mandate(case):
    case.mandate_signed_on = date(2026, 10, 1)
    case.save()


def page(client, path, method="get", **data):
    response = getattr(client, method)(path, data)
    return response.status_code, response.content.decode()


def as_web_form(notice):
    """The notice as a worker leaves it for a recipient that only has a web form."""
    key = notice.case.data_key
    notice.channel, notice.status = Notice.Channel.FORM, Notice.Status.FORM
    notice.address = "https://leak.example/report"
    notice.subject_sealed = vault.seal_text(key, f"Removal request {notice.token}", "notice.subject")
    notice.body_sealed = vault.seal_text(key, f"Please remove {URL}\n", "notice.body")
    notice.save()
    return notice


def reply_for(notice, proposal=Reply.Proposal.REMOVED):
    key = notice.case.data_key
    content = {"from": "abuse@leak.example", "subject": "Re: removal", "text": "We have removed it. <b>ok</b>"}
    return Reply.objects.create(
        mailbox_uid=f"1:{notice.pk}",
        notice=notice,
        case=notice.case,
        threaded_by="reply",
        from_domain="leak.example",
        received_at=timezone.now(),
        data_key=key,
        sealed=vault.seal_json(key, content, "reply.content"),
        proposal=proposal,
    )


def test_every_page_of_a_case_is_for_its_staff_only(clients, case, draft):
    as_web_form(compose.prepare("user:hana", case, urls=["https://leak.example/v/2"]).notices[0])
    form_notice = Notice.objects.get(status=Notice.Status.FORM)
    reply = reply_for(draft)
    paths = [
        f"/cases/{case.pk}/notices/",
        f"/cases/{case.pk}/notices/new/",
        f"/cases/{case.pk}/victim-message/",
        f"/notices/{draft.pk}/",
        f"/notices/{form_notice.pk}/form/",
        f"/notices/replies/{reply.pk}/",
    ]
    for path in paths:
        assert clients["on_case"].get(path).status_code == 200, path
        assert clients["supervisor"].get(path).status_code == 200, path
        assert clients["outsider"].get(path).status_code == 404, path
    for path in (f"/notices/{draft.pk}/send/", f"/notices/{draft.pk}/cancel/", f"/notices/replies/{reply.pk}/decide/"):
        assert clients["outsider"].post(path, {"decision": "removed"}).status_code == 404, path
    draft.refresh_from_db()
    assert draft.status == Notice.Status.DRAFT and Reply.objects.get().decision == ""

    for path in ("/notices/", "/notices/templates/"):
        assert clients["on_case"].get(path).status_code == 200
        status, html = page(clients["outsider"], path)
        assert status == 200 and draft.token not in html
    assert draft.token in page(clients["on_case"], "/notices/")[1]
    assert f"/notices/{draft.pk}/" in page(clients["on_case"], f"/cases/{case.pk}/")[1]


def test_a_draft_says_what_is_missing_and_why_and_cannot_be_sent(clients, case, draft):
    status, html = page(clients["on_case"], f"/notices/{draft.pk}/")
    assert status == 200
    assert "the case has no signed mandate (power of attorney) date" in html
    assert 'class="primary" disabled>Send</button>' in html
    assert draft.token in html and "<pre" in html and '<html lang="en">' in html  # the preview, in English

    page(clients["on_case"], f"/notices/{draft.pk}/send/", "post")
    draft.refresh_from_db()
    assert draft.status == Notice.Status.DRAFT


def test_a_complete_draft_is_queued_by_send(clients, case, draft):
    mandate(case)
    status, html = page(clients["on_case"], f"/notices/{draft.pk}/")
    assert "✗" not in html and 'class="primary">Send</button>' in html
    response = clients["on_case"].post(f"/notices/{draft.pk}/send/", follow=True)
    draft.refresh_from_db()
    assert draft.status == Notice.Status.QUEUED
    assert "Queued" in response.content.decode()
    # a second press is refused with a message, not a traceback
    response = clients["on_case"].post(f"/notices/{draft.pk}/send/", follow=True)
    assert response.status_code == 200 and "not a draft" in response.content.decode()


def test_the_new_notice_page_prepares_drafts_from_hits_and_urls(clients, case, leak):
    hit = Hit.objects.create(
        case=case,
        sha256="a" * 64,
        signal="phash",
        probability=0.93,
        source_url_sealed=vault.seal_text(case.data_key, URL, "hit.source_url"),
        status=Hit.Status.CONFIRMED,  # only hits staff confirmed are named (kesu.matching.lifecycle)
    )
    status, html = page(clients["on_case"], f"/cases/{case.pk}/notices/new/")
    assert status == 200 and URL in html and "93 %" in html
    response = clients["on_case"].post(
        f"/cases/{case.pk}/notices/new/", {"hits": [str(hit.pk)], "urls": "https://leak.example/v/9\n\n"}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/cases/{case.pk}/notices/"
    notice = Notice.objects.get()
    assert notice.url_count == 2 and list(notice.hits.all()) == [hit]
    assert "1 draft notice prepared." in response.content.decode()

    response = clients["on_case"].post(f"/cases/{case.pk}/notices/new/", {"urls": URL}, follow=True)
    assert "already in an open notice" in response.content.decode() and Notice.objects.count() == 1
    status, html = page(clients["on_case"], f"/cases/{case.pk}/notices/new/", "post", urls="")
    assert status == 200 and "choose at least one URL or hit" in html


def test_a_recipient_name_is_shown_as_text(clients, case, leak, draft):
    leak.name = "<script>alert(1)</script>"
    leak.save()
    for path in (f"/notices/{draft.pk}/", f"/cases/{case.pk}/notices/", "/notices/", f"/cases/{case.pk}/"):
        html = page(clients["on_case"], path)[1]
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_identity_consent_is_recorded_from_the_draft_page(clients, case, leak):
    mandate(case)
    case.consent = [*case.consent, "name_in_notices"]
    case.save()
    leak.country = "JP"
    leak.save()
    Site.objects.filter(domain="leak.example").update(jurisdiction="JP")
    notice = compose.prepare("user:hana", case, urls=[URL]).notices[0]
    assert notice.regime == "jp_platform_act"
    html = page(clients["on_case"], f"/notices/{notice.pk}/")[1]
    assert "She agreed to give her name to Leak Tube" in html
    clients["on_case"].post(f"/notices/{notice.pk}/identity/")
    html = page(clients["on_case"], f"/notices/{notice.pk}/")[1]
    assert "This notice contains her name and address" in html and "✗" not in html


def test_the_web_form_helper_shows_each_field_and_records_the_submission(clients, case, draft):
    notice = as_web_form(draft)
    status, html = page(clients["on_case"], f"/notices/{notice.pk}/form/")
    assert status == 200
    assert 'href="https://leak.example/report"' in html and f"Removal request {notice.token}" in html
    assert html.count("data-copy=") >= 4 and "<script>" not in html.split("<main>")[1].split("</main>")[0]
    clients["on_case"].post(f"/notices/{notice.pk}/form/", {"reference": "TICKET-42"})
    notice.refresh_from_db()
    assert notice.status == Notice.Status.SENT and notice.form_reference == "TICKET-42" and notice.sent_at
    assert notice.events.filter(kind="form_submitted").exists()
    status, html = page(clients["on_case"], f"/notices/{notice.pk}/")
    assert "The text as sent" in html and f"Please remove {URL}" in html


def as_sent(notice):
    """The notice as the outbox leaves it once the recipient's server took it."""
    Notice.objects.filter(pk=notice.pk).update(status=Notice.Status.SENT, sent_at=timezone.now())
    notice.refresh_from_db()
    return notice


def test_confirming_a_reply_settles_the_notice(clients, case, draft):
    as_sent(draft)
    reply = reply_for(draft)
    html = page(clients["on_case"], f"/notices/{draft.pk}/")[1]
    assert f"/notices/replies/{reply.pk}/decide/" in html and '<option value="removed" selected>' in html
    html = page(clients["on_case"], f"/notices/replies/{reply.pk}/")[1]
    assert "We have removed it. &lt;b&gt;ok&lt;/b&gt;" in html

    clients["on_case"].post(f"/notices/replies/{reply.pk}/decide/", {"decision": "removed"})
    draft.refresh_from_db()
    reply.refresh_from_db()
    assert reply.decision == "removed" and draft.outcome == "deleted" and draft.status == Notice.Status.CLOSED
    response = clients["on_case"].post(f"/notices/replies/{reply.pk}/decide/", {"decision": "refused"}, follow=True)
    assert "already decided" in response.content.decode()


def test_outcome_escalate_and_cancel_buttons(clients, case, draft):
    as_sent(draft)
    clients["on_case"].post(f"/notices/{draft.pk}/outcome/", {"outcome": "still_online"})
    draft.refresh_from_db()
    assert draft.outcome == "still_online" and draft.escalate_at is not None
    response = clients["on_case"].post(f"/notices/{draft.pk}/escalate/", follow=True)
    assert response.status_code == 200 and "Not prepared: URL 1 (leak.example)" in response.content.decode()
    other = compose.prepare("user:hana", case, urls=["https://leak.example/v/2"]).notices[0]
    clients["on_case"].post(f"/notices/{other.pk}/cancel/")
    other.refresh_from_db()
    assert other.status == Notice.Status.CANCELLED


def test_a_supervisor_saves_a_template_version_and_staff_cannot(clients, leak):
    slot = NoticeTemplate.objects.get(regime="general", language="en", case_type="", role="")
    latest = templates.latest(slot)
    path = f"/notices/templates/{slot.pk}/"
    edited = {"subject": latest.subject, "body": latest.body + "\nWith thanks.\n"}

    status, html = page(clients["on_case"], path)
    assert status == 200 and 'name="body"' not in html
    assert clients["on_case"].post(path, edited).status_code == 404
    assert slot.versions.count() == 1

    response = clients["supervisor"].post(path, edited, follow=True)
    assert "Saved as version 2." in response.content.decode()
    assert templates.latest(slot).body.endswith("With thanks.\n")
    assert "sato" in templates.latest(slot).created_by


def test_a_template_with_a_forbidden_tag_is_refused_and_the_text_kept(clients, leak):
    slot = NoticeTemplate.objects.get(regime="general", language="en", case_type="", role="")
    latest = templates.latest(slot)
    body = latest.body + "\n{% debug %}\n"
    path = f"/notices/templates/{slot.pk}/"
    status, html = page(clients["supervisor"], path, "post", subject=latest.subject, body=body)
    assert status == 200 and "Invalid block tag" in html and "{% debug %}" in html
    assert slot.versions.count() == 1


def test_a_supervisor_creates_a_more_specific_slot(clients, leak):
    data = {"regime": "general", "language": "nl", "case_type": "av", "role": "host"}
    assert clients["on_case"].post("/notices/templates/new/", data).status_code == 404
    response = clients["supervisor"].post("/notices/templates/new/", data)
    slot = NoticeTemplate.objects.get(regime="general", language="nl", case_type="av", role="host")
    assert response.url == f"/notices/templates/{slot.pk}/" and slot.versions.count() == 1


def test_a_message_to_her_is_prefilled_checked_for_links_and_queued(clients, case):
    status, html = page(clients["on_case"], f"/cases/{case.pk}/victim-message/")
    assert status == 200 and case.victim.code in html and "no links" in html
    path = f"/cases/{case.pk}/victim-message/"
    status, html = page(clients["on_case"], path, "post", subject="Update", body="See https://x.example/")
    assert status == 200 and not OutboxMessage.objects.exists()
    clients["on_case"].post(path, {"subject": "Update", "body": "We sent two requests today."})
    assert OutboxMessage.objects.get().kind == OutboxMessage.Kind.VICTIM


def test_uncertain_mail_is_resolved_by_a_supervisor_only(clients, case, draft):
    mandate(case)
    notice = as_web_form(draft)
    message = OutboxMessage.objects.create(
        key="victim:test",
        kind=OutboxMessage.Kind.VICTIM,
        case=case,
        message_id="<t@desk.example>",
        message_sealed=b"",
        recipients_sealed=b"",
        status=OutboxMessage.Status.UNCERTAIN,
        next_attempt_at=timezone.now(),
    )
    assert "A supervisor decides." in page(clients["on_case"], "/notices/")[1]
    assert notice.token in page(clients["on_case"], "/notices/")[1]  # waiting for the web form
    assert clients["on_case"].post(f"/notices/outbox/{message.pk}/resolve/", {"sent": "1"}).status_code == 404
    clients["supervisor"].post(f"/notices/outbox/{message.pk}/resolve/", {"sent": "1"})
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT


@pytest.mark.parametrize(
    ("engine", "case_type", "first", "last"),
    [
        ("google", "ncii", "Country of residence", "Signature (type your full name) and date"),
        ("google", "deepfake", "Country of residence", "Signature (type your full name) and date"),
        ("bing", "voyeurism", "Your name", "Signature and date"),
        ("yahoo-japan", "ncii", "Requester's name", "How the result infringes the person's rights"),
    ],
)
def test_a_search_engine_form_gets_its_own_questions_in_its_order_and_never_her_name(
    clients, case, draft, victim_details, engine, case_type, first, last
):
    form = webforms.form_for(engine, case_type)
    engine_org = Organisation.objects.create(role=Role.SEARCH_ENGINE, key=engine, name=f"{engine} search")
    mandate(case)
    case.case_type = case_type
    case.save()
    notice = as_web_form(draft)
    notice.recipient, notice.role = engine_org, Role.SEARCH_ENGINE
    notice.save()
    status, html = page(clients["on_case"], f"/notices/{notice.pk}/form/")
    assert status == 200
    labels = [unescape(label) for label in re.findall(r'<label for="field-\d+">(.*?)</label>', html)]
    answers = [unescape(text) for text in re.findall(r"<textarea [^>]*>(.*?)</textarea>", html, re.S)]
    assert labels == [field.label for field in form.fields] and labels[0] == first and labels[-1] == last
    assert len(answers) == len(labels) and all(answer.strip() for answer in answers), "every question is answered"
    by_fill = dict(zip((field.fills for field in form.fields), answers, strict=True))
    assert by_fill["urls"] == URL and "2026-10-01" in by_fill["authority"]
    assert by_fill.get("depicted", "withheld").lower().count("withheld") == 1
    assert victim_details.name not in html and victim_details.contact["email"] not in html
    assert form.source.url in html


def test_a_search_engine_without_a_known_form_and_a_site_get_the_generic_fields(clients, case, draft):
    yandex = Organisation.objects.create(role=Role.SEARCH_ENGINE, key="yandex", name="Yandex Search")
    notice = as_web_form(draft)
    notice.recipient, notice.role = yandex, Role.SEARCH_ENGINE
    notice.save()
    html = page(clients["on_case"], f"/notices/{notice.pk}/form/")[1]
    assert "Organisation name" in html and "Full text" in html and "Country of residence" not in html


def test_in_japanese_the_form_helper_asks_in_japanese_and_answers_in_japanese(clients, case, draft, settings):
    engine = Organisation.objects.create(role=Role.SEARCH_ENGINE, key="google", name="Google Search")
    notice = as_web_form(draft)
    notice.recipient, notice.role = engine, Role.SEARCH_ENGINE
    notice.save()
    clients["on_case"].cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    html = page(clients["on_case"], f"/notices/{notice.pk}/form/")[1]
    assert (
        "代理権限の説明" in html and "居住国" in html and "いいえ。本人はこれらの画像の公開に同意していません" in html
    )
    assert "本人の安全のため記載しません" in html and "Country of residence" not in html
