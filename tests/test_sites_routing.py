"""Routing and escalation ladders for representative URLs (kesu.sites.routing), and the knowledge base
they read (kesu.sites.knowledge): shipped data, validation of a bad file, idempotent sync.

Sites, organisations and contacts are created here directly, as the resolvers would leave them.
Run with ``-s`` to see each representative ladder printed with its reasons.
"""

import json
import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from kesu.audit.models import AuditEntry
from kesu.lib.errors import UserError
from kesu.sites import knowledge, routing
from kesu.sites.knowledge_schema import KnowledgeError
from kesu.sites.models import Contact, Organisation, Outcome, Role, Site, Source, TakedownRequest

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def english():
    """The reasons are read in English here; test_i18n_pages.py reads them in Japanese on the route page."""
    with translation.override("en"):
        yield


def org(role, key, name, country="", *contacts, asn=None):
    organisation = Organisation.objects.create(role=role, key=key, name=name, country=country, asn=asn)
    for priority, (channel, address) in enumerate(contacts, 1):
        Contact.objects.create(organisation=organisation, channel=channel, address=address, priority=priority * 10)
    return organisation


def site(domain, **links):
    return Site.objects.create(domain=domain, status=Site.Status.ACTIVE, **links)


def cloudflare():
    return Organisation.objects.get(role=Role.CDN, key="cloudflare")


def roles(ladder):
    return [step.role for step in ladder.steps]


def by_role(ladder, role):
    return [step for step in ladder.steps if step.role == role]


def one(ladder, role):
    (step,) = by_role(ladder, role)
    return step


def engine(ladder, key):
    return next(s for s in by_role(ladder, Role.SEARCH_ENGINE) if s.recipient and s.recipient.key == key)


def show(ladder):
    print("\n" + ladder.text())


def check_every_step_explained(ladder):
    assert ladder.steps and [s.order for s in ladder.steps] == list(range(1, len(ladder.steps) + 1))
    for step in ladder.steps:
        assert step.reason.strip(), f"step {step.order} ({step.role}) has no reason"
        if step.skip:
            assert step.skip_reason and step.due_after is None
        else:
            assert step.legal_basis and step.legal_basis_label and step.address
    show(ladder)


@pytest.fixture
def synced(db):
    return knowledge.sync()


@pytest.fixture
def lawyer(db):
    return org(Role.LAWYER, "counsel-tokyo", "Desk counsel (Tokyo)", "JP", ("email", "counsel@law.example.jp"))


# --- representative URLs -------------------------------------------------------------------------------


def test_a_japanese_site_on_a_japanese_host_gets_the_2_day_platform_act_ladder(synced, lawyer):
    jp = site(
        "ero-douga.jp",
        jurisdiction="JP",
        server_country="JP",
        operator=org(Role.OPERATOR, "ero-douga", "エロ動画.jp 運営", "JP", ("email", "info@ero-douga.jp")),
        host=org(Role.HOST, "as9370", "さくらインターネット", "JP", ("email", "abuse@sakura.ad.jp")),
        registrar=org(
            Role.REGISTRAR, "jprs-gmo", "GMOインターネットグループ", "JP", ("form", "https://www.onamae.com/")
        ),
    )
    ladder = routing.route("https://ero-douga.jp/videos/123", "ncii", now=NOW)
    check_every_step_explained(ladder)

    assert ladder.site == jp
    assert roles(ladder) == ["operator", "host", "cdn", "registrar", *["search_engine"] * 4, "hotline", "lawyer"]
    operator, host = one(ladder, Role.OPERATOR), one(ladder, Role.HOST)
    assert (operator.channel, operator.address) == ("email", "info@ero-douga.jp")
    for step in (operator, host):
        assert step.legal_basis == "jp_platform_act" and step.deadline == 48 * H
        assert "私事性的画像記録" in step.reason and "2 days" in step.reason
    assert one(ladder, Role.CDN).skip and "no CDN" in one(ladder, Role.CDN).skip_reason
    assert one(ladder, Role.REGISTRAR).legal_basis == "general"
    assert "ICANN" in one(ladder, Role.REGISTRAR).reason

    google = engine(ladder, "google")
    assert google.address == "https://support.google.com/websearch/answer/6302812"
    assert google.legal_basis == "search_engine_policy" and google.recipient.source == Source.KNOWLEDGE
    yahoo = engine(ladder, "yahoo-japan")
    assert yahoo.skip and "Google" in yahoo.skip_reason

    hotline = one(ladder, Role.HOTLINE)
    assert hotline.recipient.key == "jp-ihc" and hotline.legal_basis == "hotline_report"
    assert one(ladder, Role.LAWYER).recipient == lawyer and one(ladder, Role.LAWYER).deadline is None

    # Operator now, host after the operator's 2 days, registrar after the host's 2 days, all engines together.
    assert operator.due_after == NOW and host.due_after == NOW + 48 * H
    assert one(ladder, Role.REGISTRAR).due_after == NOW + 96 * H
    engines = [s for s in by_role(ladder, Role.SEARCH_ENGINE) if not s.skip]
    assert {s.due_after for s in engines} == {NOW + (96 + 168) * H}
    assert hotline.due_after == NOW + (96 + 2 * 168) * H


