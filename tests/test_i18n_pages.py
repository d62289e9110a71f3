"""Every page of the desk in Japanese, walked from the URL conf, and Kesu's own error pages.

A Japanese-speaking supervisor opens every pattern of ``kesu/urls.py`` with its path parameters filled from
demo-like rows (a case with references, hits, notices sent and drafted, a reply, a watch, evidence, the
reports' history). Each HTML page is read as a person sees it (text nodes and the attributes a screen reader
speaks; scripts, styles, preformatted text and data removed) and fails the test when it shows English: a
text that is exactly a msgid of the catalogue (its translation missing or not applied), a text without Japanese
that still holds an English word once data are taken out (an English label, sentence, role key or status), or
a code (``case.view``, ``lumen_warning``) inside Japanese text. Latin names inside Japanese text (Google,
eSafety) are allowed; there is no allow-list of English words.
"""

import re
from html.parser import HTMLParser

import pytest
from conftest import verified_client
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from test_i18n import LOCALE, po_entries
from test_notices_pages import as_sent, reply_for
from test_review import OPERATOR, SECRET_URL, make_hit

from kesu.evidence import bundle as bundles
from kesu.evidence.models import EvidenceBundle
from kesu.hashing import services as hashing
from kesu.notices import compose
from kesu.notices.models import Notice, NoticeTemplate, OutboxMessage
from kesu.patrol import services as patrol
from kesu.sites.models import Contact
from kesu.vault import services as vault

SPOKEN = ("title", "aria-label", "placeholder", "alt")
HIDDEN = {"script", "style", "textarea", "pre", "code", "kbd", "samp", "template"}
# Data a page shows as it is: addresses, hosts, files, codes and hashes, numbers, the brand.
DATA = re.compile(
    r"(https?://\S+|[\w.+-]+@[\w.-]+|\b[\w-]+(\.[\w-]+)*\.(example|test|invalid|org|com|png|jpe?g|mp4|csv|zip)\b"
    r"|\b[0-9a-f]{12,}\b|\bKS-[\w-]+|\bV-[A-Z0-9]{4}-[A-Z0-9]{4}\b|\bKesu\b|\b\d[\d.,:/ -]*\b)"
)
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]")
CODE = re.compile(r"\b[a-z]+(?:[_.:][a-z]+)+\b")  # case.view, lumen_warning, user:hana (an audit principal)
ENGLISH_WORD = re.compile(r"(?<![\w.@/-])[a-z]{2,}(?:[_.][a-z]+)*(?![\w@/-])|\b[A-Z][a-z]+\b")
# What a page answers but never as HTML for a person to read: media, downloads, redirects after a post.
NOT_HTML = ("image/", "video/", "audio/", "application/", "text/csv", "text/plain")


