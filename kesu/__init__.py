"""Kesu (消す, "to erase"): takedown desk for image-based sexual abuse."""

from .celery import app as celery_app

__all__ = ["celery_app"]