def test_an_offshore_site_behind_cloudflare_with_a_dutch_host_and_a_us_registrar(synced, lawyer):
    site(
        "leak-tube.to",
        jurisdiction="SC",
        server_country="NL",
        operator=org(Role.OPERATOR, "leak-tube", "Leak Tube", "SC", ("form", "https://leak-tube.to/dmca")),
        host=org(Role.HOST, "as60781", "LeaseWeb Netherlands B.V.", "NL", ("email", "abuse@leaseweb.com")),
        cdn=cloudflare(),
        registrar=org(Role.REGISTRAR, "iana:1234", "Example Registrar LLC", "US", ("email", "abuse@registrar.example")),
    )
    ladder = routing.route("https://leak-tube.to/v/abc", "ncii", now=NOW)
    check_every_step_explained(ladder)

    assert roles(ladder)[:4] == ["operator", "host", "cdn", "registrar"]
    assert one(ladder, Role.OPERATOR).legal_basis == "general"
    host = one(ladder, Role.HOST)
    assert host.legal_basis == "eu_dsa_16" and "DSA Art. 16 (NL)" in host.reason and host.deadline == 168 * H

    cdn = one(ladder, Role.CDN)
    assert cdn.recipient == cloudflare() and (cdn.channel, cdn.address) == ("form", "https://abuse.cloudflare.com/")
    assert {"ask_origin_disclosure", "do_not_forward_to_operator"} <= cdn.flags
    assert "lumen_warning" not in cdn.flags
    assert cdn.deadline == 24 * H and "hosting provider" in cdn.reason and "NCSEI" in cdn.reason

    registrar = one(ladder, Role.REGISTRAR)
    assert registrar.legal_basis == "general"
    assert "TAKE IT DOWN Act not used" in registrar.reason and "not a registrar" in registrar.reason

    hotline = one(ladder, Role.HOTLINE)
    assert hotline.recipient.key == "nl-offlimits" and "The server is in NL" in hotline.reason


def test_csam_on_a_host_in_a_country_without_a_member_hotline_goes_to_the_hotline_first(synced, lawyer):
    site(
        "dark-pics.cc",
        server_country="SC",
        operator=org(Role.OPERATOR, "dark-pics", "dark-pics", "", ("email", "admin@dark-pics.cc")),
        host=org(Role.HOST, "as-offshore", "Offshore Hosting Ltd", "SC", ("email", "abuse@offshore.example")),
        cdn=cloudflare(),
    )
    ladder = routing.route("http://dark-pics.cc/gallery/9", "csam", now=NOW)
    check_every_step_explained(ladder)

    first = ladder.steps[0]
    assert first.role == Role.HOTLINE and first.recipient.key == "jp-ihc" and first.due_after == NOW
    assert "no member hotline in SC" in first.reason and "goes first" in first.reason
    assert roles(ladder)[1:5] == ["operator", "host", "cdn", "registrar"] and roles(ladder)[-1] == "lawyer"
    assert one(ladder, Role.OPERATOR).due_after == NOW + 72 * H  # after the hotline's three days
    assert {"do_not_forward_to_operator", "ask_origin_disclosure"} <= one(ladder, Role.CDN).flags
    google = engine(ladder, "google")
    assert not google.skip and google.address == "https://support.google.com/legal/answer/3110420"