class Reader(HTMLParser):
    """The words of a page as staff see and hear them: (element, text) per text node or spoken attribute."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.words = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.words.append((tag, attrs["value"]))
        for name in SPOKEN:
            if attrs.get(name):
                self.words.append((f"{tag}@{name}", attrs[name]))
        if tag not in ("br", "img", "input", "meta", "link", "hr", "wbr", "source", "col"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if data.strip() and not HIDDEN & set(self.stack):
            inside = self.stack[-1] if self.stack else ""
            self.words.append((inside, " ".join(data.split())))


def untranslated(html: str, data: set[str], english: set[str]) -> list[str]:
    """What of the page is shown in English (see the module's docstring), once per page."""
    reader = Reader()
    reader.feed(html)
    found = []
    for where, text in reader.words:
        if text in english and not DATA.fullmatch(text):
            found.append(f"{where}: {text!r} (a msgid shown untranslated)")
            continue
        plain = text
        for value in sorted(data, key=len, reverse=True):
            plain = plain.replace(value, " ")
        plain = DATA.sub(" ", plain)
        # Text without Japanese is English; in Japanese text, Latin words are names (Google, eSafety), codes are not.
        words = ENGLISH_WORD.findall(plain) if not JAPANESE.search(plain) else CODE.findall(plain)
        if not words and re.fullmatch(r"\s*[a-z][a-z_]+\s*", plain):
            words = [plain.strip()]  # a cell, tag or term that is one bare key (a role, a status, a signal)
        if words:
            found.append(f"{where}: {text!r} ({' '.join(words)})")
    return list(dict.fromkeys(found))  # each once per page


def english_msgids() -> set[str]:
    """The catalogue's msgids whose Japanese differs from the English (a page showing one forgot to translate)."""
    return {
        msgid
        for msgid, msgstr, _fuzzy in po_entries(LOCALE / "ja" / "LC_MESSAGES" / "django.po")
        if msgstr != msgid and re.search("[a-z]", msgid) and "%" not in msgid and "{" not in msgid
    }


def patterns(resolver=None, prefix: str = ""):
    """(route, name) of every pattern of the URL conf, Django's admin and language switch left out."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if not route.startswith(("admin/", "i18n/")):
                yield from patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.name


@pytest.fixture
def desk(case, leak, personas, astronaut_png):
    """Demo-like rows: hits (one with its medium), a sent notice with a reply, a draft, an uncertain message,
    evidence, a watch, a proposed contact."""
    hits = [make_hit(case, 0.97, data=astronaut_png), make_hit(case, 0.55, signal="face"), make_hit(case, 0.2)]
    sent = as_sent(compose.prepare("user:hana", case, urls=["https://leak.example/v/1"]).notices[0])
    draft = compose.prepare("user:hana", case, urls=["https://leak.example/v/2"]).notices[0]
    reply = reply_for(sent)
    message = OutboxMessage.objects.create(
        key="victim:walk", kind=OutboxMessage.Kind.VICTIM, case=case, message_id="<walk@desk.example>",
        message_sealed=b"", recipients_sealed=b"", status=OutboxMessage.Status.UNCERTAIN,
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    bundle = EvidenceBundle.objects.create(
        case=case, reason=EvidenceBundle.Reason.choices[0][0],
        url_sealed=vault.seal_text(case.data_key, "https://leak.example/v/1", "evidence.url"),
    )  # fmt: skip
    # The first hit's page captured, with its screenshot (the review shows it blurred).
    EvidenceBundle.objects.create(
        case=case, reason=EvidenceBundle.Reason.PATROL, status=EvidenceBundle.Status.DONE,
        url_sealed=vault.seal_text(case.data_key, SECRET_URL, "evidence.url"), finished_at=timezone.now(),
        blob=vault.store_blob(case.data_key, bundles.to_zip({"screenshot.png": astronaut_png})),
    )  # fmt: skip
    watch = patrol.save_watch(OPERATOR, "leak.example", seeds=["https://leak.example/latest"], item_pattern=r"/v/\d+")
    contact = Contact.objects.create(organisation=leak, channel="email", address="legal@leak.example", priority=20)
    return {
        "case_id": case.pk, "ref_id": case.references.first().pk, "hit_id": hits[0].pk, "notice_id": draft.pk,
        "sent_id": sent.pk, "template_id": NoticeTemplate.objects.first().pk, "reply_id": reply.pk,
        "message_id": message.pk, "bundle_id": bundle.pk, "watch_id": watch.pk, "domain": "leak.example",
        "contact_id": contact.pk, "action": "cancel", "token": hashing.create_link(OPERATOR, case).token,
    }  # fmt: skip


# Pages that answer only with what their form asks for (a download).
QUERIES = {"sites/export/": "?format=csv&language=ja&what=sites", "reports/dsa-art22/": "?year=2026&format=csv"}


def fill(route: str, values: dict) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m[1]]), route) + QUERIES.get(route, "")


def data_of(values: dict, personas) -> set[str]:
    """Strings that are the fixture's data, shown as they are: names, files, the reply's subject, and each
    notice's subject, written in the recipient's language (English for Leak Tube)."""
    subjects = {compose.check(notice).rendered.subject for notice in Notice.objects.all()}
    return {
        "Re: removal",
        *subjects,
        "leak.example",
        "Leak Tube",
        "hanako_private_1.png",
        "hanako_face.jpg",
        settings.KESU_ORG["name"],  # the desk's own name, on her hashing page
        *(u.username for u in personas.values()),
    }


@pytest.fixture
def japanese(personas):
    client = verified_client(personas["supervisor"])
    client.cookies["django_language"] = "ja"
    return client


@pytest.mark.django_db
def test_every_page_is_in_japanese(desk, personas, japanese):
    english, data = english_msgids(), data_of(desk, personas)
    pages, problems = {}, {}
    for route, _name in patterns():
        if route.startswith("api/"):
            continue  # the partners' hash API: JSON for their machines, behind their tokens, no page
        paths = [fill(route, desk)]
        if "notice_id" in route:
            paths.append(fill(route, {**desk, "notice_id": desk["sent_id"]}))
        for path in paths:
            response = japanese.get(path)
            # 405: a button's target, answered by POST only; 302: a step that leads to its page (shown here too)
            assert response.status_code in (200, 302, 405), (path, response.status_code)
            if response.status_code == 200 and not response["Content-Type"].startswith(NOT_HTML):
                pages[path] = response.content.decode()
    # Kesu's own error pages, as staff meet them: a page that is not there, one that is not theirs to open.
    for path, status in (("/no-such-page/", 404), ("/admin/login/", 403)):
        response = japanese.get(path)
        assert response.status_code == status
        pages[f"{path} ({status})"] = response.content.decode()
    # The ladder is shown only after a POST (her URL stays out of logs): every step's role, channel and reason.
    for url, case_type in (("https://leak.example/v/1", "ncii"), ("https://nowhere.example/a", "csam")):
        response = japanese.post("/sites/route/", {"url": url, "case_type": case_type})
        assert 'class="reason"' in response.content.decode()
        pages[f"POST /sites/route/ {case_type}"] = response.content.decode()
        data = data | {url}
    for path, html in pages.items():
        if found := untranslated(html, data, english):
            problems[path] = found
    assert not problems, "\n".join(f"{path}\n  " + "\n  ".join(found) for path, found in problems.items())
    assert len(pages) >= 40, sorted(pages)  # every page the fixture reaches; 43 today


# Codes log_action is given as an expression, with every value it takes.
DYNAMIC_ACTIONS = {
    '"user.activate" if active else "user.deactivate"': ["user.activate", "user.deactivate"],
    'f"outbox.{status}"': [f"outbox.{status}" for status in ("sent", "failed", "uncertain", "pending", "cancelled")],
    'f"victim.mail.{kind}"': ["victim.mail.receipt", "victim.mail.victim"],
    "f\"sites.admin_{'change' if change else 'create'}\"": ["sites.admin_change", "sites.admin_create"],
    "action": ["contact.confirm", "contact.reject", "sites.contact_bounced", "sites.contact_restored"],
    "action: str": [],  # log_action's own signature
}


def test_every_audit_action_code_has_a_label():
    """Every code kesu/ logs has a human label (kesu/audit/labels.py), so no case history shows a raw code."""
    from pathlib import Path

    import kesu
    from kesu.audit.labels import ACTIONS

    call = re.compile(r"log_action\(\s*(?:[^,()]|\([^()]*\))+,\s*([^,\n)]+)")
    codes, unknown = set(), []
    for path in Path(kesu.__file__).parent.rglob("*.py"):
        for argument in (m.group(1).strip() for m in call.finditer(path.read_text())):
            if re.fullmatch(r'"[a-z_.]+"', argument):
                codes.add(argument.strip('"'))
            elif argument in DYNAMIC_ACTIONS:
                codes.update(DYNAMIC_ACTIONS[argument])
            else:
                unknown.append(f"{path.name}: {argument}")
    assert unknown == [], "a code given as an expression: list its values in DYNAMIC_ACTIONS"
    assert len(codes) > 80
    assert sorted(codes - set(ACTIONS)) == []
