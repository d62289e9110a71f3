"""Backtest of the compliance prediction (kesu.sites.prediction) on a time split.

    .venv/bin/python bench/compliance_backtest.py [--requests 20000] [--seed 7] [--test-share 0.25]
    .venv/bin/python bench/compliance_backtest.py --db        # the database's history instead (the real
                                                              # requests once any is settled, as predict_for)

Default data: the SYNTHETIC history of kesu.demo.synthetic (not real data). The cutoff is the time
before which (1 - test-share) of the requests were sent. Training sees the history as it was known at
the cutoff (requests sent before it; those resolved after it count as ongoing, so they are left out).
The test set is every request sent at or after the cutoff whose final outcome is settled (deleted,
partly deleted, still online); on hold and ongoing are left out.

Baseline "this site's past rate": removed / settled among the site's training requests, whatever
their recipient or case type, used raw even for one request (0 % or 100 %). A site with no settled
training request gets the global training rate. Days baseline: the median days to deletion of the
site's removed training requests; a site with none gets the global median. Log loss clips both to
[0.001, 0.999] (the raw baseline would otherwise be infinite on any miss after 0 % or 100 %).

Prints Brier score, log loss, expected calibration error (ECE) and a calibration table (probability
bins of width 0.1: mean predicted, observed rate, count) for model and baseline side by side, and
the median absolute error of expected days. Exits 1 if the model's Brier is not below the baseline's.
"""

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")

BINS = 10
CLIP = 1e-3


def split(rows, test_share: float):
    """(training rows as known at the cutoff, settled test rows, cutoff)."""
    from kesu.sites.prediction import as_of

    rows = sorted(rows, key=lambda r: r.sent_at)
    cutoff = rows[int(len(rows) * (1 - test_share))].sent_at
    test = [r for r in rows if r.sent_at >= cutoff and r.settled]
    return as_of(rows, cutoff), test, cutoff


class SiteRateBaseline:
    """The site's past deletion rate (raw), the global rate for a site without settled history."""

    def __init__(self, train):
        settled = [r for r in train if r.settled]
        by_site, days = defaultdict(list), defaultdict(list)
        for r in settled:
            by_site[r.site].append(r.removed)
            if r.days is not None:
                days[r.site].append(r.days)
        self.rates = {site: sum(v) / len(v) for site, v in by_site.items()}
        self.global_rate = sum(r.removed for r in settled) / len(settled)
        self.days = {site: statistics.median(v) for site, v in days.items()}
        self.global_days = statistics.median([d for v in days.values() for d in v])

    def probability(self, row) -> float:
        return self.rates.get(row.site, self.global_rate)

    def expected_days(self, row) -> float:
        return self.days.get(row.site, self.global_days)


def query(row):
    from kesu.sites.prediction import PredictionQuery

    return PredictionQuery(row.site, row.recipient, row.role, row.host, row.country, row.case_type)


def scores(p: np.ndarray, y: np.ndarray) -> dict:
    clipped = np.clip(p, CLIP, 1 - CLIP)
    table = calibration_table(p, y)
    return {
        "brier": float(np.mean((p - y) ** 2)),
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        "ece": sum(n * abs(pred - obs) for pred, obs, n in table.values()) / len(y),
        "table": table,
    }


def calibration_table(p: np.ndarray, y: np.ndarray) -> dict[int, tuple[float, float, int]]:
    """bin -> (mean predicted, observed rate, count), bins [0, 0.1), ..., [0.9, 1.0]."""
    bins = np.minimum((p * BINS).astype(int), BINS - 1)
    return {
        b: (float(p[bins == b].mean()), float(y[bins == b].mean()), int((bins == b).sum()))
        for b in range(BINS)
        if (bins == b).any()
    }


def noise_ece(p: np.ndarray, trials: int = 200, seed: int = 0) -> float:
    """The 95th percentile of the ECE a perfectly calibrated model would show on this many requests."""
    rng = np.random.default_rng(seed)
    eces = []
    for _ in range(trials):
        y = (rng.random(len(p)) < p).astype(float)
        eces.append(sum(n * abs(pred - obs) for pred, obs, n in calibration_table(p, y).values()) / len(p))
    return float(np.percentile(eces, 95))


