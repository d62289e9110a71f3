"""Nudity score for review priority, from NudeNet's body-part detections.

The score orders work for staff; it decides nothing by itself. It is the largest
``WEIGHTS[class] * detection score`` over the image's detections, so one clearly exposed
intimate part ranks an image high whatever else is in it.

NudeNet reports detections from a score of 0.2. There was no labelled nude image set to
calibrate on (and none is fetched for this): the weights encode the desk's priorities, not
a measurement. Known detector quirks on public test images: a colour wheel gets
BUTTOCKS_EXPOSED at 0.83 and a portrait once MALE_GENITALIA_EXPOSED at 0.29, so a score
below ~0.3 means "probably nothing", and the labels show staff why an image ranked high.
"""

from dataclasses import dataclass

WEIGHTS: dict[str, float] = {
    # Exposed intimate parts: what the desk exists for.
    "FEMALE_GENITALIA_EXPOSED": 1.0,
    "MALE_GENITALIA_EXPOSED": 1.0,
    "ANUS_EXPOSED": 1.0,
    "FEMALE_BREAST_EXPOSED": 0.9,
    "BUTTOCKS_EXPOSED": 0.8,
    # Exposed but not intimate on their own (beach photos, sport).
    "MALE_BREAST_EXPOSED": 0.2,
    "BELLY_EXPOSED": 0.2,
    "ARMPITS_EXPOSED": 0.1,
    "FEET_EXPOSED": 0.1,
    # Covered: underwear or tight clothes can still be intimate images, so not zero.
    "FEMALE_GENITALIA_COVERED": 0.2,
    "ANUS_COVERED": 0.1,
    "FEMALE_BREAST_COVERED": 0.1,
    "BUTTOCKS_COVERED": 0.1,
    "BELLY_COVERED": 0.05,
    "ARMPITS_COVERED": 0.05,
    "FEET_COVERED": 0.0,
}
FACE_CLASSES = frozenset({"FACE_FEMALE", "FACE_MALE"})


@dataclass(frozen=True)
class Label:
    name: str  # NudeNet class, e.g. "BUTTOCKS_EXPOSED"
    score: float  # detection score
    box: tuple[int, int, int, int]  # x, y, width, height in the original image's pixels

    @property
    def weight(self) -> float:
        return WEIGHTS.get(self.name, 0.0)

    def to_json(self) -> dict:
        return {"class": self.name, "score": round(self.score, 3), "weight": self.weight, "box": list(self.box)}


def labels(detections: list[dict], scale: float = 1.0) -> list[Label]:
    """Body-part labels from NudeNet detections on a copy ``scale`` times the original's size,
    most important first."""
    out = [
        Label(d["class"], float(d["score"]), tuple(round(v / scale) for v in d["box"]))
        for d in detections
        if d["class"] not in FACE_CLASSES
    ]
    return sorted(out, key=lambda label: label.weight * label.score, reverse=True)


def score(found: list[Label]) -> float:
    """Review priority in [0, 1]: the strongest weighted detection."""
    return max((label.weight * label.score for label in found), default=0.0)
