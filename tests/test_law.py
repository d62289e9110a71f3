"""The registry of legal regimes (kesu.law): elements, clocks, escalation packets and the rendered samples.

Table-driven: one row per regime. Clock ends are exact instants in UTC, across a US daylight-saving change,
Japanese New Year and Golden Week, and a British bank holiday.
"""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from kesu.law import clocks, packets, regimes
from kesu.law.clocks import Clock
from kesu.notices import render, samples, templates
from kesu.sites import knowledge

ELEMENT = r'\{%% element "%s" %%\}.*?\{%% endelement %%\}'


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def sample_case_type(key):
    return "av" if key == "jp_av_act" else "ncii"


NOTICE_ROWS = [
    (key, language)
    for key in sorted(regimes.notice_regimes())
    for language in ("en", "ja")
    if (key, language) in templates.shipped()
]


def test_every_notice_regime_has_english_and_japanese_templates_and_every_regime_cites_sources():
    assert {key for key, _ in NOTICE_ROWS} == set(regimes.notice_regimes())
    assert len(NOTICE_ROWS) == 2 * len(regimes.notice_regimes())
    for regime in regimes.REGIMES.values():
        assert regime.sources and all(s.cite and s.url.startswith("https://") for s in regime.sources), regime.key
        for clock in regime.clocks:
            assert clock.source, regime.key


@pytest.mark.parametrize(("key", "language"), NOTICE_ROWS)
def test_a_complete_notice_passes_and_each_missing_element_is_named(key, language):
    regime = regimes.get(key)
    subject, body = templates.shipped()[(key, language)]
    case_type = sample_case_type(key)
    context = templates.sample_context(case_type, samples.SAMPLE_ROLE.get(key, "operator"))
    assert render.render(subject, body, context).missing(regime.required_for(case_type)) == {}
    for element in regime.required_for(case_type):
        without = re.sub(ELEMENT % element, "", body, flags=re.S)
        assert without != body, (key, language, element)
        missing = render.render(subject, without, context).missing(regime.required_for(case_type))
        assert list(missing) == [element], (key, language, element)


@pytest.mark.parametrize(("key", "language"), NOTICE_ROWS)
def test_every_rendered_sample_holds_every_required_element(tmp_path, key, language):
    """Reads the sample file `kesu notice samples` writes and finds the text of every required element in it."""
    samples.write_samples(tmp_path)
    text = (tmp_path / f"{key}.{language}.txt").read_text(encoding="utf-8")
    subject, body = templates.shipped()[(key, language)]
    case_type = sample_case_type(key)
    context = templates.sample_context(case_type, samples.SAMPLE_ROLE.get(key, "operator"))
    for element in regimes.get(key).required_for(case_type):
        without = render.render(subject, re.sub(ELEMENT % element, "", body, flags=re.S), context).body
        kept = set(text.splitlines()) - set(without.splitlines())
        assert any(line.strip() for line in kept), (key, language, element)


# (regime, case type, role, start, expected end in UTC, why)
CLOCKS = [
    ("us_take_it_down", "ncii", "operator", utc(2027, 3, 13, 17), utc(2027, 3, 15, 17),
     "48 elapsed hours across the US DST start (14 Mar 2027): 12:00 EST to 13:00 EDT"),
    ("us_take_it_down", "deepfake", "platform", utc(2026, 11, 1, 5, 30), utc(2026, 11, 3, 5, 30),
     "48 elapsed hours across the DST end (1 Nov 2026, 01:30 EDT)"),
    ("jp_platform_act", "ncii", "operator", utc(2026, 12, 30, 0), utc(2027, 1, 1, 0),
     "the 2-day rule stays 48 elapsed hours, New Year or not"),
    ("jp_av_act", "av", "host", utc(2027, 4, 28, 1), utc(2027, 4, 30, 1), "AV Act art. 16: 48 h"),
    ("jp_platform_act", "deepfake", "platform", utc(2026, 12, 27, 3), utc(2027, 1, 4, 15),
     "large platform, 7 days: last day 3 Jan (年末年始) moves to Mon 4 Jan, ends at midnight JST"),
    ("jp_platform_act", "deepfake", "platform", utc(2027, 4, 27, 1), utc(2027, 5, 6, 15),
     "large platform, 7 days: last day 4 May (みどりの日), then 5 May (こどもの日): ends with 6 May JST"),
    ("jp_platform_act", "deepfake", "operator", utc(2026, 12, 27, 3), utc(2027, 1, 3, 3),
     "a site that is no designated platform: the 7-day inquiry rule, 168 elapsed hours"),
    ("eu_dsa_16", "ncii", "host", utc(2026, 10, 20, 10), utc(2026, 10, 27, 23),
     "desk practice, 7 days in Brussels: ends at midnight CET after the DST end of 25 Oct"),
    ("uk_osa", "ncii", "operator", utc(2026, 12, 18, 12), utc(2026, 12, 30, 0),
     "desk practice, 7 days in London: 25 Dec, the weekend and the Boxing Day substitute move it to 29 Dec"),
    ("au_osa_iba", "ncii", "platform", utc(2026, 10, 3, 13), utc(2026, 10, 4, 13),
     "24 elapsed hours from eSafety's removal notice, across Sydney's DST start (4 Oct 2026)"),
    ("search_engine_policy", "ncii", "search_engine", utc(2026, 12, 1, 9), utc(2026, 12, 9, 0),
     "desk practice: 7 days in UTC, the first day not counted (民法 140条)"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "case_type", "role", "start", "end", "why"), CLOCKS)
def test_the_clock_starts_and_ends_where_the_law_says(key, case_type, role, start, end, why):
    clock = regimes.get(key).clock_for(case_type, role)
    assert clock is not None, why
    assert clock.ends_at(start) == end, why


