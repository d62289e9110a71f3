"""Notice templates: the shipped texts, the versions supervisors save, and which one a notice uses.

Shipped texts live in ``data/templates/<regime>.<language>.txt`` (first line ``Subject: …``, a blank line,
then the body) with their provenance in ``data/templates/provenance/``. ``sync_shipped`` loads them as
versions; it never replaces a version staff saved. Every save is a new version; a sent notice keeps the
version it was written from and its exact text.
"""

import hashlib
from functools import cache
from pathlib import Path

from django.db import transaction

from ..audit.services import log_action
from ..cases.services import require_supervisor
from ..law import regimes
from ..lib.errors import UserError
from . import render
from .models import NoticeTemplate, TemplateVersion

DATA = Path(__file__).parent / "data" / "templates"
# Languages the shipped templates are written in, English first (the fallback).
LANGUAGES = ("en", "ja", "de", "fr", "nl", "es", "pt", "ru", "zh", "ko")
COUNTRY_LANGUAGE = {
    "JP": "ja", "DE": "de", "AT": "de", "CH": "de", "LI": "de", "FR": "fr", "BE": "fr", "LU": "fr", "MC": "fr",
    "NL": "nl", "SR": "nl", "ES": "es", "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "PT": "pt",
    "BR": "pt", "RU": "ru", "BY": "ru", "KZ": "ru", "KG": "ru", "CN": "zh", "TW": "zh", "HK": "zh", "MO": "zh",
    "SG": "en", "KR": "ko",
}  # fmt: skip


@cache
def shipped() -> dict[tuple[str, str], tuple[str, str]]:
    """(regime, language) -> (subject, body) of every shipped file."""
    out = {}
    for path in sorted(DATA.glob("*.*.txt")):
        regime, language = path.stem.split(".")
        out[(regime, language)] = split(path.read_text(encoding="utf-8"), path.name)
    return out


def split(text: str, what: str) -> tuple[str, str]:
    head, _, body = text.partition("\n\n")
    if not head.startswith("Subject: ") or "\n" in head or not body.strip():
        raise UserError(f"{what}: a template starts with one 'Subject: ' line, a blank line, then the body")
    return head.removeprefix("Subject: "), body


def provenance(language: str) -> str:
    path = DATA / "provenance" / f"{language}.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _digest(subject: str, body: str) -> str:
    return hashlib.sha256(f"{subject}\n\n{body}".encode()).hexdigest()


def latest(template: NoticeTemplate) -> TemplateVersion | None:
    return template.versions.order_by("-number").first()


def sync_shipped(actor="system:templates") -> dict[str, int]:
    """Load the shipped templates; a changed file becomes a new version unless staff edited the template."""
    counts = {"new": 0, "updated": 0, "unchanged": 0, "kept_staff_edit": 0}
    with transaction.atomic():
        for (regime, language), (subject, body) in shipped().items():
            template, _ = NoticeTemplate.objects.get_or_create(regime=regime, language=language, case_type="", role="")
            current = latest(template)
            digest = _digest(subject, body)
            if current and current.digest == digest:
                counts["unchanged"] += 1
            elif current and current.source == TemplateVersion.Source.STAFF:
                counts["kept_staff_edit"] += 1
            else:
                _add_version(template, subject, body, actor, TemplateVersion.Source.SHIPPED, provenance(language))
                counts["updated" if current else "new"] += 1
        if counts["new"] or counts["updated"]:
            log_action(actor, "notice.templates.sync", None, **counts)
    return counts


