"""Photo or drawing: false hits on graphics and recall of her pictures, the new rule beside the old one.

    .venv/bin/python bench/graphics.py [--quick] [--distractors N] [--fillers N]

1. The demo bank: the demo case's pictures (astronaut, coffee, Grace Hopper) banked as the desk banks
   them (PDQ and ORB); the demo web's fillers (kesu.demo.media.filler, 0..N-1) and drawn negatives
   (kesu.demo.graphics: flat artwork, screenshots, text, memes of photos not in the bank) searched in it.
2. The benchmark bank (bench/matching.py's sources and distractor tiles, less one wallpaper in six held
   out for memes): every transformed copy of every source (recall with the pink rule, per
   transformation) and the same kinds of negatives, each against every unrelated reference (false
   positives, counted per pair).

Both rules are measured in the same run on the same geometric checks: the baseline is the rule before
this change (RANSAC floors of 10 inliers and 10 % coverage, then the calibration of
``OLD_LOCAL_WEIGHTS`` over inliers and inlier ratio), kept here as ``old_local``; the new rule is the
matcher's own (floors on spread, texture and a sane transform, the calibration in calibration.json).
PDQ is the same in both.
"""

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import matching  # noqa: E402  (sets Django up)
import pictures  # noqa: E402
from PIL import Image  # noqa: E402

from kesu.demo import graphics  # noqa: E402
from kesu.matching import calibration, signals  # noqa: E402
from kesu.matching import image as features  # noqa: E402
from kesu.matching.bank import Bank  # noqa: E402
from kesu.matching.evidence import Evidence  # noqa: E402
from kesu.matching.signals import MIN_VOTES, REGISTRY, VERIFY_TOP, Medium, found_medium  # noqa: E402

# The shipped ORB calibration before issue 19 (fitted by bench/calibrate.py on half A), and the refusals
# the old check had: the rest (shape, spread, texture) are new.
OLD_LOCAL_WEIGHTS = (-28.006, 10.0901, 7.4359)
OLD_REFUSALS = ("pairs", "transform", "inliers", "coverage")
PINK_TRANSFORMS = ("crop_20", "screen_photo")


