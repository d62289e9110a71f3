"""Fit the score -> probability mapping and check it on pictures the fit did not see.

    .venv/bin/python bench/calibrate.py [--write [--signals local]] [--faces ../shared/data/faces-dev]

Labelled pairs come from the benchmark's pictures and transformations
(bench/pictures.py): the sources are split in two by name; the fit uses
half A, the check uses half B. Every candidate the matcher produces is a
pair, labelled right or wrong. PDQ negatives are scarce within distance 31,
so for the fit each copy also contributes its nearest wrong reference at any
distance up to 90. Face pairs come from the local faces-dev set when it is
there (evaluation only; its photos are never stored, only the fitted
numbers). Pictures that are not hers and not photos (kesu.demo.graphics: flat
artwork, screenshots, text, memes of wallpapers held out of the bank, and
demo-web fillers of other seeds than the benchmark's) are searched too: every
candidate and every raw geometric check on them is a wrong pair. The pairs
(scores and labels only, no pixels) are written to bench/data/pairs-*.csv so
the fit can be repeated and audited.

The check prints, for hits at probability >= 0.95 on half B, how many were
right: that share must be >= 95 %, and how many of those negatives would reach
0.5 with the fitted parameters: that must be none.
"""

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pictures  # noqa: E402
from graphics import negatives  # noqa: E402
from matching import build, search  # noqa: E402

from kesu.matching import calibration  # noqa: E402
from kesu.matching import image as features  # noqa: E402
from kesu.matching.indexes import hex_to_codes  # noqa: E402
from kesu.matching.signals import REGISTRY  # noqa: E402
from kesu.ml import facesize  # noqa: E402

DATA = HERE / "data"
NEW_FLOORS = ("coverage", "shape", "spread", "texture")  # image.verify refuses these before any score


def half(name: str) -> str:
    return "A" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "B"


def image_pairs(sources, distractors, drawn) -> list[dict]:
    bank, _ = build(sources, distractors)
    refs = sources + distractors
    ref_hashes = [features.pdq(p) for _, p in refs]
    ref_codes = hex_to_codes([h for h, _ in ref_hashes])
    # the bank refuses hashes of quality < 50: they are no one's nearest wrong match
    names = [n.split("#", 1)[0] for n, _ in refs]
    ref_source = [n if q >= 50 else None for n, (_, q) in zip(names, ref_hashes, strict=True)]
    rows = []
    for name, picture in sources:
        for transform in pictures.TRANSFORMS:
            copy = pictures.transformed(name, picture, transform)
            for item in search(bank, copy):
                label = int(names[item.owner] == name)
                rows.append(_row(name, transform, "candidate", label, item))
                if not label and item.probability >= 0.5:
                    print(f"\n  wrong: {name} [{transform}] -> {refs[item.owner][0]} {item.as_dict()}")
            rows += _nearest_wrong(name, transform, copy, ref_codes, ref_source)
            rows += _local_wrong(bank, name, transform, copy, names)
        print(f"  {name}", end="\r", flush=True)
    for name, picture in drawn:
        for item in search(bank, picture):
            rows.append(_row(name, "graphic", "candidate", 0, item))
        rows += _local_wrong(bank, name, "graphic", picture, names)
    print()
    return rows


def _row(name, transform, kind, label, item) -> dict:
    return {
        "half": half(name),
        "transform": transform,
        "kind": kind,
        "label": label,
        "pdq_distance": "" if item.pdq_distance is None else item.pdq_distance,
        "inliers": item.inliers,
        "matches": item.matches,
        "spread": round(item.spread, 4),
        "texture": round(item.texture, 4),
        "agreement": round(item.agreement, 4),
        "refused": "",
    }


def _nearest_wrong(name, transform, copy, ref_codes, ref_source) -> list[dict]:
    hashes = [h for h in features.pdq_dihedral(copy) if h.quality >= 50]
    if not hashes:
        return []
    distances = np.bitwise_count(ref_codes[None, :, :] ^ hex_to_codes([h.hex for h in hashes])[:, None, :]).sum(-1)
    nearest = distances.min(axis=0)
    wrong = [d for d, source in zip(nearest, ref_source, strict=True) if source not in (name, None)]
    d = int(min(wrong, default=999))
    if d > 90:
        return []
    return [{"half": half(name), "transform": transform, "kind": "nearest-wrong", "label": 0,
             "pdq_distance": d, "inliers": 0, "matches": 0}]  # fmt: skip