def test_av_coercion_in_japan_cites_the_av_act(synced):
    site(
        "av-stream.jp",
        jurisdiction="JP",
        server_country="JP",
        operator=org(Role.OPERATOR, "av-stream", "AVストリーム", "JP", ("email", "support@av-stream.jp")),
        host=org(Role.HOST, "as2516", "KDDI", "JP", ("email", "abuse@kddi.example")),
    )
    ladder = routing.route("https://av-stream.jp/title/ABC-123", "av", now=NOW)
    check_every_step_explained(ladder)

    for step in (one(ladder, Role.OPERATOR), one(ladder, Role.HOST)):
        assert step.legal_basis == "jp_av_act" and step.also_bases == ("jp_platform_act",)
        assert step.deadline == 48 * H and "art. 16" in step.reason
    assert one(ladder, Role.LAWYER).skip and "no lawyer" in one(ladder, Role.LAWYER).skip_reason


def test_a_url_on_a_big_platform_uses_the_platforms_own_form(synced):
    ladder = routing.route("https://x.com/someone/status/1850000000000000000", "ncii", now=NOW)
    check_every_step_explained(ladder)

    operator = one(ladder, Role.OPERATOR)
    assert ladder.site is None and ladder.platform["key"] == "x"
    assert operator.recipient.role == Role.PLATFORM and operator.recipient.key == "x"
    assert operator.address == "https://help.x.com/forms/safety-and-sensitive-content"
    assert operator.legal_basis == "us_take_it_down" and operator.deadline == 48 * H
    assert operator.also_bases == ("jp_platform_act", "eu_dsa_16")
    for role in (Role.HOST, Role.CDN, Role.REGISTRAR):
        assert one(ladder, role).skip and "its own form" in one(ladder, role).skip_reason
    hotline = one(ladder, Role.HOTLINE)  # X is in the US, whose hotline takes minors' images only
    assert hotline.recipient.key == "jp-ihc" and "X (formerly Twitter) is established in US" in hotline.reason
    csam = routing.route("https://x.com/someone/status/2", "csam", now=NOW)
    assert csam.steps[0].role == Role.HOTLINE and csam.steps[0].recipient.key == "us-ncmec"

    # Before the TAKE IT DOWN duties applied, the Japanese designated-platform route comes first.
    early = routing.route("https://twitter.com/someone/status/1", "ncii", now=datetime(2026, 1, 10, tzinfo=UTC))
    assert one(early, Role.OPERATOR).legal_basis == "jp_platform_act"
    assert "in force only from 2026-05-19" in one(early, Role.OPERATOR).reason

    pornhub = routing.route("https://jp.pornhub.com/view_video.php?viewkey=abc", "ncii", now=NOW)
    check_every_step_explained(pornhub)
    step = one(pornhub, Role.OPERATOR)
    assert step.address == "https://www.pornhub.com/content-removal" and "StopNCII" in step.reason
    assert "it binds Aylo (Pornhub, YouPorn, RedTube, Tube8) wherever it is established, CY" in step.reason
    assert "eu_dsa_16" in (step.legal_basis, *step.also_bases)


def test_the_platform_form_comes_from_the_shipped_data_before_any_sync(db):
    ladder = routing.route("https://www.tiktok.com/@someone/video/1", "deepfake", now=NOW)
    check_every_step_explained(ladder)
    operator = one(ladder, Role.OPERATOR)
    assert operator.recipient is None and operator.recipient_name == "TikTok"
    assert operator.address == "https://www.tiktok.com/legal/report/feedback"
    assert "not yet synced" in operator.reason
    assert Organisation.objects.count() == 0


