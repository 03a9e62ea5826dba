"""Probability of each warning level from quantile forecasts of daily PM2.5, and CAP certainty.

Distribution of one day's PM2.5 from its quantiles (p10, p50, p90, …)
    The CDF is **piecewise linear through the quantile points** (q_i, x_i). Tails:

    * below the lowest quantile, linear from F(0) = 0 (concentrations are ≥ 0) to (q_1, x_1);
    * above the highest quantile, an **exponential tail**
      F(x) = 1 − (1 − q_k)·exp(−(x − x_k)/λ), with λ chosen so that the density is continuous
      at x_k: λ = (1 − q_k)(x_k − x_{k−1})/(q_k − q_{k−1}). A flat top segment (λ = 0) puts no
      mass above x_k.

    :func:`cdf_from_quantiles` and :func:`ppf_from_quantiles` are exact inverses.

Probability of a warning level over the horizon
    The rules chain several days, so per-day probabilities are not enough: the days are
    assumed **comonotone** (forecast errors fully correlated from day to day, as when the
    depth of an inversion is misforecast for the whole episode). Scenario u ∈ (0, 1) takes
    every day at its quantile u; its PM2.5 → AQI (PM2.5 only, HJ 633 ``standard``) → level.
    Levels are monotone in u, so P(level ≥ L) = 1 − u*_L with u*_L the smallest u reaching L,
    found by bisection to ``tol``. (Independent days would give lower probabilities for
    multi-day conditions; the comonotone choice is the cautious one for warnings.)

CAP certainty (:func:`cap_certainty`)
    ``Observed`` when the level is already observed; else by P(level ≥ L):
    ≥ 0.5 ``Likely``, ≥ 0.2 ``Possible``, otherwise ``Unlikely`` (thresholds are parameters).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecast.aqi import DEFAULT_STANDARD, Standard, aqi
from forecast.warnings.evaluate import DEFAULT_MERGE_GAP_DAYS, evaluate_daily
from forecast.warnings.rules import LEVELS, Level, RuleSet, get_rule_set, level_rank

Certainty = Literal["Observed", "Likely", "Possible", "Unlikely"]
#: Default probability thresholds of the CAP certainty classes.
LIKELY_AT: Final = 0.5
POSSIBLE_AT: Final = 0.2


def _quantile_arrays(
    levels: npt.ArrayLike, values: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    q = np.asarray(levels, dtype=np.float64).ravel()
    x = np.asarray(values, dtype=np.float64).ravel()
    if len(q) != len(x) or len(q) < 2:
        raise ValueError(
            f"need at least 2 quantiles with one value each, got levels {q.tolist()} and "
            f"values {x.tolist()}"
        )
    if not np.all((q > 0) & (q < 1)) or np.any(np.diff(q) <= 0):
        raise ValueError(f"quantile levels must increase strictly within (0, 1), got {q.tolist()}")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"quantile values must be finite concentrations ≥ 0, got {x.tolist()}")
    if np.any(np.diff(x) < 0):
        raise ValueError(f"quantile values must not decrease (crossing quantiles): {x.tolist()}")
    return q, x


def _tail_scale(q: npt.NDArray[np.float64], x: npt.NDArray[np.float64]) -> float:
    return float((1 - q[-1]) * (x[-1] - x[-2]) / (q[-1] - q[-2]))


def cdf_from_quantiles(
    concentration: npt.ArrayLike, levels: npt.ArrayLike, values: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """P(PM2.5 ≤ c) from quantiles (``levels`` q_i, ``values`` x_i); see the module notes."""
    q, x = _quantile_arrays(levels, values)
    c = np.asarray(concentration, dtype=np.float64)
    lam = _tail_scale(q, x)
    out = np.empty_like(c)
    flat = c.ravel()
    res = out.ravel()
    for i, v in enumerate(flat):
        if math.isnan(v):
            res[i] = np.nan
        elif v < 0:
            res[i] = 0.0
        elif v < x[0]:
            res[i] = q[0] * v / x[0]
        elif v >= x[-1]:
            res[i] = 1.0 - (1 - q[-1]) * (math.exp(-(v - x[-1]) / lam) if lam > 0 else 0.0)
            if v == x[-1]:
                res[i] = q[-1]
        else:
            k = int(np.searchsorted(x, v, side="right")) - 1  # x[k] <= v < x[k+1]
            res[i] = q[k] + (q[k + 1] - q[k]) * (v - x[k]) / (x[k + 1] - x[k])
    return out.reshape(c.shape)


def ppf_from_quantiles(
    probability: npt.ArrayLike, levels: npt.ArrayLike, values: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The concentration at quantile u (inverse of :func:`cdf_from_quantiles`)."""
    q, x = _quantile_arrays(levels, values)
    u = np.asarray(probability, dtype=np.float64)
    if np.any((u < 0) | (u > 1)):
        raise ValueError(f"probabilities must be within 0–1, got {u}")
    lam = _tail_scale(q, x)
    inner = np.interp(u, q, x)
    low = u / q[0] * x[0]
    with np.errstate(divide="ignore"):
        high = x[-1] - lam * np.log((1 - u) / (1 - q[-1]))
    return np.where(u < q[0], low, np.where(u > q[-1], high, inner))


