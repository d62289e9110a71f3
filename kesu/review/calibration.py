"""Staff decisions feed the matcher's calibration.

Every confirm or reject is a labelled example for the signal that gave the hit its probability. ``refit``
fits that signal's logistic model again on the desk's decisions, pulled towards the shipped weights (so a
few dozen decisions move the calibration rather than replace it), and only once each class has
``KESU_CALIBRATION_MIN_DECISIONS`` examples. The result is written next to the data (the matcher re-reads it
when it changes) and the change is audited with the figures before and after.
"""

import json
import math
import os
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils import timezone

from ..audit.services import log_action
from ..matching import calibration
from ..matching.signals import BY_LABEL
from .models import Decision

# hit.signal -> the calibration's model name (each calibrated signal type names its own)
MODELS = {label: signal_type.calibration for label, signal_type in BY_LABEL.items() if signal_type.calibration}
PRIOR_STRENGTH = 5.0


@dataclass(frozen=True)
class Refit:
    signal: str
    confirmed: int
    rejected: int
    refitted: bool
    loss_before: float | None = None
    loss_after: float | None = None
    note: str = ""


def labelled(signal: str) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix and labels from the standing decisions on hits of one signal."""
    rows = Decision.objects.filter(signal=signal, undone=False).exclude(kind=Decision.Kind.UNDO)
    signal_type = BY_LABEL[signal]
    x, y = [], []
    for features, kind in rows.values_list("features", "kind"):
        if features:
            x.append(signal_type.features(*features))
            y.append(0.0 if kind == Decision.Kind.REJECT else 1.0)
    width = len(calibration.shipped_params()[MODELS[signal]]["weights"])
    return np.array(x, dtype=float).reshape(len(x), width), np.array(y)


def _loss(weights, x, y) -> float:
    p = 1.0 / (1.0 + np.exp(-np.clip(x @ np.asarray(weights), -50, 50)))
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def refit(actor=None, minimum: int | None = None) -> list[Refit]:
    minimum = minimum or settings.KESU_CALIBRATION_MIN_DECISIONS
    current = calibration.params()
    fitted, results = {}, []
    for signal, model in MODELS.items():
        x, y = labelled(signal)
        confirmed, rejected = int(y.sum()), int(len(y) - y.sum())
        if min(confirmed, rejected) < minimum:
            note = f"needs {minimum} confirmed and {minimum} rejected decisions"
            results.append(Refit(signal, confirmed, rejected, False, note=note))
            continue
        prior = np.array(calibration.shipped_params()[model]["weights"], dtype=float)
        weights = calibration.fit_logistic(x, y, l2=PRIOR_STRENGTH, prior=prior)
        if not all(math.isfinite(w) for w in weights):
            results.append(Refit(signal, confirmed, rejected, False, note="the fit did not converge"))
            continue
        before, after = _loss(current[model]["weights"], x, y), _loss(weights, x, y)
        fitted[model] = {**calibration.shipped_params()[model], "weights": [round(float(w), 6) for w in weights]}
        fitted[model] |= {"source": "desk decisions", "confirmed": confirmed, "rejected": rejected}
        results.append(Refit(signal, confirmed, rejected, True, round(before, 4), round(after, 4)))
    if fitted:
        _write(fitted)
        log_action(
            actor,
            "calibration.refit",
            None,
            signals=sorted(fitted),
            decisions=sum(r.confirmed + r.rejected for r in results),
        )
    return results


def _write(fitted: dict) -> None:
    path = calibration.desk_file()
    old = json.loads(path.read_text()).get("signals", {}) if path.exists() else {}
    body = {"fitted_at": timezone.now().isoformat(), "signals": {**old, **fitted}}
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(body, indent=1))
    os.replace(part, path)  # every worker sees the old file or the new one, never half of it


def forget(actor=None) -> None:
    """Back to the shipped calibration (supervisors, e.g. after a bad run of decisions)."""
    calibration.desk_file().unlink(missing_ok=True)
    log_action(actor, "calibration.forget", None)


def summary() -> list[dict]:
    """Per signal: the standing decisions and where its calibration comes from now."""
    current = calibration.params()
    rows = []
    for signal, model in MODELS.items():
        x, y = labelled(signal)
        params = current[model]
        rows.append(
            {
                "signal": signal,
                "confirmed": int(y.sum()),
                "rejected": int(len(y) - y.sum()),
                "desk": params.get("source") == "desk decisions",
                "weights": params["weights"],
            }
        )
    return rows