def _local_wrong(bank, name, transform, copy, ref_source, top: int = 3) -> list[dict]:
    """The geometric check's raw result on the best-voted wrong references,
    without the matcher's floors: what chance agreement looks like."""
    index, rows = bank.indexes["orb"], []
    for mirrored in (False, True):
        local = features.local_features(copy, mirror=mirrored)
        votes = [(o, p) for o, p in index.vote(local.descriptors).items() if ref_source[o] != name]
        for owner, pairs in sorted(votes, key=lambda kv: -len(kv[1]))[:top]:
            reference = index.features[owner]
            result = features.verify(local, reference, features.candidate_pairs(local, reference, pairs), raw=True)
            rows.append({"half": half(name), "transform": transform, "kind": "local-wrong", "label": 0,
                         "pdq_distance": "", "inliers": result.inliers, "matches": max(result.matches, 1),
                         "spread": round(result.spread, 4), "texture": round(result.texture, 4),
                         "agreement": round(result.agreement, 4), "refused": result.refused})  # fmt: skip
    return rows


FACE_SIDES = (240, 160, 120, 90)  # probes shrunk to these long sides (JPEG q70), besides the photos themselves


def face_pairs(folder: Path) -> list[dict]:
    """Genuine and impostor pairs on faces-dev: each photo (and each of its thumbnails, bench/faces_thumbnails.py)
    against the largest face of every other single photo, with the size of the found face (px)."""
    from faces_thumbnails import load, probe_rows

    rows = []
    for side, pairs in probe_rows(load(folder), list(FACE_SIDES)).items():
        for r in pairs:
            if not np.isfinite(r["distance"]):
                continue  # no face found on the probe: no face match to calibrate
            people = sorted([r["probe"].split("/")[0], r["reference"].split("/")[0]])
            rows.append({"half": half("+".join(people)), "kind": "face", "label": r["label"], "probe": side,
                         "face_distance": round(r["distance"], 5), "face_size": round(r["size"], 1),
                         "face_sharpness": round(r["sharpness"], 1)})  # fmt: skip
    return rows


def _face_scores(r: dict) -> tuple:
    """distance, size, sharpness of a row (rows saved before sizes: a full-sized, sharp face)."""
    size, sharpness = (r.get(k, "") for k in ("face_size", "face_sharpness"))
    return float(r["face_distance"]), *(None if v in ("", None) else float(v) for v in (size, sharpness))


def fit(rows: list[dict], l2: float) -> dict:
    out = {}
    train = [r for r in rows if r["half"] == "A"]
    pdq = [r for r in train if r.get("pdq_distance", "") != ""]
    if pdq:
        x = np.array([REGISTRY["pdq"].features(int(r["pdq_distance"])) for r in pdq])
        out["pdq"] = calibration.fit_logistic(x, np.array([r["label"] for r in pdq], float), l2)
    # what the matcher scores: copies that passed the geometric floors, and chance agreement that passed them
    # or fell short of the inlier count (what chance gives under the floor); the shapes the floors refuse
    # never reach the calibration
    local = [r for r in train if (int(r.get("inliers") or 0) > 0 or r["kind"] == "local-wrong")
             and r.get("refused", "") not in NEW_FLOORS]  # fmt: skip
    if local:
        x = np.array([REGISTRY["orb"].features(*_local_scores(r)) for r in local])
        out["local"] = fit_local(x, np.array([r["label"] for r in local], float), l2)
    faces = [r for r in train if r["kind"] == "face"]
    if faces:
        x = np.array([REGISTRY["face"].features(*_face_scores(r)) for r in faces])
        out["face"] = fit_face(x, np.array([r["label"] for r in faces], float), l2)
    return out


LOCAL_FITTED = [5]  # the agreement's column in LocalFeatures.features; the others keep their shipped weights


