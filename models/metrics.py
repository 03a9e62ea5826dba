"""Verification scores for PM2.5 forecasts (``docs/domain.md`` §5), pure functions on arrays.

Conventions:

* ``obs`` and ``fc`` are same-shaped arrays of **daily mean PM2.5 [µg/m³]** (any shape; they are
  flattened). A pair with a NaN on either side is dropped before scoring. Scores of an empty
  set of pairs are NaN (never 0).
* An *event* is "value **>** threshold" (strictly above: 150 µg/m³ exactly is not an event), as
  in "AQI > 200 ⇔ PM2.5 > 150 µg/m³".
* CSI, POD and FAR are NaN when undefined (a zero denominator), not 0 or 1: a block with no
  event observed and none forecast says nothing about CSI. To aggregate over blocks, add the
  :class:`Contingency` tables (``a + b``) and score the sum; never average ratios.
* Scores are returned as Python ``float`` / ``int`` so that the dicts go straight to JSON
  (the caller decides how to write NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecast.aqi import CATEGORIES, DEFAULT_STANDARD, Standard, aqi

#: Daily PM2.5 thresholds scored by :func:`score_block` [µg/m³] (``model.exceedance_thresholds``).
THRESHOLDS: Final = (75.0, 115.0, 150.0, 250.0)
#: The threshold of the heavy-pollution day (AQI > 200) used for POD, FAR and Brier [µg/m³].
HEAVY_THRESHOLD: Final = 150.0
#: Warning levels in increasing severity; ints 0..4 mean the same.
WARNING_LEVELS: Final = ("none", "blue", "yellow", "orange", "red")

FloatArray = npt.NDArray[np.float64]


def _as_float(x: npt.ArrayLike, what: str) -> FloatArray:
    try:
        return np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected numbers, got {type(x).__name__}") from None


def valid_pairs(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """The flattened pairs of ``a`` and ``b`` where both are finite-or-inf numbers (not NaN)."""
    x, y = _as_float(a, "first array"), _as_float(b, "second array")
    if x.shape != y.shape:
        raise ValueError(f"arrays of different sizes: {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def common_valid(*arrays: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where every array is non-NaN: mask the forecasters with it to score them all on the
    same days (the model and the baselines are always compared on identical days)."""
    if not arrays:
        raise ValueError("common_valid needs at least one array")
    flat = [_as_float(a, f"array {i}") for i, a in enumerate(arrays)]
    if len({f.size for f in flat}) != 1:
        raise ValueError(f"arrays of different sizes: {[f.size for f in flat]}")
    return np.logical_and.reduce([~np.isnan(f) for f in flat])


# --------------------------------------------------------------------------------------------
# continuous scores


def rmse(obs: npt.ArrayLike, fc: npt.ArrayLike) -> float:
    """Root-mean-square error sqrt(mean((fc − obs)²)) [µg/m³]; NaN pairs dropped."""
    o, f = valid_pairs(obs, fc)
    return float(np.sqrt(np.mean((f - o) ** 2))) if o.size else float("nan")


def mae(obs: npt.ArrayLike, fc: npt.ArrayLike) -> float:
    """Mean absolute error mean(|fc − obs|) [µg/m³]; NaN pairs dropped."""
    o, f = valid_pairs(obs, fc)
    return float(np.mean(np.abs(f - o))) if o.size else float("nan")


def bias(obs: npt.ArrayLike, fc: npt.ArrayLike) -> float:
    """Mean error mean(fc − obs) [µg/m³]: positive = over-forecast; NaN pairs dropped."""
    o, f = valid_pairs(obs, fc)
    return float(np.mean(f - o)) if o.size else float("nan")


# --------------------------------------------------------------------------------------------
# categorical scores


class Contingency(NamedTuple):
    """2×2 table of the event "value > threshold" (counts of valid pairs)."""

    hits: int
    misses: int
    false_alarms: int
    correct_negatives: int

    @property
    def n(self) -> int:
        return self.hits + self.misses + self.false_alarms + self.correct_negatives

    def __add__(self, other: object) -> Contingency:
        """Element-wise sum (pooling two blocks), not tuple concatenation."""
        if not isinstance(other, Contingency):
            return NotImplemented
        return Contingency(*(int(a) + int(b) for a, b in zip(self, other, strict=True)))