def exceedance_probability(threshold: float, levels: npt.ArrayLike, values: npt.ArrayLike) -> float:
    """P(PM2.5 > threshold) for one day."""
    return float(1.0 - cdf_from_quantiles(threshold, levels, values))


@dataclass(frozen=True)
class LevelProbabilities:
    """Probabilities of the warning levels over a forecast horizon."""

    #: P(level ≥ L) for every level ("none" is 1).
    at_least: dict[Level, float]
    #: P(level = L).
    exactly: dict[Level, float]
    #: the level of the median scenario (u = 0.5).
    median_level: Level
    #: per day P(PM2.5 > threshold) for each threshold asked.
    daily_exceedance: pd.DataFrame
    rule_set: str

    def most_likely(self) -> Level:
        return max(LEVELS, key=lambda lv: (self.exactly[lv], level_rank(lv)))


def level_probabilities(
    quantiles: Mapping[float, npt.ArrayLike],
    start: date | datetime | str | pd.Timestamp,
    *,
    rules: RuleSet | str = "2024",
    standard: Standard = DEFAULT_STANDARD,
    merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS,
    thresholds: tuple[float, ...] = (75.0, 115.0, 150.0, 250.0),
    tol: float = 1e-4,
) -> LevelProbabilities:
    """P(each warning level) from daily PM2.5 quantile forecasts (comonotone days).

    ``quantiles`` maps a quantile level (e.g. 0.1, 0.5, 0.9) to the PM2.5 [µg/m³] of each
    forecast day starting on the Beijing date ``start``.
    """
    rule_set = rules if isinstance(rules, RuleSet) else get_rule_set(str(rules))
    if not quantiles:
        raise ValueError("quantiles: need at least p10, p50 and p90 per day, got none")
    levels_q = sorted(float(k) for k in quantiles)
    table = np.vstack(
        [np.asarray(quantiles[k], dtype=np.float64).ravel() for k in sorted(quantiles)]
    )
    n_days = table.shape[1]
    for d in range(n_days):
        _quantile_arrays(levels_q, table[:, d])  # validate every day up front

    def pm25_at(u: float) -> npt.NDArray[np.float64]:
        return np.array(
            [float(ppf_from_quantiles(u, levels_q, table[:, d])) for d in range(n_days)]
        )

    def level_at(u: float) -> int:
        values = aqi(pm25_at(u), None, standard)
        decision = evaluate_daily(values, start, rules=rule_set, merge_gap_days=merge_gap_days)
        return level_rank(decision.level)

    lo_u, hi_u = tol / 10, 1 - tol / 10
    at_least: dict[Level, float] = {"none": 1.0}
    for level in LEVELS[1:]:
        rank = level_rank(level)
        if level_at(hi_u) < rank:
            at_least[level] = 0.0
            continue
        if level_at(lo_u) >= rank:
            at_least[level] = 1.0
            continue
        lo, hi = lo_u, hi_u  # level(lo) < rank <= level(hi)
        while hi - lo > tol:
            mid = (lo + hi) / 2
            if level_at(mid) >= rank:
                hi = mid
            else:
                lo = mid
        at_least[level] = round(1.0 - (lo + hi) / 2, 6)
    exactly: dict[Level, float] = {}
    for i, level in enumerate(LEVELS):
        above = at_least[LEVELS[i + 1]] if i + 1 < len(LEVELS) else 0.0
        exactly[level] = round(max(at_least[level] - above, 0.0), 6)
    first = pd.Timestamp(start).normalize()
    daily = pd.DataFrame(
        {
            f"p_gt_{t:g}": [exceedance_probability(t, levels_q, table[:, d]) for d in range(n_days)]
            for t in thresholds
        },
        index=pd.date_range(first, periods=n_days, freq="D", name="date"),
    )
    return LevelProbabilities(at_least, exactly, LEVELS[level_at(0.5)], daily, rule_set.name)