def test_clocks_start_on_the_event_the_law_names():
    assert regimes.get("us_take_it_down").clock_for("ncii", "operator").starts == clocks.RECEIVED
    assert regimes.get("au_osa_iba").clock_for("ncii", "platform").starts == clocks.AUTHORITY
    assert regimes.get("eu_dsa_16").milestones == ("receipt_confirmed", "decision")
    assert not regimes.get("eu_dsa_16").clock_for("ncii", "host").statutory
    assert regimes.get("dmca").clock_for("ncii", "host") is None  # "expeditiously": the desk's own period


def test_business_days_skip_weekends_and_japanese_holidays():
    clock = Clock(clocks.RECEIVED, "test", days=3, business=True, zone="Asia/Tokyo", calendar="JP")
    # Wed 28 Apr 2027; 29 Apr 昭和の日; 30 Apr (1); weekend; 3-5 May holidays; 6 May (2); 7 May (3).
    assert clock.ends_at(utc(2027, 4, 28, 1)) == utc(2027, 5, 7, 15)
    # 28 Dec 2026 (Mon): 29 Dec-3 Jan are days off, 4 Jan (1), 5 Jan (2), 6 Jan (3).
    assert clock.ends_at(utc(2026, 12, 28, 1)) == utc(2027, 1, 6, 15)
    assert clocks.is_day_off(date(2027, 1, 11), "JP")  # 成人の日
    with pytest.raises(ValueError):
        Clock(clocks.RECEIVED, "neither")


def test_take_it_down_binds_platforms_only_from_19_may_2026():
    before = regimes.choose("US", "ncii", role="operator", when=utc(2026, 5, 18, 12))
    after = regimes.choose("US", "ncii", role="operator", when=utc(2026, 5, 19, 12))
    assert before.key == "general" and any("2026-05-19" in text for text in before.passed_over)
    assert after.key == "us_take_it_down"
    assert regimes.choose("US", "ncii", role="host").key == "general"  # hosts are no covered platforms


def test_routing_reads_the_same_registry_and_the_knowledge_files_hold_no_law():
    loaded = knowledge.load()
    assert "entries" not in loaded.jurisdictions and not hasattr(loaded, "regimes")
    deadline = loaded.deadline_for("operator", "us_take_it_down", "ncii")
    assert deadline.hours == 48 and "223a" in deadline.basis
    assert loaded.regime_for("AU", "ncii", role="platform").regime is regimes.get("au_osa_iba")
    for entry in loaded.entries("platforms.json"):
        assert all(key in regimes.REGIMES for key in entry["regimes"])


FACTS = packets.Facts(
    regime="us_take_it_down",
    regime_label="US TAKE IT DOWN Act",
    recipient="Leak Tube",
    role="operator",
    case_type="ncii",
    urls=("https://leak.example/v/1", "https://mirror.example/v/1"),
    sent_at=utc(2026, 6, 1, 9),
    clock_due_at=utc(2026, 6, 3, 9),
    clock_source="TAKE IT DOWN Act §3(a)(3)",
    subject="[KS-ABC123] Request to remove",
    body="Please remove the content at these URLs.",
    receipts=((utc(2026, 6, 1, 9), "SMTP 250 accepted"),),
    evidence=(("ab" * 32, utc(2026, 6, 1, 8)),),
    representative={"name": "Kesu desk", "email": "desk@kesu.example"},
    token="KS-ABC123",
)

# The authority, and what it asks for (beyond the desk as her representative).
PACKET_ROWS = [
    ("us_take_it_down", "Federal Trade Commission", ("facts", "dates", "urls", "notice", "receipts", "evidence")),
    ("eu_dsa_16", "Digital Services Coordinator", ("urls", "notice", "receipts", "decision", "evidence")),
    ("au_osa_iba", "eSafety Commissioner", ("facts", "dates", "urls", "receipts", "evidence")),
    ("uk_osa", "Ofcom", ("facts", "dates", "urls", "notice", "receipts", "evidence")),
    ("jp_platform_act", "counsel", ("facts", "dates", "urls", "notice", "receipts", "evidence")),
    ("jp_av_act", "counsel", ("urls", "notice", "evidence")),
]


@pytest.mark.parametrize(("key", "authority", "sections"), PACKET_ROWS)
def test_the_escalation_packet_holds_what_the_authority_asks_for(key, authority, sections):
    escalation = regimes.get(key).escalation
    assert authority in escalation.authority and escalation.source.url.startswith("https://")
    packet = packets.build(escalation.packet, FACTS)
    assert set(sections) <= set(packet.sections) and "identity" not in packet.sections
    text = packet.text("en")
    for url in FACTS.urls:
        assert url in text
    assert "ab" * 32 in text and "2026-06-03 09:00 UTC" in text
    assert "経緯" in packet.text("ja") or "facts" not in packet.sections


def test_her_identity_is_in_a_packet_only_when_she_agreed():
    packet = packets.build("ftc_complaint", FACTS)
    assert "Hanako" not in packet.text()
    agreed = packets.build("ftc_complaint", packets.Facts(**{**FACTS.__dict__, "identity": {"name": "Hanako"}}))
    assert list(agreed.sections)[-1] == "identity" and "Hanako" in agreed.text()
    with pytest.raises(LookupError):
        packets.build("nope", FACTS)


def test_a_running_clock_reads_as_hours_left_or_days_missed():
    due = utc(2026, 6, 3, 9)
    assert clocks.Standing.at(due, due - timedelta(hours=31)) == clocks.Standing(False, 31, "h")
    assert clocks.Standing.at(due, due + timedelta(days=2, hours=3)) == clocks.Standing(True, 2, "d")