def test_dmca_only_when_the_victim_holds_the_copyright_and_then_with_the_lumen_warning(synced):
    site(
        "us-amateur.com",
        jurisdiction="US",
        server_country="US",
        operator=org(Role.OPERATOR, "us-amateur", "US Amateur", "US", ("email", "dmca@us-amateur.com")),
        host=org(Role.HOST, "as-us-host", "US Host Inc.", "US", ("email", "abuse@ushost.example")),
        cdn=cloudflare(),
    )
    url = "https://us-amateur.com/p/42"
    plain = routing.route(url, "ncii", now=NOW)
    check_every_step_explained(plain)
    assert one(plain, Role.OPERATOR).legal_basis == "us_take_it_down"
    assert one(plain, Role.HOST).legal_basis == "general"  # TAKE IT DOWN binds covered platforms, not hosts
    assert not any("lumen_warning" in s.flags for s in plain.steps)
    assert "DMCA not used" in one(plain, Role.OPERATOR).reason
    hotline = one(plain, Role.HOTLINE)  # NCMEC takes minors' images only: the home hotline takes hers
    assert hotline.recipient.key == "jp-ihc" and "takes only child sexual abuse material" in hotline.reason
    assert "StopNCII" in hotline.reason

    owned = routing.route(url, "ncii", victim_holds_copyright=True, now=NOW)
    check_every_step_explained(owned)
    for role in (Role.OPERATOR, Role.HOST):
        step = one(owned, role)
        assert step.legal_basis == "dmca" and "lumen_warning" in step.flags and "Lumen" in step.reason
    assert one(owned, Role.OPERATOR).also_bases == ("us_take_it_down",)
    cdn = one(owned, Role.CDN)  # a CDN cannot remove: keep its privacy-friendly category, no DMCA
    assert cdn.legal_basis == "general" and "lumen_warning" not in cdn.flags
    assert "do_not_forward_to_operator" in cdn.flags

    # The flag does nothing where DMCA does not apply (a Japanese recipient).
    site("jp-selfies.jp", jurisdiction="JP", operator=org(Role.OPERATOR, "jp-s", "JP", "JP", ("email", "a@jp-s.jp")))
    jp = routing.route("https://jp-selfies.jp/1", "ncii", victim_holds_copyright=True, now=NOW)
    assert (
        one(jp, Role.OPERATOR).legal_basis == "jp_platform_act" and "lumen_warning" not in one(jp, Role.OPERATOR).flags
    )


def test_an_unknown_site_is_reported_not_created(synced):
    before = Site.objects.count()
    ladder = routing.route("https://Unknown-Leaks.net/album/7", "ncii", now=NOW)
    check_every_step_explained(ladder)

    assert ladder.site is None and ladder.domain == "unknown-leaks.net" and Site.objects.count() == before
    for role in (Role.OPERATOR, Role.HOST, Role.CDN, Role.REGISTRAR):
        step = one(ladder, role)
        assert step.skip and step.skip_reason == routing.RESOLVE and "resolve it" in step.reason
    assert not engine(ladder, "google").skip and engine(ladder, "google").due_after == NOW
    hotline = one(ladder, Role.HOTLINE)
    assert hotline.recipient.key == "jp-ihc" and "hosting country is unknown" in hotline.reason


def test_a_bounced_operator_email_moves_to_the_next_contact(synced):
    operator = org(Role.OPERATOR, "bounce", "Bounce Site", "JP", ("email", "old@bounce.jp"), ("email", "new@bounce.jp"))
    site("bounce.jp", jurisdiction="JP", operator=operator)
    Contact.objects.filter(address="old@bounce.jp").update(bounced_at=NOW - timedelta(days=3))

    step = one(routing.route("https://bounce.jp/x", "ncii", now=NOW), Role.OPERATOR)
    assert (step.channel, step.address) == ("email", "new@bounce.jp") and step.contact.address == "new@bounce.jp"
    assert "old@bounce.jp (bounced" in step.reason and not step.skip

    Contact.objects.filter(address="new@bounce.jp").update(bounced_at=NOW)
    ladder = routing.route("https://bounce.jp/x", "ncii", now=NOW)
    check_every_step_explained(ladder)
    step = one(ladder, Role.OPERATOR)
    assert step.skip and "every contact" in step.skip_reason and step.address == ""
    assert one(ladder, Role.HOST).skip  # no host either: the first active rung is the search engines
    assert engine(ladder, "google").due_after == NOW


def test_a_subdomain_of_a_mirror_maps_to_the_mirrors_site_and_names_the_group(synced):
    operator = org(Role.OPERATOR, "leakhub", "LeakHub", "", ("email", "takedown@leakhub.net"))
    site("leakhub.net", operator=operator)
    mirror = site("leakhub.cc", operator=operator, relation=Site.Relation.MIRROR)
    ladder = routing.route("https://CDN3.img.LeakHub.cc/x/1.jpg", "voyeurism", now=NOW)
    check_every_step_explained(ladder)

    assert ladder.site == mirror
    step = one(ladder, Role.OPERATOR)
    assert step.address == "takedown@leakhub.net"
    assert "cdn3.img.leakhub.cc, which belongs to leakhub.cc" in step.reason
    assert "The same operator runs leakhub.net" in step.reason