def contingency(obs: npt.ArrayLike, fc: npt.ArrayLike, threshold: float) -> Contingency:
    """Hits, misses, false alarms and correct negatives for the event "value > threshold"
    [threshold in µg/m³]; NaN pairs dropped."""
    o, f = valid_pairs(obs, fc)
    eo, ef = o > threshold, f > threshold
    return Contingency(
        hits=int(np.sum(eo & ef)),
        misses=int(np.sum(eo & ~ef)),
        false_alarms=int(np.sum(~eo & ef)),
        correct_negatives=int(np.sum(~eo & ~ef)),
    )


def _ratio(num: int, den: int) -> float:
    return float(num) / den if den > 0 else float("nan")


def csi(table: Contingency) -> float:
    """Critical success index (threat score, TS) H / (H + M + F), in [0, 1].

    NaN when H + M + F = 0 (no event observed or forecast)."""
    return _ratio(table.hits, table.hits + table.misses + table.false_alarms)


def pod(table: Contingency) -> float:
    """Probability of detection H / (H + M), in [0, 1]. NaN when no event was observed."""
    return _ratio(table.hits, table.hits + table.misses)


def far(table: Contingency) -> float:
    """False alarm ratio F / (H + F), in [0, 1]. NaN when no event was forecast."""
    return _ratio(table.false_alarms, table.hits + table.false_alarms)


def aqi_category_index(pm25: npt.ArrayLike, standard: Standard = DEFAULT_STANDARD) -> FloatArray:
    """AQI category 0..5 (I 优 … VI 严重污染) of daily PM2.5 [µg/m³] by ``standard``; NaN kept.

    The AQI is computed from PM2.5 alone (:func:`forecast.aqi.aqi`); a category upper bound
    (50, 100, 150, 200, 300) belongs to its own category, as in HJ 633.
    """
    a = aqi(np.asarray(pm25, dtype=np.float64), standard=standard)
    upper = np.array([c.aqi_max for c in CATEGORIES[:-1]], dtype=np.float64)
    idx = np.searchsorted(upper, a, side="left").astype(np.float64)
    return np.where(np.isnan(a), np.nan, idx)


def aqi_category_accuracy(
    obs_pm25: npt.ArrayLike, fc_pm25: npt.ArrayLike, standard: Standard = DEFAULT_STANDARD
) -> float:
    """Share of valid pairs whose forecast AQI category equals the observed one, in [0, 1].

    Both arrays are daily mean PM2.5 [µg/m³]; categories by :func:`aqi_category_index`.
    Negative *forecasts* (a linear model can make them) are clipped to 0 µg/m³ first; negative
    observations are an error. NaN when there is no valid pair.
    """
    o, f = valid_pairs(obs_pm25, fc_pm25)
    if not o.size:
        return float("nan")
    co = aqi_category_index(o, standard)
    cf = aqi_category_index(np.clip(f, 0.0, None), standard)
    return float(np.mean(co == cf))


def _levels(values: npt.ArrayLike | Sequence[Any], what: str) -> FloatArray:
    """Warning levels as 0..4 floats (NaN = missing) from names or integers."""
    arr = np.asarray(values, dtype=object).ravel()
    out = np.full(arr.size, np.nan)
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, float | np.floating) and np.isnan(v)):
            continue
        if isinstance(v, str):
            key = v.strip().lower()
            if key not in WARNING_LEVELS:
                raise ValueError(f"{what}: unknown warning level {v!r}; valid: {WARNING_LEVELS}")
            out[i] = WARNING_LEVELS.index(key)
        else:
            level = float(v)
            if level not in range(len(WARNING_LEVELS)):
                raise ValueError(f"{what}: warning level must be 0..4, got {v!r}")
            out[i] = level
    return out


def warning_level_hit_rate(
    obs_levels: npt.ArrayLike | Sequence[Any],
    fc_levels: npt.ArrayLike | Sequence[Any],
    *,
    exact: bool = True,
) -> float:
    """Share of the days with an observed warning (level above "none") that the forecast got.

    Levels are names (``none, blue, yellow, orange, red``) or integers 0..4; ``None`` / NaN are
    missing and dropped. A hit is the same level (``exact=True``) or at least the observed level
    (``exact=False``: the warning protected). Days with no observed warning are not counted
    (false alarms are scored by :func:`far`). NaN when no warning day was observed.
    """
    o, f = valid_pairs(_levels(obs_levels, "obs_levels"), _levels(fc_levels, "fc_levels"))
    warned = o > 0
    if not warned.any():
        return float("nan")
    hit = (f[warned] == o[warned]) if exact else (f[warned] >= o[warned])
    return float(np.mean(hit))