def evaluate(rows, test_share: float = 0.25) -> dict:
    """Fit on the history before the cutoff, score the settled requests after it. Returns the figures."""
    import scipy.special  # noqa: F401  (imported here so that the fit time does not include it)
    import sklearn.linear_model  # noqa: F401

    from kesu.sites import prediction

    train, test, cutoff = split(rows, test_share)
    started = time.perf_counter()
    model = prediction.fit(train, now=cutoff)
    fit_seconds = time.perf_counter() - started
    baseline = SiteRateBaseline(train)
    predictions = [model.predict(query(r)) for r in test]
    y = np.array([r.removed for r in test], dtype=float)
    result = {
        "cutoff": cutoff,
        "train": model.trained_on,
        "test": len(test),
        "fit_seconds": fit_seconds,
        "half_life": model.half_life,
        "unseen_sites": sum(r.site not in baseline.rates for r in test),
        "model": scores(np.array([p.probability for p in predictions]), y),
        "noise_ece": noise_ece(np.array([p.probability for p in predictions])),
        "baseline": scores(np.array([baseline.probability(r) for r in test]), y),
    }
    timed = [(r, p) for r, p in zip(test, predictions, strict=True) if r.days is not None]
    result["days"] = {
        "count": len(timed),
        "model": float(np.median([abs(p.expected_days - r.days) for r, p in timed])),
        "baseline": float(np.median([abs(baseline.expected_days(r) - r.days) for r, _ in timed])),
    }
    return result


def report(result: dict) -> None:
    model, base = result["model"], result["baseline"]
    print(
        f"cutoff {result['cutoff']:%Y-%m-%d}: trained on {result['train']} settled requests "
        f"(fit {result['fit_seconds']:.2f} s, half-life {result['half_life'] or 'none'}), "
        f"tested on {result['test']} ({result['unseen_sites']} about sites without history)"
    )
    print(f"{'':14}{'model':>10}{'baseline':>10}")
    for name in ("brier", "log_loss", "ece"):
        print(f"{name:14}{model[name]:10.4f}{base[name]:10.4f}")
    print(f"(a perfectly calibrated model would show ECE up to {result['noise_ece']:.4f} here by chance, 95 %)")
    print("calibration (probability bins): mean predicted / observed rate / count")
    print(f"{'bin':10}{'model':>30}   {'baseline':>30}")
    for b in range(BINS):
        cells = []
        for figures in (model, base):
            cell = figures["table"].get(b)
            cells.append(f"{cell[0]:8.3f} {cell[1]:8.3f} {cell[2]:8d}" if cell else f"{'-':>8} {'-':>8} {0:8d}")
        print(f"{b / BINS:.1f}-{(b + 1) / BINS:.1f}   {cells[0]:>30}   {cells[1]:>30}")
    days = result["days"]
    print(
        f"days to deletion, median absolute error over {days['count']} deletions: "
        f"model {days['model']:.2f} d, baseline (site's past median) {days['baseline']:.2f} d"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--test-share", type=float, default=0.25)
    parser.add_argument("--db", action="store_true", help="use the database's request history")
    args = parser.parse_args(argv)
    import django

    django.setup()
    from kesu.demo import synthetic
    from kesu.sites import prediction

    if args.db:
        from django.db import DatabaseError

        try:
            rows, is_synthetic = prediction.training_history()
        except DatabaseError as exc:
            print(f"cannot read the request history from the database: {exc}", file=sys.stderr)
            return 2
        print(f"database history: {len(rows)} requests{' (SYNTHETIC: no real history yet)' if is_synthetic else ''}")
    else:
        rows = synthetic.rows(args.requests, args.seed)
        print(f"SYNTHETIC history: {len(rows)} requests, seed {args.seed}")
    if sum(r.settled for r in rows) < 50:
        print("too few settled requests to backtest", file=sys.stderr)
        return 2
    result = evaluate(rows, args.test_share)
    report(result)
    if result["model"]["brier"] >= result["baseline"]["brier"]:
        print("FAIL: the model does not beat the baseline on Brier score")
        return 1
    print("ok: the model beats the baseline on Brier score")
    return 0


if __name__ == "__main__":
    sys.exit(main())