def test_an_operator_that_ignored_nearly_every_request_gets_a_shorter_deadline(synced):
    ignoring = site(
        "ignore-all.jp",
        jurisdiction="JP",
        operator=org(Role.OPERATOR, "ignore-all", "Ignore All", "JP", ("email", "info@ignore-all.jp")),
        host=org(Role.HOST, "as-jp", "JP Host", "JP", ("email", "abuse@jphost.example")),
    )
    for i in range(42):
        sent = NOW - timedelta(days=400 - i * 7)
        removed = i in (3, 17)
        TakedownRequest.objects.create(
            site=ignoring,
            recipient=ignoring.operator,
            role=Role.OPERATOR,
            case_type="ncii",
            sent_at=sent,
            outcome=Outcome.DELETED if removed else Outcome.STILL_ONLINE,
            resolved_at=sent + timedelta(days=2) if removed else None,
        )
    ladder = routing.route("https://ignore-all.jp/p/1", "deepfake", now=NOW)
    check_every_step_explained(ladder)

    operator = one(ladder, Role.OPERATOR)
    assert operator.prediction is not None and operator.prediction.probability <= 0.1
    assert operator.prediction.evidence_count >= 10
    assert operator.deadline == 24 * H and "ignored 40 of 42 past requests" in operator.reason
    assert not operator.skip and one(ladder, Role.HOST).due_after == NOW + 24 * H
    # Without enough history about it, the host keeps its full period.
    assert one(ladder, Role.HOST).deadline == 168 * H


def test_bad_input_is_one_clear_line(db):
    with pytest.raises(UserError, match="not a valid domain|has no host name|not a URL"):
        routing.route("not a url at all", "ncii")
    with pytest.raises(UserError, match="unknown case type 'porn'"):
        routing.route("https://x.com/a", "porn")


# --- the knowledge base --------------------------------------------------------------------------------


def test_every_shipped_file_states_its_sources_date_and_that_it_must_be_checked():
    loaded = knowledge.load()
    for name in knowledge.FILES:
        data = loaded.files[name]
        assert data["compiled_on"] == "2026-11-21" and data["source"]
        assert "transcribed" in data["note"].lower() and "check" in data["note"].lower()
        assert all(entry["source"].startswith(("https://", "http://")) for entry in data.get("entries", ()))
    assert loaded.hotline_for("GB")["key"] == "gb-iwf" and loaded.hotline_for("GB", "ncii") is None
    assert loaded.hotline_for("US")["key"] == "us-ncmec" and loaded.hotline_for("SC") is None
    assert loaded.cdn_process("AS13335")["customer_response_hours"] == 24
    assert loaded.platform_for_domain("https://m.youtube.com/watch?v=1")["key"] == "google"
    assert {p["key"] for p in loaded.stopncii_partners("meta")} == {"facebook", "instagram", "threads"}


def test_sync_is_idempotent_and_keeps_what_staff_own(db):
    staff_cf = Organisation.objects.create(
        role=Role.CDN, key="cloudflare", name="Cloudflare (our notes)", notes="ask for Jane", source=Source.STAFF
    )
    first = knowledge.sync()
    organisations = sum(1 for _ in knowledge.current().organisations())
    assert len(first.created) == organisations - 1 and first.kept == ["cdn:cloudflare"]
    staff_cf.refresh_from_db()
    assert staff_cf.name == "Cloudflare (our notes)" and staff_cf.notes == "ask for Jane"
    assert staff_cf.contacts.get().address == "https://abuse.cloudflare.com/"  # a missing contact is added
    contacts = Contact.objects.count()
    assert contacts == sum(len(e["contacts"]) for _, e, _ in knowledge.current().organisations())
    google = Organisation.objects.get(role=Role.SEARCH_ENGINE, key="google")
    assert google.source == Source.KNOWLEDGE and "compiled 2026-11-21" in google.notes
    assert AuditEntry.objects.filter(action="sites.knowledge_sync").count() == 1

    bounced = google.contacts.order_by("priority").first()
    bounced.bounced_at = NOW
    bounced.save()
    second = knowledge.sync()
    assert second.changes == 0 and second.unchanged == organisations - 1
    assert Contact.objects.count() == contacts and Organisation.objects.count() == organisations
    assert AuditEntry.objects.filter(action="sites.knowledge_sync").count() == 1
    bounced.refresh_from_db()
    assert bounced.bounced_at == NOW


