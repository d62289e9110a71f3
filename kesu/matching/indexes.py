"""Search structures, one class per kind of signal value.

Each index maps vectors to integer ids (Signal primary keys), answers
radius queries exactly, and turns into bytes and back (``to_bytes`` /
``from_bytes``: numpy arrays in an .npz, read back with numpy's default
refusal of object arrays) so the bank can be kept, sealed, under the data
directory.
"""

import io
from dataclasses import dataclass

import faiss
import numpy as np

PDQ_RADIUS = 31  # Meta's recommended match threshold for PDQ

# faiss's OpenMP team is capped with the other native libraries' (kesu/lib/threads.py, KESU_WORKER_THREADS):
# Kesu runs one search at a time per request or task, in several processes on few cores, and the team,
# spinning while the other core was busy, made a match query four times slower on the loaded machine
# (109 ms against 25 ms with a bank of 1,000 references, bench/cascade.py).


@dataclass(frozen=True)
class Found:
    query: int  # row of the query batch
    id: int
    distance: float


def hex_to_codes(values: list[str], width: int = 32) -> np.ndarray:
    """Hex digests of ``width`` bytes as rows of bytes (PDQ: 32)."""
    if not values:
        return np.zeros((0, width), np.uint8)
    return np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), width)


def arrays_to_bytes(**arrays: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def bytes_to_arrays(raw: bytes) -> dict[str, np.ndarray]:
    """The arrays of an .npz; numpy refuses object arrays by default, so reading never runs code."""
    with np.load(io.BytesIO(raw)) as arrays:
        return {name: arrays[name] for name in arrays.files}


class _Persistent:
    """An index over a FAISS flat index, filled in batches."""

    def __len__(self) -> int:
        return len(self.ids)

    def _queue(self, ids, rows: np.ndarray) -> None:
        """Banks grow one signal at a time; FAISS and numpy like batches."""
        if len(rows):
            self._pending.append((np.asarray(ids, np.int64), rows))

    @property
    def ids(self) -> np.ndarray:
        if self._pending:
            self.flat.add(np.concatenate([rows for _, rows in self._pending]))
            self._ids = np.concatenate([self._ids, *(ids for ids, _ in self._pending)])
            self._pending = []
        return self._ids


class HashIndex(_Persistent):
    """256-bit hashes (PDQ, video frame PDQ), exact radius search.

    FAISS's flat binary index is the brute-force truth and the store. On
    top of it a multi-index hash (Norouzi et al.) splits each hash into 16
    chunks of 16 bits: two hashes within distance 31 agree on at least one
    chunk up to one bit (pigeonhole: 16 chunks x 2 bits > 31), so probing
    each chunk's bucket and its 16 one-bit neighbours finds every match
    exactly, reading a few thousand candidates instead of the whole bank.
    """

    CHUNKS = 16
    FLIPS = np.array([0] + [1 << k for k in range(16)], dtype=np.int64)

    def __init__(self):
        self.flat = faiss.IndexBinaryFlat(256)
        self._ids = np.zeros(0, np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._tables = None

    def add(self, ids, codes: np.ndarray) -> None:
        self._queue(ids, np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, 32))
        self._tables = None

    @property
    def codes(self) -> np.ndarray:
        self.ids  # noqa: B018 - flushes what is pending
        return faiss.rev_swig_ptr(self.flat.xb.data(), self.flat.ntotal * 32).reshape(-1, 32)

    def _build(self):
        codes = self.codes
        n = len(codes)
        chunks = codes.view(">u2").astype(np.int64)
        order = np.empty(self.CHUNKS * n, np.int64)
        offsets = np.empty((self.CHUNKS, 65537), np.int64)
        for j in range(self.CHUNKS):
            ranked = np.argsort(chunks[:, j], kind="stable")
            order[j * n : (j + 1) * n] = ranked
            offsets[j] = np.searchsorted(chunks[ranked, j], np.arange(65537)) + j * n
        self._tables = (codes.copy(), order, offsets)

    def search(self, queries: np.ndarray, radius: int = PDQ_RADIUS) -> list[Found]:
        queries = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, 32)
        if not len(self) or not len(queries):
            return []
        if radius >= 2 * self.CHUNKS or len(self) < 4096:
            return self.brute_force(queries, radius)  # small banks: a scan is cheaper than the tables
        if self._tables is None:
            self._build()
        found = []
        for row, query in enumerate(queries):
            rows, distances = self._probe(query, radius)
            found += [Found(row, int(self.ids[r]), float(d)) for r, d in zip(rows, distances, strict=True)]
        return found

    def _probe(self, query: np.ndarray, radius: int):
        codes, order, offsets = self._tables
        keys = query.view(">u2").astype(np.int64)[:, None] ^ self.FLIPS[None, :]
        table = np.arange(self.CHUNKS)[:, None]
        starts, ends = offsets[table, keys].ravel(), offsets[table, keys + 1].ravel()
        lengths = ends - starts
        total = int(lengths.sum())
        if not total:
            return [], []
        before = np.cumsum(lengths) - lengths
        candidates = order[np.repeat(starts - before, lengths) + np.arange(total)]
        distances = np.bitwise_count(codes[candidates] ^ query).sum(axis=1, dtype=np.int32)
        keep = distances <= radius
        rows, first = np.unique(candidates[keep], return_index=True)
        return rows, distances[keep][first]

    def brute_force(self, queries: np.ndarray, radius: int = PDQ_RADIUS) -> list[Found]:
        self.ids  # noqa: B018 - flushes what is pending
        limits, distances, rows = self.flat.range_search(np.ascontiguousarray(queries), radius + 1)
        return [
            Found(q, int(self.ids[rows[i]]), float(distances[i]))
            for q in range(len(queries))
            for i in range(limits[q], limits[q + 1])
        ]

    def to_bytes(self) -> bytes:
        return arrays_to_bytes(ids=self.ids, codes=self.codes)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "HashIndex":
        index = cls()
        arrays = bytes_to_arrays(raw)
        index.add(arrays["ids"], arrays["codes"])
        return index


