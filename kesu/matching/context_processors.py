"""The pink mark on every page, from the one definition of the threshold (kesu.matching.calibration)."""

from .calibration import PINK


def thresholds(request) -> dict:
    """``PINK`` (a probability) and ``PINK_LABEL`` ("≥95%") for templates; a hit knows itself with ``hit.pink``."""
    return {"PINK": PINK, "PINK_LABEL": f"≥{round(PINK * 100)}%"}