def test_sync_updates_knowledge_rows_and_retires_dropped_contacts(db, tmp_path):
    knowledge.sync()
    data = tmp_path / "data"
    shutil.copytree(knowledge.DATA_DIR, data)
    path = data / "search_engines.json"
    engines = json.loads(path.read_text())
    engines["entries"][1]["name"] = "Bing"
    dropped = engines["entries"][1]["contacts"].pop()
    path.write_text(json.dumps(engines, ensure_ascii=False))

    report = knowledge.sync(knowledge=knowledge.load(data))
    assert report.updated == ["search_engine:bing"] and report.contacts_retired == 1 and not report.created
    retired = Contact.objects.get(address=dropped["address"])
    assert retired.priority == knowledge.RETIRED_PRIORITY and "no longer" in retired.note
    assert knowledge.sync(knowledge=knowledge.load(data)).changes == 0


def _drop_comma(text):
    return text.replace('"key": "aylo",', '"key": "aylo"', 1)


def _bad_contact(data):
    data["entries"][0]["contacts"][0]["address"] = "abuse.cloudflare.com"


DAMAGE = [
    ("platforms.json", _drop_comma, r"^platforms\.json: not valid JSON \(line \d+, column \d+"),
    (
        "inhope_hotlines.json",
        lambda d: d["entries"][1].pop("source"),
        r"^inhope_hotlines\.json: entry 2 \('us-ncmec'\): 'source' is missing$",
    ),
    (
        "cloudflare.json",
        _bad_contact,
        r"^cloudflare\.json: entry 1 \('cloudflare'\): 'contacts' item .* address must be an http\(s\) URL$",
    ),
    (
        "platforms.json",
        lambda d: d["entries"][2]["regimes"].append("mars_law"),
        r"^platforms\.json: entry 3 \('xhamster'\): regime 'mars_law' is not a legal regime in kesu\.law$",
    ),
    (
        "jurisdictions.json",
        lambda d: d["role_deadlines"].update(host={"hours": -2, "basis": "x"}),
        r"^jurisdictions\.json: role_deadlines\.host hours must be a positive number",
    ),
    (
        "search_engines.json",
        lambda d: d.pop("compiled_on"),
        r"^search_engines\.json: top-level 'compiled_on' must be a date",
    ),
    (
        "platforms.json",
        lambda d: d["entries"][0]["domains"].append("www.pornhub.com"),
        r"^platforms\.json: entry 1 \('aylo'\): 'domains' item 'www\.pornhub\.com' must be a registrable domain",
    ),
]


@pytest.mark.parametrize(("name", "damage", "message"), DAMAGE)
def test_a_malformed_data_file_gives_one_line_naming_the_file_and_entry(tmp_path, name, damage, message):
    data = tmp_path / "data"
    shutil.copytree(knowledge.DATA_DIR, data)
    path = data / name
    if "JSON" in message:
        path.write_text(damage(path.read_text()))
    else:
        content = json.loads(path.read_text())
        damage(content)
        path.write_text(json.dumps(content, ensure_ascii=False))
    with pytest.raises(KnowledgeError, match=message) as error:
        knowledge.load(data)
    assert "\n" not in str(error.value)
    (data / name).unlink()
    with pytest.raises(KnowledgeError, match=f"^{re.escape(name)}: missing from "):
        knowledge.load(data)


@pytest.mark.django_db
def test_a_dmca_notice_keeps_the_stricter_deadline_of_the_statute_cited_beside_it():
    operator = Organisation.objects.create(role="operator", key="us-tube", name="US Tube", country="US")
    Contact.objects.create(organisation=operator, channel="email", address="dmca@us-tube.example")
    Site.objects.create(domain="us-tube.example", operator=operator, jurisdiction="US", server_country="US")
    ladder = routing.route(
        "https://us-tube.example/v/1", "ncii", victim_holds_copyright=True, now=datetime(2026, 7, 1, tzinfo=UTC)
    )
    step = ladder.steps[0]
    assert step.legal_basis == "dmca" and "us_take_it_down" in step.also_bases
    assert step.deadline == timedelta(hours=48)
