"""A watch's limits and politeness as one value: what every stage and re-check of its pages keeps to."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from .models import Browser, Watch


@dataclass(frozen=True)
class Limits:
    """Per host: ``rate`` requests a minute and ``concurrency`` at once; per run: listings followed ``depth``
    deep, at most ``pages`` pages and ``links`` item links a listing; ``browser`` (a ``Browser``) says when a
    page goes to the real browser; ``item`` and ``listing`` are the link patterns ("" for none)."""

    rate: int
    concurrency: int
    depth: int = 1
    pages: int = 100
    links: int = 200
    browser: str = Browser.AUTO
    item: str = ""
    listing: str = ""

    @classmethod
    def of(cls, watch: Watch | None) -> Limits:
        """The watch's limits; hosts no watch describes get the settings' defaults."""
        if watch is None:
            return cls(rate=settings.KESU_PATROL_RATE_PER_MINUTE, concurrency=settings.KESU_PATROL_CONCURRENCY)
        return cls(
            rate=watch.rate_per_minute, concurrency=watch.concurrency, depth=watch.max_depth, pages=watch.max_pages,
            links=watch.max_links, browser=watch.browser, item=watch.item_pattern, listing=watch.listing_pattern,
        )  # fmt: skip

    @classmethod
    def for_host(cls, host: str) -> Limits:
        return cls.of(watch_for(host))


def watch_for(host: str) -> Watch | None:
    """The watch of the site a host belongs to (www.x.example -> x.example)."""
    labels = host.split(".")
    return Watch.objects.filter(site__domain__in=[".".join(labels[i:]) for i in range(len(labels) - 1)]).first()