def fit_local(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """The local model's agreement weight, over the shipped weights of its other features.

    The floors now refuse every wrong pair of the set that has MIN_INLIERS or more points: a free fit sees
    chance only below ten inliers and learns that ten make a copy (16.4 per log-inlier: twelve chance points
    at 0.92). The shipped inlier and ratio weights were fitted while chance above the floor was still in the
    set; the agreement is the one new feature, and it is fitted with those as they are (an offset). A
    reference banked before looks were kept has no agreement and scores exactly as before."""
    shipped = np.array(calibration.shipped_params()["local"]["weights"], float)
    kept = [i for i in range(x.shape[1]) if i not in LOCAL_FITTED]
    weights = shipped.copy()
    weights[LOCAL_FITTED] = calibration.fit_logistic(x[:, LOCAL_FITTED], y, l2, offset=x[:, kept] @ shipped[kept])
    return weights


FITTED_ON = {
    "local": "bench/calibrate.py half A: the agreement weight only (bench/calibrate.py fit_local), over the"
    " inlier and ratio weights fitted before issue 19's floors; spread and texture 0, the floors deciding on them",
}


def fit_face(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """The face model, whose smallness and blurriness terms (kesu.ml.facesize.features) may lower a weak face's
    probability within the match distance, never raise it: on 10 people a rise is noise. A term that would
    raise it is dropped (its weights 0) and the rest refitted."""
    keep = list(range(x.shape[1]))
    while True:
        weights = np.zeros(x.shape[1])
        weights[keep] = calibration.fit_logistic(x[:, keep], y, l2)
        effects = {"smallness": max(weights[2] + weights[3] * d for d in (0.0, 0.6)), "blurriness": weights[4]}
        rising = [name for name, effect in effects.items() if effect > 0 and FACE_TERMS[name][0] in keep]
        if not rising:
            return weights
        print(f"  face: {rising[0]} would raise the log-odds by {effects[rising[0]]:.2f}: refitted without it")
        keep = [k for k in keep if k not in FACE_TERMS[rising[0]]]


FACE_TERMS = {"smallness": (2, 3), "blurriness": (4,)}  # their columns in facesize.features


def small_bank_pairs(count: int) -> list[dict]:
    """Drawn negatives and fillers against the demo case's three pictures, raw.

    In a bank of a few references the ratio test keeps many chance matches (its runner-up is far), so
    chance agreement reaches 10-26 inliers there, as it does for a desk with one case: the big bank of the
    other pairs almost never shows it.
    """
    from graphics import demo_bank, meme_photos

    bank, rows = demo_bank(), []
    names = ["demo:astronaut", "demo:coffee", "demo:grace_hopper"]
    for name, picture in negatives(count, meme_photos(), range(200_000, 200_000 + 4 * count)):
        rows += _local_wrong(bank, name, "graphic", picture, names)
    return rows


def _local_scores(r: dict) -> tuple:
    """inliers, matches, spread, texture, agreement of a row (rows saved before spread and texture: a copy's;
    before the agreement: unknown)."""
    spread, texture, agreement = (r.get(k, "") for k in ("spread", "texture", "agreement"))
    return (
        int(r["inliers"]),
        int(r["matches"]),
        float(1.0 if spread == "" else spread),
        float(1.0 if texture == "" else texture),
        float(-1.0 if agreement in ("", None) else agreement),
    )


def check(rows: list[dict], params: dict) -> None:
    """Precision of pink hits on half B, per signal, with the fitted parameters."""

    def prob(signal, *scores):
        model = {"pdq": "pdq", "local": "orb", "face": "face"}[signal]
        z = float(np.dot(params[signal], REGISTRY[model].features(*scores)))
        return 1 / (1 + np.exp(-z))

    test = [r for r in rows if r["half"] == "B" and r["kind"] in ("candidate", "face")]
    print("check on half B (pictures the fit did not see):")
    for signal in ("pdq", "local", "face", "any"):
        right = wrong = 0
        for r in test:
            p = _probability(r, signal, prob, params)
            if p >= calibration.PINK:
                right += r["label"]
                wrong += 1 - r["label"]
        share = f"{100 * right / (right + wrong):.2f} %" if right + wrong else "n/a"
        print(f"  {signal:>6}: pink hits {right + wrong:5d}, right {right:5d}, wrong {wrong:3d} -> precision {share}")
    face_check(test, lambda r: _probability(r, "face", prob, params))
    # every wrong pair that the matcher's floors let through, both halves: none may reach 0.5
    wrong = [r for r in rows if not r["label"] and int(r.get("inliers") or 0) and not r.get("refused")]
    scores = [_probability(r, "local", prob, params) for r in wrong]
    graphic = [p for p, r in zip(scores, wrong, strict=True) if r.get("transform") == "graphic"]
    print(f"  wrong pairs past the floors: {len(wrong)}, >= 0.5: {sum(p >= 0.5 for p in scores)};"
          f" of them graphics: {len(graphic)}, >= 0.5: {sum(p >= 0.5 for p in graphic)},"
          f" highest {max(graphic, default=0):.3f}")  # fmt: skip


def face_check(test: list[dict], probability) -> None:
    """Face pairs of half B within the match distance, by the found face's size: what reaches review, what is pink."""
    buckets = {"< 40 px": (0, 40), "40-63 px": (40, 64), ">= 64 px": (64, 1e9)}
    rows = [r for r in test if r["kind"] == "face" and float(r["face_distance"]) <= 0.6]
    for name, (lo, hi) in buckets.items():
        inside = [r for r in rows if lo <= (_face_scores(r)[1] or 1e6) < hi]
        ps = [(probability(r), r["label"]) for r in inside]
        right, wrong = sum(label for _, label in ps), sum(1 - label for _, label in ps)
        review = sum(label for p, label in ps if p >= calibration.REVIEW_CUT)
        pink = sum(label for p, label in ps if p >= calibration.PINK)
        print(f"  face {name:>9}: {right} right within 0.6 ({review} reach review, {pink} pink); {wrong} wrong"
              f" ({sum(1 - label for p, label in ps if p >= calibration.REVIEW_CUT)} reach review,"
              f" {sum(1 - label for p, label in ps if p >= calibration.PINK)} pink)")  # fmt: skip


def _probability(r, signal, prob, params) -> float:
    ps = []
    if signal in ("pdq", "any") and r.get("pdq_distance", "") != "" and "pdq" in params:
        ps.append(prob("pdq", int(r["pdq_distance"])))
    if signal in ("local", "any") and int(r.get("inliers") or 0) and "local" in params:
        ps.append(prob("local", *_local_scores(r)))
    if signal in ("face", "any") and r["kind"] == "face" and "face" in params:
        ps.append(min(prob("face", *_face_scores(r)), facesize.ceiling(_face_scores(r)[1])))
    return max(ps, default=0.0)


def save_rows(name: str, rows: list[dict]) -> None:
    DATA.mkdir(exist_ok=True)
    fields = sorted({k for r in rows for k in r})
    with open(DATA / f"pairs-{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def load_rows(name: str) -> list[dict]:
    path = DATA / f"pairs-{name}.csv"
    if not path.exists():
        return []
    with open(path) as fh:
        return [{k: (int(v) if k == "label" else v) for k, v in r.items()} for r in csv.DictReader(fh)]


def calibration_set(args):
    """Sources, distractor tiles and negatives. One wallpaper in six is held out of the bank: memes are
    made of those, so that a meme is someone else's photo."""
    papers = pictures.wallpapers(1024)
    held = {name for name, _ in papers[::6]}
    sources = [(n, p) for n, p in pictures.package_pictures() + papers if n not in held]
    sources = [(n, p) for n, p in sources if features.pdq(p)[1] >= 50][:: args.every]
    tiles = [(n, p) for n, p in pictures.tiles(pictures.wallpapers(1600)) if n.split("#")[0] not in held]
    # fillers of other seeds than the benchmark's and the tests' (0-99,999)
    fillers = range(100_000, 100_000 + args.drawn)
    drawn = negatives(args.drawn, [p for n, p in papers if n in held], fillers)
    return sources, tiles[: args.distractors], drawn


def main(args) -> None:
    if args.reuse and load_rows("images"):
        rows = load_rows("images")
    else:
        rows = image_pairs(*calibration_set(args))
        save_rows("images", rows)
    small = load_rows("small-bank") if args.reuse else []
    if not small:
        small = small_bank_pairs(args.drawn)
        save_rows("small-bank", small)
    rows += small
    faces_dir = Path(args.faces)
    face_rows = face_pairs(faces_dir) if faces_dir.is_dir() else load_rows("faces")
    if face_rows:
        save_rows("faces", face_rows)
    rows += face_rows
    print(f"pairs: {len(rows)} ({sum(r['label'] for r in rows)} right)")
    params = fit(rows, args.l2)
    for signal, weights in params.items():
        print(f"  fitted {signal}: {np.round(weights, 3).tolist()}")
    check(rows, params)
    if args.write:
        current = json.loads(calibration.PARAMS_FILE.read_text())
        for signal, weights in params.items():
            if args.signals and signal not in args.signals.split(","):
                continue
            current[signal] = {
                "weights": [round(float(w), 4) for w in weights],
                "fitted_on": FITTED_ON.get(signal, "bench/calibrate.py half A"),
            }
        calibration.PARAMS_FILE.write_text(json.dumps(current, indent=1) + "\n")
        print(f"wrote {calibration.PARAMS_FILE}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="store the fitted parameters in calibration.json")
    parser.add_argument("--reuse", action="store_true", help="refit from the saved pairs instead of matching again")
    parser.add_argument("--distractors", type=int, default=300)
    parser.add_argument("--every", type=int, default=1, help="every n-th source only (a faster refit)")
    parser.add_argument("--drawn", type=int, default=60, help="negatives of each drawn kind, memes and fillers")
    parser.add_argument("--signals", default="", help="with --write: only these (comma-separated), e.g. local")
    parser.add_argument("--l2", type=float, default=0.01, help="ridge penalty: keeps separable classes finite")
    parser.add_argument("--faces", default=str(HERE.parents[1] / "shared/data/faces-dev"))
    main(parser.parse_args())