# --------------------------------------------------------------------------------------------
# probabilities


def _prob_pairs(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    p, o = valid_pairs(prob, outcome)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    if np.any((o != 0) & (o != 1)):
        raise ValueError("outcomes must be 0/1 (or False/True); NaN for missing")
    return p, o


def brier_score(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """Brier score mean((p − o)²) of event probabilities ``prob`` in [0, 1] against outcomes
    0/1 (dimensionless, 0 is perfect). NaN pairs dropped; NaN when none is left."""
    p, o = _prob_pairs(prob, outcome)
    return float(np.mean((p - o) ** 2)) if p.size else float("nan")


def reliability_table(
    prob: npt.ArrayLike, outcome: npt.ArrayLike, bins: int | Sequence[float] = 10
) -> pd.DataFrame:
    """Reliability (calibration) table of event probabilities against 0/1 outcomes.

    ``bins`` is a number of equal-width bins on [0, 1] or the increasing edges (first 0, last
    1). Bin ``i`` holds ``edges[i] <= p < edges[i+1]``; the last bin also holds ``p == 1``.
    Columns: ``bin`` (0-based), ``lower``, ``upper``, ``mean_forecast`` (mean probability in the
    bin), ``observed_frequency`` (share of events), ``count``. Every bin has a row; empty bins
    have count 0 and NaN means.
    """
    if isinstance(bins, int):
        if bins < 1:
            raise ValueError(f"bins must be ≥ 1, got {bins}")
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.size < 2 or edges[0] != 0 or edges[-1] != 1 or np.any(np.diff(edges) <= 0):
            raise ValueError("bin edges must increase strictly from 0 to 1")
    p, o = _prob_pairs(prob, outcome)
    nbin = edges.size - 1
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, nbin - 1)
    count = np.bincount(idx, minlength=nbin)
    sum_p = np.bincount(idx, weights=p, minlength=nbin)
    sum_o = np.bincount(idx, weights=o, minlength=nbin)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(count > 0, sum_p / count, np.nan)
        freq = np.where(count > 0, sum_o / count, np.nan)
    return pd.DataFrame(
        {
            "bin": np.arange(nbin),
            "lower": edges[:-1],
            "upper": edges[1:],
            "mean_forecast": mean_p,
            "observed_frequency": freq,
            "count": count.astype(np.int64),
        }
    )


# --------------------------------------------------------------------------------------------
# one block of the back-test


def _key(threshold: float) -> str:
    return f"{threshold:g}".replace(".", "p")


def score_block(
    obs: npt.ArrayLike,
    fc: npt.ArrayLike,
    prob150: npt.ArrayLike | None = None,
    *,
    thresholds: Sequence[float] = THRESHOLDS,
) -> dict[str, float | int]:
    """The scores of one city × lead × forecaster block of daily PM2.5 [µg/m³].

    Keys: ``n`` (valid pairs), ``rmse``, ``mae``, ``bias`` [µg/m³], ``csi_<t>`` for every
    threshold (default 75, 115, 150, 250), ``pod_150``, ``far_150``,
    ``aqi_category_accuracy`` (AQI from PM2.5 alone, HJ 633), and ``brier_150`` when
    ``prob150`` (the forecast probability of daily PM2.5 > 150 µg/m³) is given — scored on the
    days where ``obs`` and ``prob150`` are valid. Undefined scores are NaN.
    """
    o, f = valid_pairs(obs, fc)
    out: dict[str, float | int] = {
        "n": int(o.size),
        "rmse": rmse(o, f),
        "mae": mae(o, f),
        "bias": bias(o, f),
    }
    for t in thresholds:
        out[f"csi_{_key(t)}"] = csi(contingency(o, f, t))
    heavy = contingency(o, f, HEAVY_THRESHOLD)
    out["pod_150"] = pod(heavy)
    out["far_150"] = far(heavy)
    out["aqi_category_accuracy"] = aqi_category_accuracy(o, f)
    if prob150 is not None:
        ob, pb = valid_pairs(obs, prob150)
        out["brier_150"] = brier_score(pb, (ob > HEAVY_THRESHOLD).astype(np.float64))
    return out