class VectorIndex(_Persistent):
    """Float embeddings (faces), exact L2 radius search with FAISS."""

    def __init__(self, dim: int = 128):
        self.dim = dim
        self.flat = faiss.IndexFlatL2(dim)
        self._ids = np.zeros(0, np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, ids, vectors: np.ndarray) -> None:
        self._queue(ids, np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim))

    def search(self, queries: np.ndarray, radius: float) -> list[Found]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if not len(self) or not len(queries):
            return []
        limits, distances, rows = self.flat.range_search(queries, radius * radius)  # FAISS works in squared L2
        return [
            Found(q, int(self.ids[rows[i]]), float(np.sqrt(distances[i])))
            for q in range(len(queries))
            for i in range(limits[q], limits[q + 1])
        ]

    def to_bytes(self) -> bytes:
        vectors = self.flat.reconstruct_n(0, self.flat.ntotal) if len(self) else np.zeros((0, self.dim), np.float32)
        return arrays_to_bytes(ids=self.ids, vectors=vectors)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "VectorIndex":
        arrays = bytes_to_arrays(raw)
        index = cls(arrays["vectors"].shape[1])
        index.add(arrays["ids"], arrays["vectors"])
        return index


class DescriptorIndex(_Persistent):
    """Local features (ORB) of many references, for voting and the geometric check.

    Each descriptor row remembers its owner and its row within the owner's
    feature set, so a vote turns into point pairs for RANSAC.
    """

    RATIO = 0.8  # Lowe's ratio test on Hamming distances
    MAX_DISTANCE = 64
    # A brute-force scan of every banked descriptor was 95 % of a match query: 0.3-1.3 s with 1,000
    # references (500,000 descriptors, bench/cascade.py). From IVF_MIN descriptors on, an inverted file
    # (faiss IndexBinaryIVF: descriptors filed under the nearest of ~sqrt(n) trained centroids) looks only
    # in the NPROBE lists nearest each query descriptor. A copy's descriptors still find their twins there
    # (recall: bench/matching.py, bench/graphics.py); an unrelated one's runner-up may be missed, which makes
    # the ratio test more lenient, and RANSAC (image.verify) is what decides. Retrained when the bank has
    # grown RETRAIN_GROWTH times since.
    IVF_MIN = 100_000
    NPROBE = 16
    RETRAIN_GROWTH = 2.0

    def __init__(self):
        self.flat = faiss.IndexBinaryFlat(256)
        self.ivf: faiss.IndexBinaryIVF | None = None
        self._trained_on = 0
        self.codes = np.zeros((0, 32), np.uint8)
        self.owner = np.zeros(0, np.int64)
        self.row = np.zeros(0, np.int64)
        self.features: dict = {}  # owner -> image.LocalFeatures
        self._pending: list[int] = []

    def __len__(self) -> int:
        return len(self.features)

    def add(self, owner: int, features) -> None:
        if len(features.descriptors) and owner not in self.features:
            self.features[owner] = features
            self._pending.append(owner)

    def _flush(self) -> None:
        if not self._pending:
            return
        added = [self.features[o] for o in self._pending]
        codes = np.ascontiguousarray(np.concatenate([f.descriptors for f in added]), dtype=np.uint8)
        self.flat.add(codes)
        self.codes = np.concatenate([self.codes, codes])
        owners = [np.full(len(f.descriptors), o, np.int64) for o, f in zip(self._pending, added, strict=True)]
        rows = [np.arange(len(f.descriptors), dtype=np.int64) for f in added]
        self.owner = np.concatenate([self.owner, *owners])
        self.row = np.concatenate([self.row, *rows])
        self._pending = []
        self._file()

    def _file(self) -> None:
        """The inverted file, (re)built from the flat codes once the bank is large enough for it."""
        codes, total = self.codes, len(self.codes)
        if total < self.IVF_MIN:
            self.ivf = None
            return
        if self.ivf is not None and total < self.RETRAIN_GROWTH * self._trained_on:
            self.ivf.add(codes[self.ivf.ntotal :])
            return
        lists = int(np.sqrt(total))
        sample = codes[np.random.default_rng(0).choice(total, min(total, 40 * lists), replace=False)]
        quantizer = faiss.IndexBinaryFlat(256)
        ivf = faiss.IndexBinaryIVF(quantizer, 256, lists)
        ivf.train(np.ascontiguousarray(sample))
        ivf.add(np.ascontiguousarray(codes))
        ivf.nprobe = self.NPROBE
        ivf.own_fields = True
        quantizer.this.disown()
        self.ivf, self._trained_on = ivf, total

    def vote(self, descriptors: np.ndarray, k: int = 4) -> dict[int, np.ndarray]:
        """Owner -> (query row, owner row) pairs that passed the ratio test.

        The ratio is taken against the nearest descriptor of *another*
        owner: a picture's own repeated texture must not veto its matches,
        and in a crowded bank the runner-up is usually someone else's.
        """
        self._flush()
        if not len(self) or not len(descriptors):
            return {}
        index = self.ivf if self.ivf is not None else self.flat
        distances, neighbours = index.search(np.ascontiguousarray(descriptors), min(k, len(self.owner)))
        owners = np.where(neighbours >= 0, self.owner[neighbours], -(2**62))
        other = owners != owners[:, :1]
        runner_up = np.where(other, distances, 256).min(axis=1).astype(float)
        best = distances[:, 0].astype(float)
        good = (neighbours[:, 0] >= 0) & (best <= self.MAX_DISTANCE) & (best < self.RATIO * runner_up)
        pairs: dict[int, list] = {}
        for query_row, hit in zip(np.nonzero(good)[0], neighbours[good, 0], strict=True):
            pairs.setdefault(int(self.owner[hit]), []).append((query_row, self.row[hit]))
        return {owner: np.array(rows, dtype=np.int64) for owner, rows in pairs.items()}

    def to_bytes(self) -> bytes:
        owners = np.array(sorted(self.features), np.int64)
        blobs = [self.features[o].to_bytes() for o in owners]
        lengths = np.array([len(b) for b in blobs], np.int64)
        return arrays_to_bytes(owners=owners, lengths=lengths, blob=np.frombuffer(b"".join(blobs), np.uint8))

    @classmethod
    def from_bytes(cls, raw: bytes) -> "DescriptorIndex":
        from .image import LocalFeatures

        arrays = bytes_to_arrays(raw)
        index, blob, start = cls(), arrays["blob"].tobytes(), 0
        for owner, length in zip(arrays["owners"], arrays["lengths"], strict=True):
            index.add(int(owner), LocalFeatures.from_bytes(blob[start : start + length]))
            start += int(length)
        return index


