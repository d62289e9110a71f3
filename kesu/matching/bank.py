"""The search bank: every open case's signals, indexed, kept sealed on disk.

One Bank per process, loaded from `DATA_DIR/index/bank.ksv` (sealed with
the installation's index key) and brought up to date from the database:
signals added since it was saved are added incrementally; if any were
deleted or withdrawn (a case closed or erased, a reference deleted or
restored), it is rebuilt. `kesu match rebuild`
rebuilds on demand.

The file (format 5) is an .npz of plain arrays: ``header`` (UTF-8 JSON: format, max_id, count, id_sum),
``entries.ids`` / ``entries.owners`` / ``entries.meta`` (the metas as one UTF-8 JSON list), ``owners.ids`` /
``owners.cases``, and ``index.<kind>``: each index's own bytes (indexes.py). Reading it runs no code.
"""

import json
import threading
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db.models import Count, Max, Q, Sum

from ..lib.datadir import ensure_dir, write_private
from ..vault import services as vault
from .evidence import Evidence
from .indexes import arrays_to_bytes, bytes_to_arrays
from .models import Signal
from .signals import REGISTRY, FoundMedium, Medium, SignalValue, compute_all, score

INDEX_KEY_PURPOSE = "index"
FILE_FORMAT = 5


class Bank:
    """Indexes of banked signals, one per signal type, and who each entry belongs to.

    An owner is the item a signal stands for: a reference (its id) or a
    confirmed hit (minus its id). The bank knows nothing of the database:
    the benchmark fills it straight from pictures.
    """

    def __init__(self):
        self.indexes = {kind: t.index_class() for kind, t in REGISTRY.items() if t.index_class}
        self.entries: dict[int, tuple[int, dict]] = {}  # signal id -> (owner, meta)
        self.owners: dict[int, int] = {}  # owner -> case id
        self.max_id = 0
        self.count = 0
        self.id_sum = 0  # with count: a set of signals that changed (one withdrawn, another back) is noticed

    def add(self, signal_id: int, owner: int, case_id: int, value: SignalValue) -> None:
        signal_type = REGISTRY.get(value.kind)
        self.owners[owner] = case_id
        self.entries[signal_id] = (owner, value.meta)
        if signal_type is not None and signal_type.index_class:
            signal_type.add(self.indexes[value.kind], signal_id, owner, value)
        self.max_id = max(self.max_id, signal_id)
        self.count += 1
        self.id_sum += signal_id

    def add_row(self, signal: Signal, case_key) -> None:
        secret = vault.open_bytes(case_key, signal.sealed, f"signal.{signal.kind}") if signal.sealed else None
        value = SignalValue(signal.kind, signal.value, signal.quality, signal.meta, secret)
        self.add(signal.pk, signal.owner, signal.case_id, value)

    def add_medium(self, owner: int, case_id: int, medium: Medium, kinds: list[str] | None = None) -> None:
        """Bank a medium without the database (benchmark, calibration)."""
        for value in compute_all(medium, kinds):
            self.add(self.max_id + 1, owner, case_id, value)

    def search(self, medium: FoundMedium) -> list[Evidence]:
        """Every reference the found medium's values tie it to, most likely first (no pixels needed)."""
        found: dict[int, Evidence] = defaultdict(Evidence)
        for kind, signal_type in REGISTRY.items():
            if kind in self.indexes and medium.kind in signal_type.searches:
                signal_type.search(self, medium, found)
        out = []
        for owner, item in found.items():
            item.owner = owner
            score(item)
            if item.probability > 0:
                out.append(item)
        return sorted(out, key=lambda e: -e.probability)


_lock = threading.Lock()
_bank: Bank | None = None


def _live_signals():
    """Signals that may match: not of a closed case, nor of a deleted reference waiting out its undo window."""
    return Signal.objects.in_use().exclude(case__status="closed")


def _fresh() -> Bank:
    bank = Bank()
    _add_rows(bank, _live_signals())
    _save(bank)
    return bank


def _add_rows(bank: Bank, rows) -> None:
    for signal in rows.select_related("case__data_key").order_by("id").iterator(chunk_size=500):
        bank.add_row(signal, signal.case.data_key)


