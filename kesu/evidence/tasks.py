from celery import shared_task

from . import services


@shared_task(name="evidence.preserve_bundle", acks_late=True)
def preserve_bundle(bundle_id: str) -> str:
    """Capture and seal a requested bundle (idempotent: a finished bundle is left as it is)."""
    return services.run_preservation(bundle_id).status
