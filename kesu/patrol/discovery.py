"""Where the patrol finds pages to look at: discovery sources, as plug-ins.

Each source opens a Run and puts its first pages in it; the pipeline does the
rest. Register a new source with ``@register``: it needs a ``name`` and a
``start(...)`` that returns the run (or None when it had nothing to add).

- listing:    a watch's seed URLs (new uploads, categories), followed to the watch's depth;
- search:     a watch's search URL templates filled with an active case's keywords;
- submitted:  URLs staff or the victim handed in, and URLs found in sites' replies;
- related:    the pages around a new hit: its "related videos" and the same path on the operator's mirrors;
- reverse:    a reverse image search service, asked with hashes only (never her images).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import quote_plus, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..audit.services import log_action
from ..cases.models import Case, Consent, ReferenceItem
from ..lib.errors import UserError
from ..vault import services as vault
from . import extract, pipeline
from .limits import watch_for
from .models import Page, Run, Watch

SOURCES: dict[str, type] = {}
MAX_SUBMITTED = 500
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'）」]+", re.I)


def register(cls):
    SOURCES[cls.name] = cls
    return cls


def searchable_cases():
    """Cases the desk may search for: open, and she agreed to searching."""
    return [
        case
        for case in Case.objects.exclude(status=Case.Status.CLOSED).select_related("data_key")
        if Consent.SEARCH in case.consent
    ]


def _open_run(source: str, *, watch: Watch | None = None, case: Case | None = None, key: str = "") -> Run | None:
    with transaction.atomic():
        if key and Run.objects.filter(key=key).exists():
            return None
        return Run.objects.create(source=source, watch=watch, case=case, key=key)


@register
class Listings:
    name = "listing"

    @staticmethod
    def start(watch: Watch) -> Run:
        run = _open_run(Run.Source.LISTING, watch=watch)
        for url in watch.seeds:
            pipeline.add_page(run, url, Page.Kind.LISTING)
        return run


@register
class Searches:
    name = "search"

    @staticmethod
    def keywords(case: Case) -> list[str]:
        rows = ReferenceItem.objects.filter(case=case, kind=ReferenceItem.Kind.KEYWORD)
        return [vault.open_text(case.data_key, row.label_sealed, "reference.label") for row in rows]

    @classmethod
    def start(cls, watch: Watch, case: Case) -> Run | None:
        words = cls.keywords(case)
        if not watch.searches or not words:
            return None
        run = _open_run(Run.Source.SEARCH, watch=watch, case=case)
        for template in watch.searches:
            for word in words:
                pipeline.add_page(run, template.replace("{query}", quote_plus(word)), Page.Kind.LISTING)
        return run


@register
class Submitted:
    name = "submitted"

    @staticmethod
    def start(actor, case: Case, urls: list[str], by: str = "staff", key: str = "") -> Run | None:
        """Item pages to look at now. Bad URLs are refused with their line and reason (never their text: it may
        lead to her images, and run notes are not sealed), the rest go on."""
        good, bad = [], []
        for text in urls[:MAX_SUBMITTED]:
            url, reason = extract.normalise(text)
            (good if url else bad).append(url or f"line {len(good) + len(bad) + 1}: {reason}")
        if not good:
            raise UserError("no usable URL: " + "; ".join(bad[:3]))
        run = _open_run(Run.Source.SUBMITTED, case=case, key=key)
        if run is None:
            return None
        for url in good:
            pipeline.add_page(run, url, Page.Kind.ITEM)
        if bad:
            run.notes = [f"refused {len(bad)} URL(s): " + "; ".join(bad[:5])]
            run.save(update_fields=["notes"])
        log_action(actor, "patrol.submit", run, case_id=case.pk, urls=len(good), by=by)
        return run


@register
class Related:
    name = "related"

    @staticmethod
    def start(hit, page: Page, url: str) -> Run | None:
        """The hit's page read as a listing (its related items), and the same path on the operator's mirrors."""
        run = _open_run(Run.Source.RELATED, watch=watch_for(page.host), case=hit.case,
                        key=f"related:{hit.case_id}:{page.url_key}"[:80])  # fmt: skip
        if run is None:
            return None
        pipeline.add_page(run, url, Page.Kind.LISTING)
        for mirror in mirror_urls(url):
            pipeline.add_page(run, mirror, Page.Kind.ITEM)
        return run


def follow_hit(hit, page: Page, url: str) -> None:
    """A new hit's surroundings are worth a look (once per page and case); pages of runs that were
    themselves leads are not followed again, so leads cannot chain across a site."""
    if page.run.source != Run.Source.RELATED:
        Related.start(hit, page, url)


def mirror_urls(url: str) -> list[str]:
    from ..sites.domains import BadDomain, registrable
    from ..sites.models import Site

    try:
        domain = registrable(url)
    except BadDomain:
        return []
    site = Site.objects.filter(domain=domain).select_related("operator").first()
    if site is None or site.operator_id is None:
        return []
    parts = urlsplit(url)
    others = Site.objects.filter(operator_id=site.operator_id).exclude(pk=site.pk).values_list("domain", flat=True)
    port = f":{parts.port}" if parts.port else ""
    return [urlunsplit((parts.scheme, f"{other}{port}", parts.path, parts.query, "")) for other in others]


@register
class ReverseImage:
    """A reverse image search service: Kesu sends the case's PDQ hashes, never an image, and receives URLs.

    The service speaks JSON: POST {"pdq": ["<64 hex>", ...]} to KESU_PATROL_REVERSE_SEARCH_URL,
    answer {"matches": [{"url": "https://..."}, ...]}.
    """

    name = "reverse"
    MAX_ANSWER = 1024 * 1024

    @classmethod
    def start(cls, case: Case) -> Run | None:
        endpoint = settings.KESU_PATROL_REVERSE_SEARCH_URL
        if not endpoint:
            return None
        hashes = list(case.signals.in_use().filter(kind="pdq").values_list("value", flat=True)[:100])
        if not hashes:
            return None
        urls = cls.ask(endpoint, hashes)
        if not urls:
            return None
        return Submitted.start(None, case, urls, by="reverse image search",
                               key=f"reverse:{case.pk}:{timezone.now():%Y%m%d%H}")  # fmt: skip

    @classmethod
    def ask(cls, endpoint: str, hashes: list[str]) -> list[str]:
        from ..capture.policy import check_url, policy_from_settings
        from . import http

        answer = http.post_json(check_url(endpoint), policy_from_settings(), json.dumps({"pdq": hashes}).encode(),
                                limit=cls.MAX_ANSWER, seconds=settings.KESU_PATROL_FETCH_SECONDS)  # fmt: skip
        if answer.error or answer.status != 200:
            raise UserError(f"reverse image search failed: {answer.error or f'HTTP {answer.status}'}")
        try:
            matches = json.loads(answer.body).get("matches", [])
            return [str(m["url"]) for m in matches if isinstance(m, dict) and m.get("url")]
        except (ValueError, AttributeError, TypeError):
            raise UserError("reverse image search answered something that is not the expected JSON") from None


def urls_in_text(text: str) -> list[str]:
    return sorted({m.group(0).rstrip(".,;:)]") for m in URL_IN_TEXT.finditer(text or "")})


def from_replies(since_hours: int = 24 * 7) -> int:
    """URLs that sites (or she) mention in replies threaded to a case: submitted once per reply."""
    from ..notices.models import Reply
    from ..notices.replies import content_of

    started = 0
    since = timezone.now() - timedelta(hours=since_hours)
    replies = Reply.objects.filter(received_at__gte=since, case__isnull=False).select_related("case")
    done = set(Run.objects.filter(key__startswith="reply:", started_at__gte=since).values_list("key", flat=True))
    for reply in replies:
        key = f"reply:{reply.pk}"
        if key in done:
            continue
        urls = urls_in_text(content_of(None, reply).get("text", ""))
        if reply.notice_id:
            from ..notices.compose import urls_of

            known = set(urls_of(reply.notice))
            urls = [u for u in urls if u not in known]
        if urls:
            started += Submitted.start(None, reply.case, urls, by="reply", key=key) is not None
        else:
            _open_run(Run.Source.SUBMITTED, case=reply.case, key=key)  # remembered: nothing to follow
    return started
