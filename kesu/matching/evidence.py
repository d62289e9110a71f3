"""What tied a found medium to one reference: the raw scores of every signal."""

from dataclasses import dataclass, field


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
    mirrored: bool = False
    face_distance: float | None = None
    face_time: float | None = None  # seconds into a video, for faces found on a frame
    segments: list = field(default_factory=list)  # framehash.SegmentMatch
    probability: float = 0.0
    signal: str = ""  # the signal that gave the probability
    scores: dict = field(default_factory=dict)  # probability per signal

    def consider_pdq(self, distance: int, variant: str, found_region: str, bank_region: str) -> None:
        if bank_region not in ("full", "trimmed", "video"):
            step = "regions"
        else:
            step = "trim" if "trimmed" in (found_region, bank_region) else "dihedral"
        self.pdq_by_step[step] = min(distance, self.pdq_by_step.get(step, 256))
        if self.pdq_distance is None or distance < self.pdq_distance:
            self.pdq_distance, self.pdq_variant = distance, variant
            self.pdq_region = f"{found_region}/{bank_region}"

    def consider_local(self, result, mirrored: bool) -> None:
        if result.inliers > self.inliers:
            self.inliers, self.matches, self.coverage = result.inliers, result.matches, result.coverage
            self.spread, self.texture, self.mirrored = result.spread, result.texture, mirrored

    def consider_face(self, distance: float, t: float | None) -> None:
        if self.face_distance is None or distance < self.face_distance:
            self.face_distance, self.face_time = distance, t

    def as_dict(self) -> dict:
        """Numbers only, for the hit record, the CLI and the review screen."""
        out: dict = {"signal": self.signal, "probability": round(self.probability, 4), "scores": self.scores}
        if self.exact:
            out["exact"] = self.exact
        if self.pdq_distance is not None:
            out["pdq"] = {"distance": self.pdq_distance, "variant": self.pdq_variant, "region": self.pdq_region}
        if self.inliers:
            out["local"] = {"inliers": self.inliers, "matches": self.matches, "coverage": round(self.coverage, 3),
                            "spread": round(self.spread, 3), "texture": round(self.texture, 3),
                            "mirrored": self.mirrored}  # fmt: skip
        if self.face_distance is not None:
            out["face"] = {"distance": round(self.face_distance, 4)}
            if self.face_time is not None:
                out["face"]["t"] = round(self.face_time, 3)
        if self.segments:
            out["segments"] = [_segment(s) for s in self.segments]
        return out


def _segment(s) -> dict:
    return {
        "query_start": round(s.query_start, 2),
        "query_end": round(s.query_end, 2),
        "reference_start": round(s.ref_start, 2),
        "reference_end": round(s.ref_end, 2),
        "frames": s.matched_frames,
        "mean_distance": round(s.mean_distance, 1),
    }