def _add_version(template, subject, body, actor, source, note="") -> TemplateVersion:
    number = (template.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return TemplateVersion.objects.create(
        template=template,
        number=number,
        subject=subject,
        body=body,
        source=source,
        provenance=note,
        digest=_digest(subject, body),
        created_by=str(actor),
    )


def resolve(regime: str, language: str, case_type: str, role: str) -> TemplateVersion | None:
    """The most specific template for this notice: case type and role, case type, role, then the regime's own."""
    slots = NoticeTemplate.objects.filter(regime=regime, language=language)
    for case, who in ((case_type, role), (case_type, ""), ("", role), ("", "")):
        template = slots.filter(case_type=case, role=who).first()
        if template and (version := latest(template)):
            return version
    return None


def languages_for(regime: str) -> list[str]:
    have = set(NoticeTemplate.objects.filter(regime=regime).values_list("language", flat=True))
    return [language for language in LANGUAGES if language in have]


def choose_language(org_languages: list[str], country: str, regime: str) -> str:
    """The recipient's own language when a template exists in it, else English."""
    available = languages_for(regime) or ["en"]
    wanted = [lang.split("-")[0].lower() for lang in org_languages or []]
    wanted.append(COUNTRY_LANGUAGE.get((country or "").upper(), "en"))
    for language in wanted:
        if language in available:
            return language
    return "en" if "en" in available else available[0]


def sample_context(case_type: str = "ncii", role: str = "host") -> dict:
    """A complete context, for checking a template before it is saved and for the rendered samples."""
    return {
        "token": "KS-7H3K9Q",
        "today": "2026-11-21",
        "org": {
            "name": "Kesu takedown desk",
            "email": "takedown@kesu.example",
            "address": "1-1 Example-cho, Chiyoda-ku, Tokyo 100-0001, Japan",
            "phone": "+81 3-0000-0000",
            "website": "https://kesu.example/",
            "signatory": "Aiko Sato",
        },
        "recipient": {"name": "Example Hosting B.V.", "role": role},
        "case_type": case_type,
        "urls": ["https://videos.example/watch/83321", "https://mirror.example/v/83321.html"],
        "url_count": 2,
        "victim": {"name": "山田 花子 (sample)", "address": "東京都千代田区1-1 (sample)"},
        "authority_date": "2026-10-01",
        "deadline_hours": 48,
        "evidence_count": 2,
        "evidence_date": "2026-11-21",
        "do_not_forward": role == "cdn",
        "reminder": 0,
        "first_sent": "",
    }


def check_template(regime_key: str, subject: str, body: str) -> list[str]:
    """Problems that stop a template from being saved: syntax, or a required element missing for some case."""
    regime = regimes.get(regime_key)
    problems = []
    for case_type in ("ncii", "csam", "av", "voyeurism", "sextortion", "deepfake"):
        for role in ("operator", "host", "cdn", "registrar", "search_engine", "hotline", "platform"):
            rendered = render.render(subject, body, sample_context(case_type, role))
            for element in rendered.missing(regime.required_for(case_type)):
                problems.append(f"{case_type}/{role}: {regimes.ELEMENTS[element]}")
    return sorted(set(problems))


def save_version(actor, template: NoticeTemplate, subject: str, body: str) -> TemplateVersion:
    """A supervisor's edit: checked like the shipped texts, then kept as a new version (audited)."""
    require_supervisor(actor)
    subject = render.one_line(subject)
    problems = check_template(template.regime, subject, body.replace("\r\n", "\n"))
    if problems:
        raise UserError(f"the template misses required elements ({len(problems)}): {problems[0]}")
    with transaction.atomic():
        version = _add_version(template, subject, body.replace("\r\n", "\n"), actor, TemplateVersion.Source.STAFF)
        log_action(actor, "notice.template.save", version, template=str(template), number=version.number)
    return version


def new_slot(actor, regime: str, language: str, case_type: str = "", role: str = "") -> NoticeTemplate:
    """A more specific template (e.g. AV cases to hosts in Dutch), starting from the text it overrides."""
    require_supervisor(actor)
    regimes.get(regime)
    base = resolve(regime, language, case_type, role) or resolve(regime, "en", case_type, role)
    if base is None:
        raise UserError(f"no template for {regime} to start from")
    template, created = NoticeTemplate.objects.get_or_create(
        regime=regime, language=language, case_type=case_type, role=role
    )
    if created:
        _add_version(template, base.subject, base.body, actor, TemplateVersion.Source.STAFF, f"copied from v{base.pk}")
        log_action(actor, "notice.template.create", template, slot=str(template))
    return template