def old_local(result) -> float:
    """The old rule's probability for one geometric check (0 when its floors refused it)."""
    if result.refused in OLD_REFUSALS:
        return 0.0
    ratio = result.inliers / result.matches if result.matches else 0.0
    z = sum(w * x for w, x in zip(OLD_LOCAL_WEIGHTS, (1.0, math.log1p(result.inliers), ratio), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def decide(bank: Bank, picture: Image.Image) -> tuple[dict[int, float], dict[int, float]]:
    """Owner -> probability under the old rule and under the new one, from one search.

    The new one is what ``Bank.search`` gives (PDQ, then ORB checked by ``verify``); the geometric
    check runs once, raw, and each rule reads its own floors from it.
    """
    medium = found_medium(Medium(b"", "image", picture), ["pdq", "orb"])  # what the bank searches, as it does
    found: dict[int, Evidence] = defaultdict(Evidence)
    REGISTRY["pdq"].search(bank, medium, found)
    old: dict[int, float] = defaultdict(float)
    index = bank.indexes["orb"]
    for value in medium.of("orb"):
        local, mirrored = features.LocalFeatures.from_bytes(value.secret), bool(value.meta.get("mirrored"))
        votes = sorted(index.vote(local.descriptors).items(), key=lambda kv: -len(kv[1]))[:VERIFY_TOP]
        for owner, pairs in votes:
            if len(pairs) < MIN_VOTES:
                continue
            reference = index.features[owner]
            result = features.verify(local, reference, features.candidate_pairs(local, reference, pairs), raw=True)
            old[owner] = max(old[owner], old_local(result))
            if not result.refused:
                found[owner].consider_local(result, mirrored)
    new = {}
    for owner, item in found.items():
        signals.score(item)
        new[owner] = item.probability
        old[owner] = max(old[owner], item.scores.get("pdq", 0.0), 1.0 if item.exact else 0.0)
    return dict(old), new


def demo_bank() -> Bank:
    from io import BytesIO

    from kesu.demo.load import _astronaut, _coffee, _grace_hopper

    bank = Bank()
    for owner, (_, data) in enumerate((_astronaut(), _coffee(), _grace_hopper())):
        bank.add_medium(owner, 0, Medium(data, "image", Image.open(BytesIO(data)), reference=True), ["pdq", "orb"])
    return bank


def meme_photos(names: tuple[str, ...] = ()) -> list[Image.Image]:
    """Photos the demo bank does not hold: scikit-image's unrelated ones and scikit-learn's two samples
    (read in place from the installed packages)."""
    import sklearn.datasets
    from skimage import data

    from kesu.demo.media import UNRELATED_PHOTOS

    out = [
        Image.open(path).convert("RGB") for path in sorted(Path(sklearn.datasets.__file__).parent.glob("images/*.jpg"))
    ]
    for name in names or UNRELATED_PHOTOS + ("rocket", "chelsea", "camera"):
        loader = getattr(data, name, None)
        try:
            out.append(Image.fromarray(loader()).convert("RGB"))
        except (TypeError, OSError, ModuleNotFoundError):  # not shipped in this wheel
            continue
    return out


def negatives(count: int, photos: list[Image.Image], fillers: range) -> list[tuple[str, Image.Image]]:
    from io import BytesIO

    from kesu.demo.media import filler

    out = [(f"filler:{n}", Image.open(BytesIO(filler(n))).convert("RGB")) for n in fillers]
    return out + graphics.negatives(count, photos)


def demo_section(args) -> list[tuple[str, str, str]]:
    bank = demo_bank()
    fillers = negatives(0, [], range(args.fillers))
    drawn = graphics.negatives(args.drawn, meme_photos())
    rows = []
    for label, items in ((f"demo fillers ({len(fillers)})", fillers), (f"drawn negatives ({len(drawn)})", drawn)):
        old, new = _best([decide(bank, picture) for _, picture in items])
        for cut in (0.5, 0.9):
            rows.append((f"{label} >= {cut}", str(sum(p >= cut for p in new)), str(sum(p >= cut for p in old))))
        worst = max(range(len(items)), key=lambda i: new[i])
        rows.append((f"{label}: highest", f"{new[worst]:.3f} ({items[worst][0]})", f"{max(old):.3f}"))
    return rows


def _best(decisions) -> tuple[list[float], list[float]]:
    old = [max(o.values(), default=0.0) for o, _ in decisions]
    new = [max(n.values(), default=0.0) for _, n in decisions]
    return old, new


def bench_section(args) -> list[tuple[str, str, str]]:
    sources, distractors = matching.load(args)
    held = {name for name, _ in sources if name.startswith("debian:")}
    held = set(sorted(held)[::6])
    photos = [picture for name, picture in sources if name in held]
    sources = [(n, p) for n, p in sources if n not in held]
    distractors = [(n, p) for n, p in distractors if matching.source(n) not in held]
    bank, names = matching.build(sources, distractors)
    origin = [matching.source(n) for n in names]
    print(f"bench bank: {len(sources)} sources, {len(distractors)} tiles; {len(photos)} wallpapers held out for memes")
    recall = {t: [0, 0] for t in pictures.TRANSFORMS}  # transform -> [new, old] pink hits on her picture
    misses: list[str] = []
    false = {"new": [0, 0], "old": [0, 0]}  # rule -> [>= 0.5, pink] on unrelated references
    pairs, started = 0, time.perf_counter()
    for number, (name, picture) in enumerate(sources):
        for transform in pictures.TRANSFORMS:
            old, new = decide(bank, pictures.transformed(name, picture, transform))
            for column, rule in enumerate((new, old)):
                recall[transform][column] += any(origin[o] == name and p >= calibration.PINK for o, p in rule.items())
            own = [o for o, x in enumerate(origin) if x == name]
            if args.misses and transform in PINK_TRANSFORMS and max(new.get(o, 0.0) for o in own) < calibration.PINK:
                copy = pictures.transformed(name, picture, transform)
                misses.append(f"{transform:>12} {name}: {trace(bank, copy, own, new)}")
            _count_false(false, old, new, lambda owner, name=name: origin[owner] != name)
            pairs += sum(o != name for o in origin)
        print(f"  {number + 1}/{len(sources)} sources", end="\r", flush=True)
    for _, picture in negatives(args.drawn, photos, range(10_000, 10_000 + args.drawn)):
        old, new = decide(bank, picture)
        _count_false(false, old, new, lambda owner: True)
        pairs += len(origin)
    print(f"\nsearched in {time.perf_counter() - started:.0f} s")
    if misses:
        print(
            f"\n{len(misses)} copies not pink ({', '.join(PINK_TRANSFORMS)}): best own probability, PDQ distance,"
            " then each own reference's votes (rank) and raw geometric check"
        )
        print("\n".join(misses))
    n = len(sources)
    rows = [(f"pink recall {t}", f"{100 * recall[t][0] / n:.1f} %", f"{100 * recall[t][1] / n:.1f} %")
            for t in pictures.TRANSFORMS]  # fmt: skip
    rows += [
        (f"false positives >= 0.5 over {pairs:,} pairs", str(false["new"][0]), str(false["old"][0])),
        (f"false positives pink over {pairs:,} pairs", str(false["new"][1]), str(false["old"][1])),
    ]
    return rows


def trace(bank: Bank, picture: Image.Image, own: list[int], new: dict[int, float]) -> str:
    """Why a copy of her picture was not pink: what each of her own references got from the shortlist
    (votes and their rank among all references) and from the geometric check without its floors."""
    medium = found_medium(Medium(b"", "image", picture), ["pdq", "orb"])
    found: dict[int, Evidence] = defaultdict(Evidence)
    REGISTRY["pdq"].search(bank, medium, found)
    pdq = min((found[o].pdq_distance for o in own if found[o].pdq_distance is not None), default=None)
    parts = [f"p={max((new.get(o, 0.0) for o in own), default=0.0):.3f} pdq={pdq}"]
    index = bank.indexes["orb"]
    for value in medium.of("orb"):
        local, side = features.LocalFeatures.from_bytes(value.secret), "m" if value.meta.get("mirrored") else "o"
        votes = sorted(index.vote(local.descriptors).items(), key=lambda kv: -len(kv[1]))
        rank = {owner: n for n, (owner, _) in enumerate(votes)}
        for owner, pairs in votes:
            if owner not in own or (side == "m" and len(pairs) < MIN_VOTES):
                continue
            reference = index.features[owner]
            r = features.verify(local, reference, features.candidate_pairs(local, reference, pairs), raw=True)
            scores = (r.inliers, r.matches, r.spread, r.texture, r.agreement)
            p = signals.REGISTRY["orb"].calibrated(*scores) if r.inliers else 0.0
            parts.append(
                f"[{side} ref{owner} votes={len(pairs)}#{rank[owner]} pts={len(local.points)}"
                f" inl={r.inliers}/{r.matches} cov={r.coverage:.2f} spr={r.spread:.2f} tex={r.texture:.3f}"
                f" rtex={r.ref_texture:.3f} d={r.distance:.0f} ag={r.agreement:.2f}{' affine' if r.affine else ''}"
                f" refused={r.refused or '-'} p={p:.3f}]"
            )
    return " ".join(parts)


def _count_false(false, old, new, unrelated) -> None:
    for rule, probabilities in (("new", new), ("old", old)):
        for owner, p in probabilities.items():
            if unrelated(owner):
                false[rule][0] += p >= 0.5
                false[rule][1] += p >= calibration.PINK


def show(title: str, rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n  {'row'.ljust(width)} | {'new rule':>24} | baseline (old rule, same run)")
    for name, figure, baseline in rows:
        print(f"  {name.ljust(width)} | {figure:>24} | {baseline}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the sources, for a fast look")
    parser.add_argument("--distractors", type=int, default=600)
    parser.add_argument("--fillers", type=int, default=400)
    parser.add_argument("--drawn", type=int, default=40, help="negatives of each drawn kind (and memes)")
    parser.add_argument("--skip", choices=["demo", "bench"], help="leave one section out")
    parser.add_argument("--misses", action="store_true", help="trace every crop_20 / screen photo copy not pink")
    args = parser.parse_args()
    if args.skip != "demo":
        show("demo bank: graphics against the demo case's pictures", demo_section(args))
    if args.skip != "bench":
        show("benchmark bank: her pictures found again, and unrelated pairs", bench_section(args))


if __name__ == "__main__":
    main()