def cap_certainty(
    probability: float,
    *,
    observed: bool = False,
    likely: float = LIKELY_AT,
    possible: float = POSSIBLE_AT,
) -> Certainty:
    """CAP 1.2 ``certainty`` of a warning whose level has probability ``probability``.

    Observed (already happening) > Likely (p ≥ ``likely``, 0.5) > Possible (p ≥ ``possible``,
    0.2) > Unlikely.
    """
    if not 0 <= possible <= likely <= 1:
        raise ValueError(
            f"need 0 ≤ possible ≤ likely ≤ 1, got possible={possible}, likely={likely}"
        )
    if not (isinstance(probability, int | float) and 0 <= probability <= 1):
        raise ValueError(f"probability must be within 0–1, got {probability!r}")
    if observed:
        return "Observed"
    if probability >= likely:
        return "Likely"
    if probability >= possible:
        return "Possible"
    return "Unlikely"


def exceedance_probabilities(
    threshold: float, levels: npt.ArrayLike, values: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """P(PM2.5 > ``threshold``) for many rows of quantiles at once (``values``: (n, n_levels)).

    The same distribution as :func:`cdf_from_quantiles` (linear between quantiles, linear from
    0 below the first, exponential above the last), vectorised over rows; a row with any NaN
    gives NaN. Quantile values must not decrease along a row.
    """
    q = np.asarray(levels, dtype=np.float64)
    x = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if x.shape[1] != len(q) or len(q) < 2:
        raise ValueError(f"values need one column per level {q.tolist()}, got shape {x.shape}")
    bad: npt.NDArray[np.bool_] = np.asarray(np.isnan(x).any(axis=1))
    xs = np.where(bad[:, None], 1.0, x)
    if np.any(np.diff(xs, axis=1) < 0):
        raise ValueError("quantile values must not decrease along a row (crossing quantiles)")
    c = float(threshold)
    below_first = c < xs[:, 0]
    cdf = np.empty(len(xs))
    # Every branch is computed for every row and the right one chosen: silence the others.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cdf[below_first] = q[0] * c / xs[below_first, 0]
        k = np.clip((xs <= c).sum(axis=1) - 1, 0, len(q) - 2)
        rows = np.arange(len(xs))
        x0, x1 = xs[rows, k], xs[rows, k + 1]
        inner = q[k] + (q[k + 1] - q[k]) * np.where(x1 > x0, (c - x0) / (x1 - x0), 1.0)
        lam = (1 - q[-1]) * (xs[:, -1] - xs[:, -2]) / (q[-1] - q[-2])
        upper = 1.0 - (1 - q[-1]) * np.where(lam > 0, np.exp(-(c - xs[:, -1]) / lam), 0.0)
    above_last = c >= xs[:, -1]
    middle = ~below_first & ~above_last
    cdf[middle] = inner[middle]
    cdf[above_last] = np.where(c == xs[above_last, -1], q[-1], upper[above_last])
    return np.where(bad, np.nan, 1.0 - np.clip(cdf, 0.0, 1.0))
