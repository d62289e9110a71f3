"""From raw distances to a probability that a hit is right.

Each calibrated signal type has a logistic model over the features it makes of its
own scores (``SignalType.features`` in signals.py), fitted on labelled
pairs by bench/calibrate.py (which also checks, on pictures the fit did not
see, that hits at or above ``PINK`` are right at least that often). The fitted
parameters live in calibration.json next to this file. A hit's probability
is that of its strongest signal: the signals are not independent (a copy
that PDQ finds is also rich in ORB matches), so multiplying their doubts
would overstate certainty.
"""

import json
import math
from functools import cache
from pathlib import Path

import numpy as np

PARAMS_FILE = Path(__file__).with_name("calibration.json")
# The two probabilities the desk acts on, named here and nowhere else (templates get them from
# kesu.matching.context_processors, queries filter on these names).
PINK = 0.95  # the desk marks hits at or above this probability: very likely her image
REVIEW_CUT = 0.5  # below this a candidate is more likely wrong than right: not a hit, not her copy


@cache
def shipped_params() -> dict:
    return json.loads(PARAMS_FILE.read_text())


_desk: dict = {"stamp": None, "params": {}}


def desk_file() -> Path:
    from django.conf import settings

    return Path(settings.KESU_CALIBRATION_FILE)


def params() -> dict:
    """The shipped parameters, with any signal the desk's own decisions refitted (kesu.review) replaced.

    The refitted file is re-read when it changes, so every worker follows a refit without a restart.
    """
    path = desk_file()
    try:
        stat = path.stat()
        stamp = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a refit replaces the file: new inode
    except OSError:
        stamp = None
    if stamp != _desk["stamp"]:
        try:
            _desk["params"] = json.loads(path.read_text()).get("signals", {}) if stamp else {}
        except FileNotFoundError:  # forgotten between the stat and the read
            _desk["params"], stamp = {}, None
        _desk["stamp"] = stamp
    shipped = shipped_params()
    # a refit of a model whose features have changed since (a shipped update) no longer applies
    fitted = {k: v for k, v in _desk["params"].items() if len(v["weights"]) == len(shipped[k]["weights"])}
    return {**shipped, **fitted}


def logistic(model: str, features: list[float]) -> float:
    """The probability a model gives to a match's features (each signal type makes its own: signals.py)."""
    weights = params()[model]["weights"]
    z = float(np.dot(weights, features))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    iterations: int = 50,
    prior: np.ndarray | None = None,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Regularised logistic regression by Newton's method (IRLS).

    The L2 penalty keeps the fit finite when the classes separate, which
    they nearly do; the intercept is not penalised. With a ``prior`` the
    weights are pulled towards it instead of towards zero, and every
    weight is (a refit from a few hundred staff decisions should move the
    shipped calibration, not replace it). ``offset``: log-odds each row
    already has from terms kept out of the fit (bench/calibrate.py fits
    the local model's newest feature over the weights shipped for the rest).
    """
    centre = np.zeros(x.shape[1]) if prior is None else np.asarray(prior, dtype=float)
    weights = centre.copy()
    penalty = np.eye(x.shape[1]) * l2
    if prior is None:
        penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ weights + (0.0 if offset is None else offset), -50, 50)))
        gradient = x.T @ (p - y) + penalty @ (weights - centre)
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights
