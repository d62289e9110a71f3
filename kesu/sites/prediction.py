"""Will this recipient delete, and how soon? Predictions learnt from the request history.

The model is empirical-Bayes shrinkage along a chain of groupings (``LEVELS``), from broad to narrow:
recipient role, case type, country, host, recipient, site. Each level moves the prediction on the logit
scale by the shrunk difference between what its group did and what the broader levels expected of it::

    shift_g = logit((s_g + m_k * mu_g) / (n_g + m_k)) - logit(mu_g)

``s_g`` removals among ``n_g`` settled requests of the group (recency-weighted), ``mu_g`` the mean
prediction of the broader levels for those same requests, ``m_k`` the level's prior strength in
pseudo-requests, chosen per level by maximising the beta-binomial marginal likelihood. Where a group
nests inside the broader ones (site x case type inside site) this is the Beta-binomial posterior mean;
where it does not (a site seen across case types, a recipient across hosts) the shift carries the
group's own deviation into the query's context. A site with no history therefore gets its host's,
country's and case type's rate, and the more requests a site has the closer it gets to its own rate.

Recency: requests weigh ``0.5 ** (age / half_life)``; the half-life is chosen among ``HALF_LIVES`` on
the most recent slice of the training history, and the same slice fits a Platt calibration (logistic
regression on the chain's logit), so that "70 %" means about 70 % of such requests end in deletion.

Time to deletion: the same chain with normal-normal shrinkage of log-days over removed requests,
reported as a median in days (a log-normal's median is ``exp`` of its mean log).

Labels: deleted and partly deleted count as removed, still online as not removed; on hold and
ongoing requests are not settled and are left out of every fit (counting them as failures would
punish recipients for requests the desk paused or that are simply too young).
"""

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from ..cases.models import CaseType
from ..lib.errors import UserError
from .models import REMOVED, SETTLED, Organisation, Outcome, Role, Site, Source, TakedownRequest

# The facets every history row and every query is described by, in this order.
FACETS = ("role", "case_type", "country", "host", "recipient", "site")


@dataclass(frozen=True)
class Level:
    name: str
    facets: tuple[str, ...]

    @property
    def index(self) -> tuple[int, ...]:
        return tuple(FACETS.index(f) for f in self.facets)


# Broad to narrow; a level is skipped for a row or query where one of its facets is unknown ("").
LEVELS = (
    Level("role", ("role",)),
    Level("case type", ("role", "case_type")),
    Level("country", ("role", "country")),
    Level("country x case type", ("role", "country", "case_type")),
    Level("host", ("role", "host")),
    Level("recipient", ("role", "recipient")),
    Level("recipient x case type", ("role", "recipient", "case_type")),
    Level("site, any recipient", ("site",)),
    Level("site", ("role", "site")),
    Level("site x case type", ("role", "site", "case_type")),
)
SITE_LEVELS = {"site, any recipient", "site", "site x case type"}
RECIPIENT_LEVELS = {"recipient", "recipient x case type"}

