"""The patrol's durable state: what to watch, what was fetched, what each medium was, what each re-check saw.

The rows are the queue. A Celery message only says "look at row N"; a row is
worked on by whoever holds its claim, and its results are written in the
same transaction that moves it to the next stage, guarded by that claim. So a
worker killed at any moment leaves either nothing or everything, a lost
broker message is found again by the sweep, and a duplicated one finds the
row already claimed or already past its stage.

URLs are sealed with the patrol key (search URLs carry a case's keywords; item
URLs may lead to her images) and looked up by ``url_key``, a keyed hash.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Browser(models.TextChoices):
    NEVER = "never", _("Never: plain HTTP is enough")
    AUTO = "auto", _("When a page needs it (players, streams)")
    ALWAYS = "always", _("Always")


class Watch(models.Model):
    """What to patrol on one site, and how politely."""

    site = models.ForeignKey("sites.Site", on_delete=models.CASCADE, related_name="watches")
    name = models.CharField(_("name"), max_length=120)
    seeds = models.JSONField(_("listing URLs"), default=list, help_text=_("new uploads, categories"))
    searches = models.JSONField(
        _("search URL templates"), default=list, blank=True, help_text=_("{query} is filled with a case's keywords")
    )
    item_pattern = models.CharField(_("item link pattern"), max_length=300, blank=True)
    listing_pattern = models.CharField(_("listing link pattern"), max_length=300, blank=True)
    max_depth = models.PositiveSmallIntegerField(_("listing depth"), default=3)
    max_pages = models.PositiveIntegerField(_("pages per run"), default=200)
    max_links = models.PositiveIntegerField(_("links taken per page"), default=200)
    every_minutes = models.PositiveIntegerField(_("every (minutes)"), default=60)
    rate_per_minute = models.PositiveIntegerField(_("requests per minute to a host"), default=30)
    concurrency = models.PositiveSmallIntegerField(_("parallel requests to a host"), default=2)
    browser = models.CharField(_("browser"), max_length=8, choices=Browser.choices, default=Browser.AUTO)
    enabled = models.BooleanField(_("enabled"), default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_items = models.PositiveIntegerField(default=0, help_text=_("item links the last run found"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Run(models.Model):
    """One patrol pass: a watch's listings, a case's searches, submitted URLs, or leads from hits."""

    class Source(models.TextChoices):
        LISTING = "listing", _("Site listings")
        SEARCH = "search", _("Site search")
        SUBMITTED = "submitted", _("Submitted URLs")
        RELATED = "related", _("Related pages of hits")
        REVERSE = "reverse", _("Reverse image search")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        LIMITED = "limited", _("Stopped at a limit")

    watch = models.ForeignKey(Watch, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, null=True, blank=True, related_name="patrol_runs")
    source = models.CharField(max_length=12, choices=Source.choices)
    key = models.CharField(max_length=80, blank=True, db_index=True, help_text=_("one run per lead"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text=_("what happened: limits reached, hosts that refused"))
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]


class Stage(models.TextChoices):
    FETCH = "fetch", _("Fetch")
    CAPTURE = "capture", _("Capture in the browser")
    DOWNLOAD = "download", _("Download")
    FINGERPRINT = "fingerprint", _("Fingerprint")
    MATCH = "match", _("Match")
    ALERT = "alert", _("Alert")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class Claimed(models.Model):
    """A row one worker at a time works on: the claim and when it was taken."""

    stage = models.CharField(max_length=12, choices=Stage.choices, db_index=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(default=timezone.now, db_index=True, help_text=_("not before; swept when long past"))
    attempts = models.PositiveSmallIntegerField(default=0)
    completions = models.PositiveSmallIntegerField(default=0, help_text=_("stages committed; each exactly once"))
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        abstract = True


class Page(Claimed):
    """A page to fetch in a run: a listing (links to follow) or an item (media to take)."""

    class Kind(models.TextChoices):
        LISTING = "listing", _("Listing")
        ITEM = "item", _("Item page")

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="pages")
    url_key = models.CharField(max_length=64)
    url_sealed = models.BinaryField()
    host = models.CharField(max_length=253, db_index=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    depth = models.PositiveSmallIntegerField(default=0)
    parent = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    links = models.PositiveIntegerField(default=0)
    media = models.PositiveIntegerField(default=0)
    browser = models.BooleanField(default=False, help_text=_("went to the browser (a player, a proxy)"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "url_key"], name="patrol_page_once_per_run")]


class Fingerprint(Claimed):
    """One medium, by its SHA-256: fingerprinted once however many pages show it."""

    sha256 = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=8, blank=True)
    mime = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    blob = models.ForeignKey("vault.VaultBlob", on_delete=models.SET_NULL, null=True, related_name="+")
    computed = models.ForeignKey(
        "vault.VaultBlob", on_delete=models.SET_NULL, null=True, related_name="+", help_text=_("sealed signals")
    )
    # A stranger's medium keeps only its SHA-256: set when it matched nothing, its bytes and signals deleted.
    stranger_through = models.PositiveBigIntegerField(
        null=True, blank=True, help_text=_("matched nothing in the bank up to this signal; only the SHA-256 is kept")
    )
    created_at = models.DateTimeField(auto_now_add=True)


class Sighting(Claimed):
    """One medium seen on one page: download, then (through its fingerprint) match and alert."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="sightings")
    url_key = models.CharField(max_length=64)
    url_sealed = models.BinaryField()
    host = models.CharField(max_length=253, db_index=True)
    fingerprint = models.ForeignKey(Fingerprint, on_delete=models.SET_NULL, null=True, related_name="sightings")
    hits = models.ManyToManyField("matching.Hit", blank=True, related_name="sightings")
    new_hits = models.JSONField(default=list, blank=True, help_text=_("hits this sighting made (alerted once)"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["page", "url_key"], name="patrol_sighting_once_per_page")]


class HostState(models.Model):
    """Politeness towards one host, shared by every worker: the next free slot, who is in flight, pauses."""

    host = models.CharField(max_length=253, unique=True)
    next_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True)
    leases = models.JSONField(default=list, blank=True)  # [[token, expires iso], ...]
    version = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    refusals = models.PositiveIntegerField(default=0, help_text=_("403/429 in a row"))
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)


class Recheck(Claimed):
    """One URL that was requested for removal, checked on a schedule until it is gone (and then for re-uploads)."""

    class State(models.TextChoices):
        UNCHECKED = "unchecked", _("Not checked yet")
        ONLINE = "online", _("Media still there")
        PAGE_GONE = "page_gone", _("Page gone")
        MEDIA_GONE = "media_gone", _("Media gone")
        SOFT_404 = "soft_404", _("Page empty (soft 404)")
        REPLACED = "replaced", _("Replaced by other content")
        GEO_BLOCKED = "geo_blocked", _("Blocked in our country")
        UNREACHABLE = "unreachable", _("Unreachable")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="rechecks")
    notice = models.ForeignKey("notices.Notice", on_delete=models.CASCADE, related_name="rechecks")
    url_key = models.CharField(max_length=64)
    url_sealed = models.BinaryField()
    host = models.CharField(max_length=253, db_index=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.UNCHECKED)
    checks = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    gone_at = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)  # [{"at", "state", "status", "evidence"}], changes only
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "url_key"], name="patrol_recheck_once_per_notice")]

    GONE = (State.PAGE_GONE, State.MEDIA_GONE, State.SOFT_404, State.REPLACED)

    @property
    def gone(self) -> bool:
        return self.state in self.GONE


class DigestMark(models.Model):
    """The last hit a staff member's digest counted."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_hit_id = models.PositiveBigIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
