from celery import shared_task

from . import resolution


@shared_task(name="sites.resolve_site", acks_late=True)
def resolve_site(site_id: int, force: bool = False) -> str:
    """Resolve one site (idempotent: a second run reuses cached answers and changes nothing); its status after."""
    return resolution.resolve_site_id(site_id, force=force)


@shared_task(name="sites.refresh_stale")
def refresh_stale(limit: int = 500) -> int:
    """Daily: queue the sites whose lookups have expired, a bounded number a day so the registries are not
    flooded; the list of 17,000 sites is gone through in about a month."""
    return resolution.queue_resolution(resolution.stale_sites(limit))
