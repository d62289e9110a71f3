from celery import shared_task

from . import resolution


@shared_task(name="sites.resolve_site", acks_late=True)
def resolve_site(site_id: int, force: bool = False) -> str:
    """Resolve one site (idempotent: a second run reuses cached answers and changes nothing); its status after."""
    return resolution.resolve_site_id(site_id, force=force)