HALF_LIVES = (None, 730.0, 365.0, 180.0)  # days; None = no recency weighting
CALIBRATION_SHARE = 0.15  # most recent share of the training history held out to choose and calibrate
MIN_CALIBRATION = 300  # fewer held-out requests than this: no calibration step, no half-life choice
STRENGTHS = np.logspace(4, -1, 26)  # candidate prior strengths m (pseudo-requests), largest first
EPS = 1e-4
RELIED_ON = 0.25  # share of a level's estimate its own requests must carry to be named as the evidence
MAX_SETTLE_LAG = 120.0  # days


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request of the history, reduced to what the model reads. Plain data, no database.

    ``recipient`` is ``"<role>:<key>"`` of the Organisation it went to ("" if unknown); ``host`` the
    hosting network's key, or the CDN's when the origin is hidden behind it; ``country`` where the
    content is served from, else the operator's jurisdiction ("" if unknown).
    """

    site: str
    recipient: str
    role: str
    host: str
    country: str
    case_type: str
    sent_at: datetime
    outcome: str
    resolved_at: datetime | None = None

    @property
    def settled(self) -> bool:
        return self.outcome in SETTLED

    @property
    def removed(self) -> bool:
        return self.outcome in REMOVED

    @property
    def days(self) -> float | None:
        """Days from sending to resolution, for removed requests with a resolution date."""
        if not self.removed or self.resolved_at is None:
            return None
        return max((self.resolved_at - self.sent_at).total_seconds() / 86400, 1 / 24)

    @property
    def facets(self) -> tuple[str, ...]:
        return (self.role, self.case_type, self.country, self.host, self.recipient, self.site)


@dataclass(frozen=True, slots=True)
class PredictionQuery:
    site_domain: str
    recipient_key: str
    role: str
    host_key: str
    country: str
    case_type: str

    @property
    def facets(self) -> tuple[str, ...]:
        return (self.role, self.case_type, self.country, self.host_key, self.recipient_key, self.site_domain)


@dataclass(frozen=True)
class Prediction:
    """``probability`` that the request ends in (partial) deletion; ``expected_days`` the median days
    to deletion if it does (None without any timed deletion in the history). ``level`` says what the
    estimate rests on, ``evidence_count`` how many settled requests that level holds.
    ``synthetic`` is true when the model learnt from the synthetic history (no real history yet)."""

    probability: float
    expected_days: float | None
    evidence_count: int
    level: str
    days_evidence_count: int = 0
    synthetic: bool = False


def as_of(rows: Iterable[RequestRow], when: datetime) -> list[RequestRow]:
    """The history as it was known at ``when``: requests sent before it, and those resolved after it
    turned back into ongoing. Rows without a resolution date keep their outcome (it cannot be told
    when it became known)."""
    known = []
    for row in rows:
        if row.sent_at >= when:
            continue
        if row.resolved_at is not None and row.resolved_at > when:
            row = replace(row, outcome=Outcome.ONGOING.value, resolved_at=None)
        known.append(row)
    return known


# --- fitting ------------------------------------------------------------------------------------


def _logit(p):
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


class _Encoded:
    """Integer group codes per level for a list of rows (-1 where one of the level's facets is unknown).

    Facet values become ids (``vocab``); a level's group is the mixed-radix number of its facet ids,
    and ``groups[k]`` maps that number to the group's code.
    """

    def __init__(self, facets: Sequence[tuple[str, ...]]):
        columns = np.array(facets, dtype=object).reshape(len(facets), len(FACETS))
        self.vocab: list[dict[str, int]] = []
        ids = np.empty(columns.shape, dtype=np.int64)
        for j in range(len(FACETS)):
            values, inverse = np.unique(columns[:, j].astype(str), return_inverse=True)
            self.vocab.append({v: i for i, v in enumerate(values.tolist())})
            ids[:, j] = inverse
            if "" in self.vocab[j]:
                ids[inverse == self.vocab[j][""], j] = -1
        self.groups: list[dict[int, int]] = []
        self.codes: list[np.ndarray] = []
        for level in LEVELS:
            known = (ids[:, level.index] >= 0).all(axis=1)
            number = self._number(level, ids[known][:, level.index].T)
            values, inverse = np.unique(number, return_inverse=True)
            codes = np.full(len(facets), -1, dtype=np.int64)
            codes[known] = inverse
            self.codes.append(codes)
            self.groups.append({int(v): i for i, v in enumerate(values.tolist())})

    def _number(self, level: Level, columns) -> np.ndarray | int:
        number = 0
        for j, column in zip(level.index, columns, strict=True):
            number = number * (len(self.vocab[j]) + 1) + column
        return number

    def group_of(self, k: int, facets: tuple[str, ...]) -> int | None:
        """The code of the query's group at level k, None if that group was never seen."""
        level = LEVELS[k]
        ids = [self.vocab[j].get(facets[j]) if facets[j] else None for j in level.index]
        if None in ids:
            return None
        return self.groups[k].get(int(self._number(level, ids)))

    def sizes(self) -> list[int]:
        return [len(g) for g in self.groups]


def _strength(s: np.ndarray, n: np.ndarray, mu: np.ndarray) -> float:
    """The prior strength m maximising the beta-binomial marginal likelihood of the groups."""
    from scipy.special import betaln

    # A group of one request says nothing about the spread between groups: leave those out (speed).
    informative = n > 1
    s, n, mu = s[informative], n[informative], np.clip(mu[informative], EPS, 1 - EPS)
    if not len(n):
        return float(STRENGTHS[0])
    f = np.clip(n - s, 0, None)
    m = STRENGTHS[:, None]
    ll = (betaln(s + m * mu, f + m * (1 - mu)) - betaln(m * mu, m * (1 - mu))).sum(axis=1)
    return float(STRENGTHS[int(np.argmax(ll))])  # ties (no information) go to the largest m


@dataclass
class _Chain:
    """Per level: group code -> logit shift (probability) or log-days shift (time), and strengths."""

    base: float
    shifts: list[np.ndarray]
    strengths: list[float]


def _fit_probability(enc: _Encoded, rows: np.ndarray, y: np.ndarray, w: np.ndarray) -> _Chain:
    # One pseudo-removal and one pseudo-failure keep a tiny history away from 0 % and 100 %.
    base = float((np.sum(w[rows] * y[rows]) + 1) / (np.sum(w[rows]) + 2))
    eta = np.full(len(rows), math.log(base / (1 - base)))
    shifts, strengths = [], []
    for level_codes, size in zip(enc.codes, enc.sizes(), strict=True):
        codes, yy, ww = level_codes[rows], y[rows], w[rows]
        known = codes >= 0
        n = np.bincount(codes[known], ww[known], minlength=size)
        s = np.bincount(codes[known], ww[known] * yy[known], minlength=size)
        expected = np.bincount(codes[known], ww[known] * _sigmoid(eta[known]), minlength=size)
        seen = n > 0
        mu = np.where(seen, expected / np.where(seen, n, 1), 0.5)
        m = _strength(s[seen], n[seen], mu[seen]) if seen.any() else STRENGTHS[0]
        shift = np.where(seen, _logit((s + m * mu) / (n + m)) - _logit(mu), 0.0)
        eta[known] += shift[codes[known]]
        shifts.append(shift)
        strengths.append(m)
    return _Chain(base, shifts, strengths)


def _fit_days(enc: _Encoded, rows: np.ndarray, logd: np.ndarray, w: np.ndarray) -> _Chain:
    base = float(np.average(logd[rows], weights=w[rows]))
    mu = np.full(len(rows), base)
    shifts, strengths = [], []
    for level_codes, size in zip(enc.codes, enc.sizes(), strict=True):
        codes, yy, ww = level_codes[rows], logd[rows], w[rows]
        known = codes >= 0
        n = np.bincount(codes[known], ww[known], minlength=size)
        resid = yy - mu
        total = np.bincount(codes[known], ww[known] * resid[known], minlength=size)
        seen = n > 0
        mean = np.where(seen, total / np.where(seen, n, 1), 0.0)
        within = float(np.average((resid[known] - mean[codes[known]]) ** 2, weights=ww[known])) if known.any() else 1
        within = max(within, 0.05)
        # Method of moments: E[mean_g^2] = tau^2 + sigma^2 / n_g.
        between = float(np.mean(mean[seen] ** 2 - within / n[seen])) if seen.any() else 0.0
        k = within / max(between, 1e-3)
        shift = np.where(seen, mean * n / (n + k), 0.0)
        mu[known] += shift[codes[known]]
        shifts.append(shift)
        strengths.append(k)
    return _Chain(base, shifts, strengths)


def _platt(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if len(set(y.tolist())) < 2:
        return 1.0, 0.0
    fit = LogisticRegression(C=1e4).fit(_logit(p).reshape(-1, 1), y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def _chain_probability(chain: _Chain, enc: _Encoded, rows: np.ndarray) -> np.ndarray:
    eta = np.full(len(rows), _logit(np.array(chain.base)))
    for shift, level_codes in zip(chain.shifts, enc.codes, strict=True):
        codes = level_codes[rows]
        known = codes >= 0
        eta[known] += shift[codes[known]]
    return _sigmoid(eta)


def _weights(ages: np.ndarray, half_life: float | None) -> np.ndarray:
    return np.ones_like(ages) if half_life is None else 0.5 ** (np.clip(ages, 0, None) / half_life)


def settle_lag(rows: Sequence[RequestRow]) -> float:
    """Days it takes until a request that failed is recorded as still online (95th percentile).

    A deletion is known as soon as it happens, a failure only at the follow-up check; among requests
    younger than this lag the settled ones are mostly deletions, so the fit leaves them all out.
    """
    lags = [
        (r.resolved_at - r.sent_at).total_seconds() / 86400
        for r in rows
        if r.outcome == Outcome.STILL_ONLINE and r.resolved_at is not None
    ]
    lags = [lag for lag in lags if lag >= 0]
    return min(float(np.percentile(lags, 95)), MAX_SETTLE_LAG) if lags else 0.0


def fit(rows: Iterable[RequestRow], now: datetime | None = None) -> "ComplianceModel":
    """Learn from the settled requests in ``rows`` sent before ``now`` minus the settle lag (see
    ``settle_lag``). ``now`` defaults to the history's last recorded moment (latest sent or resolved).

    Raises UserError when there is no settled request to learn from.
    """
    rows = list(rows)
    if not rows:
        raise UserError("no request in the history: nothing to predict from")
    if now is None:
        now = max(max(r.sent_at, r.resolved_at or r.sent_at) for r in rows)
    young = now - timedelta(days=settle_lag(rows))
    settled = sorted((r for r in rows if r.settled and r.sent_at <= young), key=lambda r: r.sent_at)
    if not settled:
        raise UserError("no settled request in the history: nothing to predict from")
    enc = _Encoded([r.facets for r in settled])
    y = np.array([r.removed for r in settled], dtype=float)
    sent = np.array([r.sent_at.timestamp() for r in settled]) / 86400
    all_rows = np.arange(len(settled))
    half_life, calibration = _choose(enc, y, sent, all_rows)
    w = _weights(now.timestamp() / 86400 - sent, half_life)
    chain = _fit_probability(enc, all_rows, y, w)
    days = np.array([r.days if r.days is not None else np.nan for r in settled])
    timed = np.flatnonzero(~np.isnan(days))
    days_chain = _fit_days(enc, timed, np.log(np.nan_to_num(days, nan=1.0)), w) if len(timed) else None
    counts = [np.bincount(c[c >= 0], minlength=size) for c, size in zip(enc.codes, enc.sizes(), strict=True)]
    timed_counts = [
        np.bincount(c[timed][c[timed] >= 0], minlength=size) for c, size in zip(enc.codes, enc.sizes(), strict=True)
    ]
    return ComplianceModel(
        enc=enc,
        chain=chain,
        days_chain=days_chain,
        counts=counts,
        timed_counts=timed_counts,
        calibration=calibration,
        half_life=half_life,
        now=now,
        trained_on=len(settled),
        timed_on=len(timed),
    )


def _choose(enc: _Encoded, y, sent, all_rows) -> tuple[float | None, tuple[float, float]]:
    """Pick the half-life with the best log loss on the most recent slice, and fit Platt scaling there."""
    cut = int(len(all_rows) * (1 - CALIBRATION_SHARE))
    early, late = all_rows[:cut], all_rows[cut:]
    if len(late) < MIN_CALIBRATION or len(early) < MIN_CALIBRATION:
        return None, (1.0, 0.0)  # too little history to choose or calibrate: all of it, as fitted
    then = sent[cut]
    best = None
    for half_life in HALF_LIVES:
        chain = _fit_probability(enc, early, y, _weights(then - sent, half_life))
        p = np.clip(_chain_probability(chain, enc, late), EPS, 1 - EPS)
        loss = -np.mean(y[late] * np.log(p) + (1 - y[late]) * np.log(1 - p))
        if best is None or loss < best[0]:
            best = (loss, half_life, p)
    _, half_life, p = best
    return half_life, _platt(p, y[late])


# --- the fitted model ----------------------------------------------------------------------------


@dataclass
class ComplianceModel:
    enc: _Encoded
    chain: _Chain
    days_chain: _Chain | None
    counts: list[np.ndarray]
    timed_counts: list[np.ndarray]
    calibration: tuple[float, float]
    half_life: float | None
    now: datetime
    trained_on: int
    timed_on: int
    synthetic: bool = False

    def predict(self, query: PredictionQuery) -> Prediction:
        """Probability of deletion and median days to it for one prospective request."""
        _check(query)
        facets = query.facets
        eta = float(_logit(np.array(self.chain.base)))
        logd = self.days_chain.base if self.days_chain else None
        used = []
        for k, level in enumerate(LEVELS):
            code = self.enc.group_of(k, facets)
            if code is None:
                continue
            eta += self.chain.shifts[k][code]
            if logd is not None:
                logd += self.days_chain.shifts[k][code]
            used.append((level, int(self.counts[k][code]), int(self.timed_counts[k][code]), self.chain.strengths[k]))
        a, b = self.calibration
        probability = float(_sigmoid(a * eta + b))
        level, evidence, timed = _explain(used, query, self.trained_on, self.timed_on)
        return Prediction(
            probability=probability,
            expected_days=None if logd is None else float(math.exp(logd)),
            evidence_count=evidence,
            level=level,
            days_evidence_count=timed,
            synthetic=self.synthetic,
        )


def _check(query: PredictionQuery) -> None:
    if query.role not in Role.values:
        raise UserError(f"unknown recipient role {query.role!r} (one of {', '.join(Role.values)})")
    if query.case_type not in CaseType.values:
        raise UserError(f"unknown case type {query.case_type!r} (one of {', '.join(CaseType.values)})")


def _explain(
    used: list[tuple[Level, int, int, float]], query: PredictionQuery, total: int, total_timed: int
) -> tuple[str, int, int]:
    """The narrowest level whose own requests carry at least ``RELIED_ON`` of its estimate, in words.

    Returns (text, settled requests of that level, timed deletions of that level).
    """
    relied = [u for u in used if u[1] / (u[1] + u[3]) >= RELIED_ON]
    if not relied:
        return f"all requests: {_requests(total)}", total, total_timed
    level, n, timed, _ = relied[-1]
    if level.name in SITE_LEVELS:
        return f"site: {_requests(n)}", n, timed
    if level.name in RECIPIENT_LEVELS:
        return f"recipient {query.recipient_key}: {_requests(n)}", n, timed
    names = {u[0].name for u in relied}
    parts = [f"host {query.host_key}"] if "host" in names else []
    if names & {"country", "country x case type"}:
        parts.append(query.country)
    if names & {"case type", "country x case type"}:
        parts.append(query.case_type)
    return " + ".join(parts or [f"all {query.role} requests"]) + f": {_requests(n)}", n, timed


def _requests(n: int) -> str:
    return f"{n} request" if n == 1 else f"{n} requests"


# --- the database side ---------------------------------------------------------------------------

_COLUMNS = (
    "site__domain",
    "recipient__role",
    "recipient__key",
    "role",
    "site__host__key",
    "site__cdn__key",
    "site__server_country",
    "site__host__country",
    "site__jurisdiction",
    "case_type",
    "sent_at",
    "outcome",
    "resolved_at",
)


def history(queryset=None) -> list[RequestRow]:
    """TakedownRequest rows (default: all) as plain rows, in one query."""
    queryset = TakedownRequest.objects.all() if queryset is None else queryset
    out = []
    for domain, r_role, r_key, role, host, cdn, server, host_country, juris, ct, sent, outcome, resolved in (
        queryset.order_by().values_list(*_COLUMNS).iterator(chunk_size=5000)
    ):
        out.append(
            RequestRow(
                site=domain,
                recipient=f"{r_role}:{r_key}" if r_key else "",
                role=role,
                host=host or cdn or "",
                country=server or host_country or juris or "",
                case_type=ct,
                sent_at=sent,
                outcome=outcome,
                resolved_at=resolved,
            )
        )
    return out


def default_recipient(site: Site, role: str) -> Organisation | None:
    """Who a request in ``role`` about ``site`` goes to when nobody was named."""
    return {Role.OPERATOR: site.operator, Role.HOST: site.host, Role.CDN: site.cdn, Role.REGISTRAR: site.registrar}.get(
        role
    )


def query_for(site: Site, role: str, case_type: str, recipient: Organisation | None = None) -> PredictionQuery:
    recipient = recipient or default_recipient(site, role)
    return PredictionQuery(
        site_domain=site.domain,
        recipient_key=f"{recipient.role}:{recipient.key}" if recipient else "",
        role=role,
        host_key=(site.host.key if site.host else "") or (site.cdn.key if site.cdn else ""),
        country=site.server_country or (site.host.country if site.host else "") or site.jurisdiction,
        case_type=case_type,
    )


class _ModelCache:
    """The fitted model of this process, refitted when the request table changed.

    The state key is one aggregate query; it sees added and deleted rows and changed outcomes that
    move a resolution date or a removed/settled count (TakedownRequest has no updated_at).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._state = None
        self._model = None

    @staticmethod
    def state() -> tuple:
        from django.db.models import Count, Max, Min, Q

        return tuple(
            TakedownRequest.objects.aggregate(
                n=Count("pk"),
                top=Max("pk"),
                resolved=Max("resolved_at"),
                settled=Count("pk", filter=Q(outcome__in=SETTLED)),
                removed=Count("pk", filter=Q(outcome__in=REMOVED)),
                synthetic=Count("pk", filter=Q(source=Source.SYNTHETIC)),
                first=Min("sent_at"),
                last=Max("sent_at"),
            ).values()
        )

    def model(self) -> ComplianceModel:
        state = self.state()
        with self._lock:
            if self._model is None or state != self._state:
                self._model, self._state = _fit_from_database(), state
            return self._model

    def forget(self) -> None:
        with self._lock:
            self._model = self._state = None


def training_history() -> tuple[list[RequestRow], bool]:
    """(rows, synthetic): the real history once it holds any settled request; until then the
    synthetic one, flagged, so that nothing learnt from invented data passes for real."""
    real = TakedownRequest.objects.exclude(source=Source.SYNTHETIC)
    synthetic = not real.filter(outcome__in=SETTLED).exists()
    return history(None if synthetic else real), synthetic


def _fit_from_database() -> ComplianceModel:
    rows, synthetic = training_history()
    model = fit(rows)
    model.synthetic = synthetic
    return model


_CACHE = _ModelCache()


def current_model() -> ComplianceModel:
    """The model fitted from the database, refitted when the request table changed since the last fit."""
    return _CACHE.model()


def forget_model() -> None:
    """Drop the cached model (after restoring a database, or between tests)."""
    _CACHE.forget()


def predict_for(site: Site, role: str, case_type: str, recipient: Organisation | None = None) -> Prediction:
    """Prediction for a request in ``role`` about ``site``, from the model of the current database."""
    return current_model().predict(query_for(site, role, case_type, recipient))
