"""NudeNet's YOLOv8n (faces and body parts in one pass), its output read with array operations.

NudeNet's own ``detect`` reads the model's 2,100 (320 px) or 8,400 (640 px) candidate rows one by one in
Python: that loop cost a quarter of a found photo's fingerprinting, more than the network itself
(bench/cascade.py). ``detect`` below runs the same session on the same input and keeps the same
detections (the same arithmetic in the same order, the same non-maximum suppression): tests/test_yolo.py
checks them against NudeNet's.
"""

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
from nudenet import nudenet

from kesu.lib import threads

MIN_SCORE = 0.2  # NudeNet's: a candidate under this is no detection
NMS_SCORE, NMS_IOU = 0.25, 0.45
LABELS: list[str] = nudenet.__dict__["__labels"]  # the model's class order, as NudeNet names them
MODEL = Path(nudenet.__file__).with_name("320n.onnx")  # the network NudeDetector loads at every resolution


class Detector:
    """One ONNX session of NudeNet's network at one resolution (loaded in ~0.1 s), with a vectorised reading.

    The session is made here, not by NudeDetector: its default team of a thread per core, spinning between
    operators, took half the CPU of a fingerprinted picture and the second worker's core (kesu/lib/threads.py).
    """

    def __init__(self, resolution: int):
        self.resolution = resolution
        self.session = onnxruntime.InferenceSession(
            str(MODEL), threads.session_options(), providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def detect(self, bgr: np.ndarray) -> list[dict]:
        """Detections (class, score, box x/y/w/h in the image's pixels) of a BGR uint8 image."""
        blob, _, _, x_pad, y_pad, width, height = nudenet._read_image(bgr, self.resolution)
        output = self.session.run(None, {self.input_name: blob})
        return _read(output[0], x_pad, y_pad, width, height, self.resolution)


@cache
def detector(resolution: int) -> Detector:
    """One per resolution and process."""
    return Detector(resolution)


def _read(output: np.ndarray, x_pad: int, y_pad: int, width: int, height: int, resolution: int) -> list[dict]:
    rows = np.transpose(np.squeeze(output))
    scores_all = rows[:, 4:]
    best = scores_all.max(axis=1)
    kept = best >= MIN_SCORE
    classes, scores = scores_all[kept].argmax(axis=1), best[kept]
    x, y, w, h = (rows[kept, i] for i in range(4))
    x, y = x - w / 2, y - h / 2  # centre to corner
    x, w = x * (width + x_pad) / resolution, w * (width + x_pad) / resolution
    y, h = y * (height + y_pad) / resolution, h * (height + y_pad) / resolution
    x, y = np.clip(x, 0, width), np.clip(y, 0, height)
    w, h = np.minimum(w, width - x), np.minimum(h, height - y)
    boxes = np.stack([x, y, w, h], axis=1)
    chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), NMS_SCORE, NMS_IOU)
    return [
        {"class": LABELS[classes[i]], "score": float(scores[i]), "box": [int(v) for v in boxes[i]]}
        for i in np.asarray(chosen, dtype=int).reshape(-1)
    ]
