"""Banks of signals per case. The full matcher (indexes, faces, video) grows here."""

from PIL import Image

from .models import Signal
from .signals import compute_all


def bank_reference(case, reference, data: bytes, media_kind: str, image: Image.Image | None) -> list[Signal]:
    values = compute_all(data, media_kind, image)
    return Signal.objects.bulk_create(
        Signal(case=case, reference=reference, kind=v.kind, value=v.value, quality=v.quality) for v in values
    )


def find_exact(kind: str, value: str):
    return Signal.objects.filter(kind=kind, value=value).select_related("case", "reference")