class FrameIndex:
    """Video frame hashes with their owner and time: a HashIndex for the
    first look-up, and each video's frames in order for segment matching."""

    def __init__(self):
        self.hashes = HashIndex()
        self.frames: dict[int, list] = {}  # owner -> [FrameHash]
        self.where: dict[int, tuple[int, float]] = {}  # signal id -> (owner, t)

    def __len__(self) -> int:
        return len(self.where)

    def add_frame(self, signal_id: int, owner: int, t: float, hex_value: str, quality: int) -> None:
        from .framehash import FrameHash

        frame = FrameHash(t, hex_value, quality)
        self.frames.setdefault(owner, []).append(frame)
        self.where[signal_id] = (owner, t)
        if frame.usable:
            self.hashes.add([signal_id], hex_to_codes([hex_value]))

    def frame_of(self, signal_id: int) -> tuple[int, float]:
        return self.where[signal_id]

    def frames_of(self, owner: int) -> list:
        return sorted(self.frames[owner], key=lambda f: f.t)

    def to_bytes(self) -> bytes:
        ids = sorted(self.where)
        owners = [self.where[i][0] for i in ids]
        by_time = {owner: {f.t: f for f in frames} for owner, frames in self.frames.items()}
        frames = [by_time[owner][self.where[i][1]] for owner, i in zip(owners, ids, strict=True)]
        return arrays_to_bytes(
            ids=np.array(ids, "<i8"), owners=np.array(owners, "<i8"), t=np.array([f.t for f in frames], "<f8"),
            codes=hex_to_codes([f.pdq_hex for f in frames]), quality=np.array([f.quality for f in frames], "<i2"),
        )  # fmt: skip

    @classmethod
    def from_bytes(cls, raw: bytes) -> "FrameIndex":
        arrays, index = bytes_to_arrays(raw), cls()
        rows = zip(arrays["ids"], arrays["owners"], arrays["t"], arrays["codes"], arrays["quality"], strict=True)
        for signal_id, owner, t, code, quality in rows:
            index.add_frame(int(signal_id), int(owner), float(t), code.tobytes().hex(), int(quality))
        return index


class ExactIndex:
    """Cryptographic hashes: equal bytes or nothing."""

    def __init__(self):
        self.ids: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.ids.values())

    def add(self, signal_id: int, value: str) -> None:
        self.ids.setdefault(value, []).append(signal_id)

    def search(self, value: str) -> list[int]:
        return list(self.ids.get(value, ()))

    def to_bytes(self) -> bytes:
        pairs = [(value, signal_id) for value, ids in self.ids.items() for signal_id in ids]
        values = np.array([v for v, _ in pairs], "<U128") if pairs else np.zeros(0, "<U128")
        return arrays_to_bytes(values=values, ids=np.array([i for _, i in pairs], "<i8"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> "ExactIndex":
        arrays, index = bytes_to_arrays(raw), cls()
        for value, signal_id in zip(arrays["values"], arrays["ids"], strict=True):
            index.add(int(signal_id), str(value))
        return index