def rebuild() -> Bank:
    global _bank
    with _lock:
        _bank = _fresh()
        return _bank


def current() -> Bank:
    """The bank, up to date with the database."""
    global _bank
    with _lock:
        bank = _bank or _load()
        if bank is None:
            bank = _fresh()
        else:
            known = Q(id__lte=bank.max_id)
            state = _live_signals().aggregate(
                top=Max("id"), known=Count("id", filter=known), id_sum=Sum("id", filter=known)
            )
            if (state["known"], state["id_sum"] or 0) != (bank.count, bank.id_sum):
                bank = _fresh()  # something was deleted, closed or restored: start over
            elif (state["top"] or 0) > bank.max_id:
                _add_rows(bank, _live_signals().filter(id__gt=bank.max_id))
                _save(bank)
        _bank = bank
        return bank


def forget() -> None:
    """Drop the in-memory bank (tests, and after a case is erased)."""
    global _bank
    with _lock:
        _bank = None


def _path():
    return ensure_dir(settings.DATA_DIR / "index") / "bank.ksv"


def _index_key():
    from ..vault.models import DataKey

    key = DataKey.objects.filter(purpose=INDEX_KEY_PURPOSE).first()
    return key or vault.new_data_key(INDEX_KEY_PURPOSE)


def _save(bank: Bank) -> None:
    # Face embeddings and local features are in here: sealed, like the rest of the vault.
    key = _index_key()
    write_private(_path(), str(key.pk).encode() + b"\n" + vault.seal_bytes(key, to_bytes(bank), "index.bank"))


def _json_array(value) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode(), np.uint8)


def to_bytes(bank: Bank) -> bytes:
    ids = sorted(bank.entries)
    owners = sorted(bank.owners)
    header = {"format": FILE_FORMAT, "max_id": bank.max_id, "count": bank.count, "id_sum": bank.id_sum}
    return arrays_to_bytes(
        header=_json_array(header),
        **{"entries.ids": np.array(ids, "<i8"), "entries.owners": np.array([bank.entries[i][0] for i in ids], "<i8"),
           "entries.meta": _json_array([bank.entries[i][1] for i in ids]),
           "owners.ids": np.array(owners, "<i8"), "owners.cases": np.array([bank.owners[o] for o in owners], "<i8")},
        **{f"index.{kind}": np.frombuffer(index.to_bytes(), np.uint8) for kind, index in bank.indexes.items()},
    )  # fmt: skip


def from_bytes(raw: bytes) -> Bank | None:
    """The bank in a file, or None when it is of another format or lacks an index the registry has."""
    arrays = bytes_to_arrays(raw)
    header = json.loads(arrays["header"].tobytes())
    bank = Bank()
    if header.get("format") != FILE_FORMAT or any(f"index.{kind}" not in arrays for kind in bank.indexes):
        return None
    for kind in bank.indexes:
        bank.indexes[kind] = REGISTRY[kind].index_class.from_bytes(arrays[f"index.{kind}"].tobytes())
    metas = json.loads(arrays["entries.meta"].tobytes())
    rows = zip(arrays["entries.ids"], arrays["entries.owners"], metas, strict=True)
    bank.entries = {int(i): (int(owner), meta) for i, owner, meta in rows}
    bank.owners = {int(o): int(c) for o, c in zip(arrays["owners.ids"], arrays["owners.cases"], strict=True)}
    bank.max_id, bank.count, bank.id_sum = header["max_id"], header["count"], header["id_sum"]
    return bank


def _load() -> Bank | None:
    """The saved bank, or None when it is missing, stale in format, or cannot be opened."""
    from ..vault.models import DataKey

    path = _path()
    if not path.exists():
        return None
    try:
        key_id, sealed = path.read_bytes().split(b"\n", 1)
        key = DataKey.objects.get(pk=key_id.decode())
        return from_bytes(vault.open_bytes(key, sealed, "index.bank"))
    except Exception:  # any damage: the database is the truth, rebuild from it
        return None
