"""What tied a found medium to one reference: the raw scores of every signal."""

from dataclasses import dataclass, field

from .signals import explain


@dataclass
class Evidence:
    owner: int = 0  # reference id, or -hit id for a confirmed hit
    exact: str | None = None  # "sha256" or "md5" when the bytes are the same
    pdq_distance: int | None = None
    pdq_variant: str | None = None  # which orientation of the found image matched
    pdq_region: str | None = None  # found part / banked part
    pdq_by_step: dict = field(default_factory=dict)  # best distance per step of the hash search (benchmark)
    inliers: int = 0  # ORB matches that agree on one transform
    matches: int = 0
    coverage: float = 0.0  # share of the reference the found image shows
    spread: float = 0.0  # share of that part over which the agreeing matches lie
    texture: float = 0.0  # share of the matched region of the found image with photo-like detail
    agreement: float = -1.0  # of the two pictures under the transform (geometry.agreement; -1: unknown)
    mirrored: bool = False
    face_distance: float | None = None
    face_time: float | None = None  # seconds into a video, for faces found on a frame
    face_size: float | None = None  # px of that face in the found picture (None: recorded before sizes were)
    face_sharpness: float | None = None  # kesu.ml.faces.sharpness of that face
    segments: list = field(default_factory=list)  # framehash.SegmentMatch
    probability: float = 0.0
    signal: str = ""  # the signal that gave the probability
    scores: dict = field(default_factory=dict)  # probability per signal

    def consider_pdq(self, distance: int, variant: str, found_region: str, bank_region: str) -> None:
        if bank_region not in ("full", "trimmed", "video"):
            step = "regions"
        else:
            step = "trim" if {"trimmed", "screen"} & {found_region, bank_region} else "dihedral"  # a frame taken off
        self.pdq_by_step[step] = min(distance, self.pdq_by_step.get(step, 256))
        if self.pdq_distance is None or distance < self.pdq_distance:
            self.pdq_distance, self.pdq_variant = distance, variant
            self.pdq_region = f"{found_region}/{bank_region}"

    def consider_local(self, result, mirrored: bool) -> None:
        if result.inliers > self.inliers:
            self.inliers, self.matches, self.coverage = result.inliers, result.matches, result.coverage
            self.spread, self.texture, self.mirrored = result.spread, result.texture, mirrored
            self.agreement = result.agreement

    def consider_face(self, distance: float, meta: dict) -> None:
        """A found face at ``distance`` from a banked one; ``meta``: its value's (time, size, sharpness)."""
        if self.face_distance is None or distance < self.face_distance:
            self.face_distance, self.face_time = distance, meta.get("t")
            self.face_size, self.face_sharpness = meta.get("size"), meta.get("sharpness")

    def as_dict(self) -> dict:
        """Numbers only, for the hit record, the CLI and the review screen (each signal type explains its part)."""
        return explain(self)
