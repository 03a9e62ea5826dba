"""Per-city LightGBM forecasts of PM2.5 at every lead, with quantiles and a heavy-day rule.

Design (see ``docs/models.md`` for the back-tests behind the choices):

- **direct multi-horizon, lead as a feature**: one model per city and target for all leads (the
  lead in hours is a feature; meteorology and calendar are taken at each row's valid time), so
  that every lead learns from all rows — heavy days are too rare to split across lead bands;
- **relative to persistence** (``model.target_transform = "persistence"``, the default): the
  boosters learn the change from the value known at the issue time — the difference for the
  mean, the log ratio ``log1p(y) − log1p(y₀)`` for the quantiles — because trees cannot
  extrapolate beyond their training range and a winter worse than any in training (2015-16 in
  Urumqi: test mean 120 vs training mean 63 µg/m³) is then forecast as "like now, changing as
  the weather says"; ``"log1p"`` and ``"none"`` learn the concentration itself. The base y₀ is
  the value at the issue time (lag 0), else the shortest EWM; rows without either get no
  forecast;
- **point forecast**: a Huber model (``model.mean_objective``; squared error within 30 µg/m³)
  with heavy rows (> 150 µg/m³) weighted ``model.heavy_weight`` — a mean-seeking model
  under-forecasts rare heavy days, the weight counters that;
- **quantiles** p10/p50/p90: LightGBM quantile objectives (monotone transforms keep quantiles
  exact), made non-crossing by sorting each row (rearrangement, Chernozhukov et al. 2010);
- **exceedance probabilities** of 75, 115, 150, 250 µg/m³ from the quantiles
  (:func:`forecast.warnings.probability.exceedance_probabilities`);
- **heavy-day decision**: "daily PM2.5 > 150" is forecast when P(> 150) ≥ ``heavy_prob_threshold``,
  tuned on the last training winter to maximise the critical success index — not the median.

All LightGBM runs use ``deterministic=True`` with fixed seeds: same data, same model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from features.build import build_feature_matrix, time_step_hours
from features.config import FeatureConfig
from forecast.config import Config
from forecast.timeutil import utc_to_beijing
from forecast.warnings.probability import exceedance_probabilities
from models.metrics import contingency, csi

FloatArray = npt.NDArray[np.float64]

#: LightGBM defaults of the engine (overridden by ``model.params``).
DEFAULT_PARAMS: dict[str, float | int | str] = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 30,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 7,
    "verbose": -1,
}
HEAVY = 150.0
EXCEEDANCE_THRESHOLDS = (75.0, 115.0, 150.0, 250.0)
#: Hourly training rows: every this many lead hours (all leads are predicted).
HOURLY_TRAIN_LEAD_STRIDE = 3


def quantile_name(q: float) -> str:
    return f"q{round(q * 100):02d}"


@dataclass(frozen=True)
class Setup:
    """How a dataset is cut into issue times, leads and features."""

    step_hours: float
    leads_h: tuple[float, ...]
    train_leads_h: tuple[float, ...]
    features: FeatureConfig
    horizon_days: int
    issue_hour_beijing: int

    @property
    def daily(self) -> bool:
        return self.step_hours == 24.0


def met_variables(ds: xr.Dataset, config: Config) -> tuple[str, ...]:
    """Predictors from the weather: ``model.met_vars`` or every non-PM variable present."""
    if config.model.met_vars is not None:
        missing = [v for v in config.model.met_vars if v not in ds.data_vars]
        if missing:
            raise ValueError(f"model.met_vars not in the training data: {', '.join(missing)}")
        return tuple(config.model.met_vars)
    pollutants = {"pm25", "pm10", "so2", "no2", "co", "o3", "o3_8h", "aqi"}
    return tuple(
        str(v)
        for v in ds.data_vars
        if v not in pollutants
        and ds[v].dtype.kind == "f"
        and not str(v).endswith("_code")
        and {"site", "time"} >= set(ds[v].dims)
        and "time" in ds[v].dims
    )


def setup_for(ds: xr.Dataset, config: Config) -> Setup:
    step = time_step_hours(ds)
    horizon = config.model.horizon_days
    met = met_variables(ds, config)
    if step == 24.0:
        leads = tuple(24.0 * d for d in range(1, horizon + 1))
        features = FeatureConfig.daily()
        train_leads = leads
    elif step == 1.0:
        # Issued at HH Beijing time on day D: leads reach the end of day D + horizon.
        last = 24 * (horizon + 1) - config.model.issue_hour_beijing - 1
        leads = tuple(float(h) for h in range(1, last + 1))
        train_leads = tuple(float(h) for h in range(1, last + 1, HOURLY_TRAIN_LEAD_STRIDE))
        features = FeatureConfig.hourly()
    else:
        raise ValueError(f"models need hourly or daily data, got a {step:g} h step")
    # Lag 0 — the newest value known at the issue time — is the persistence forecast itself.
    lags = (0.0, *features.lags_h) if 0 not in features.lags_h else features.lags_h
    features = dataclasses.replace(features, met_vars=met, lags_h=lags)
    return Setup(step, leads, train_leads, features, horizon, config.model.issue_hour_beijing)


def issue_times(ds: xr.Dataset, setup: Setup) -> pd.DatetimeIndex:
    """Every day (daily data) or every day at the issue hour, Beijing time (hourly data)."""
    times = pd.DatetimeIndex(ds.indexes["time"])
    if setup.daily:
        return times
    return times[utc_to_beijing(times).hour == setup.issue_hour_beijing]


def targets(ds: xr.Dataset, index: pd.DataFrame) -> FloatArray:
    """PM2.5 [µg/m³] at each row's (site, valid time); NaN beyond the data."""
    pm = ds["pm25"].transpose("site", "time")
    sites = pd.Index(pm["site"].values).get_indexer(index["site"])
    times = pd.DatetimeIndex(pm.indexes["time"]).get_indexer(pd.DatetimeIndex(index["valid_time"]))
    values = pm.values
    out = np.full(len(index), np.nan)
    ok = (sites >= 0) & (times >= 0)
    out[ok] = values[sites[ok], times[ok]]
    return out


#: City descriptors added to every row so that a pooled model can tell cities apart.
DESCRIPTORS = ("city_lon", "city_lat")


def build(
    ds: xr.Dataset, setup: Setup, issues: pd.DatetimeIndex, leads: Sequence[float]
) -> tuple[npt.NDArray[np.float32], pd.DataFrame, list[str], FloatArray]:
    """Features (+ city descriptors [degrees]) and targets [µg/m³] of every site's rows."""
    X, index, names = build_feature_matrix(ds, issues, leads, config=setup.features)
    lon = pd.Series(ds["lon"].values, index=ds["site"].values) if "lon" in ds.coords else None
    lat = pd.Series(ds["lat"].values, index=ds["site"].values) if "lat" in ds.coords else None
    extra = np.column_stack(
        [
            (s.reindex(index["site"]).to_numpy() if s is not None else np.full(len(index), np.nan))
            for s in (lon, lat)
        ]
    ).astype(np.float32)
    X = np.ascontiguousarray(np.hstack([X, extra]))
    return X, index, [*names, *DESCRIPTORS], targets(ds, index)


def band_members(band: int | None, quantiles: Sequence[float]) -> tuple[str, list[str]]:
    """Booster member names of one lead band — the point model's and the quantiles' — with
    the band's prefix (``None``: the single set for every lead)."""
    names = ["mean", *(quantile_name(q) for q in quantiles)]
    if band is not None:
        names = [f"band{band}-{n}" for n in names]
    return names[0], names[1:]


def lead_band_index(lead_h: FloatArray, edges_h: Sequence[float]) -> npt.NDArray[np.int64]:
    """The lead band of each row: 0 up to ``edges_h[0]`` [h], …, ``len(edges_h)`` beyond."""
    return np.searchsorted(np.asarray(edges_h, dtype=np.float64), lead_h, side="left")


def row_bands(
    X: npt.NDArray[np.float32], names: Sequence[str], edges_h: Sequence[float]
) -> npt.NDArray[np.int64]:
    """The lead band of each feature row (from its ``lead_h`` column)."""
    return lead_band_index(X[:, list(names).index("lead_h")].astype(np.float64), edges_h)


def target_base(
    transform: str, X: npt.NDArray[np.float32], names: Sequence[str]
) -> FloatArray | None:
    """What the boosters learn the change from: y₀ for ``"persistence"``, else nothing."""
    return persistence_base(X, names) if transform == "persistence" else None


@dataclass
class CityModel:
    """The trained boosters of one city and what is needed to use them.

    With lead bands (``band_edges_h`` non-empty) the boosters are named ``band<k>-mean``,
    ``band<k>-q10`` …, and each row is predicted by its band's boosters.
    """

    city: str
    boosters: dict[str, lgb.Booster]
    feature_names: list[str]
    quantiles: tuple[float, ...]
    transform: str
    heavy_prob_threshold: float = 0.5
    info: dict[str, object] = field(default_factory=dict)
    band_edges_h: tuple[float, ...] = ()

    @classmethod
    def from_registry(cls, city: str, boosters: Mapping[str, lgb.Booster], card: Any) -> CityModel:
        """The model of a loaded registry version (its :class:`models.registry.ModelCard`)."""
        params = card.params
        return cls(
            city,
            dict(boosters),
            list(card.feature_names),
            tuple(card.quantiles),
            str(card.target_transform),
            float(params.get("heavy_prob_threshold", 0.5)),
            band_edges_h=tuple(float(h) for h in params.get("lead_band_edges_h", ())),
        )

    def _raw(self, X: npt.NDArray[np.float32], band: int | None) -> tuple[FloatArray, FloatArray]:
        mean_name, q_names = band_members(band, self.quantiles)
        mean = self.boosters[mean_name].predict(X)
        qs = np.column_stack([self.boosters[n].predict(X) for n in q_names])
        return np.asarray(mean, dtype=np.float64), np.asarray(qs, dtype=np.float64)

    def predict(self, X: npt.NDArray[np.float32]) -> dict[str, FloatArray]:
        """``mean`` and one array per quantile (``q10`` …) [µg/m³], quantiles non-crossing."""
        if not self.band_edges_h:
            mean, qs = self._raw(X, None)
        else:
            band = row_bands(X, self.feature_names, self.band_edges_h)
            mean = np.full(len(X), np.nan)
            qs = np.full((len(X), len(self.quantiles)), np.nan)
            for k in np.unique(band):
                rows = np.flatnonzero(band == k)
                mean[rows], qs[rows] = self._raw(np.ascontiguousarray(X[rows]), int(k))
        if self.transform == "persistence":
            base = persistence_base(X, self.feature_names)
            mean = base + mean
            qs = np.expm1(np.log1p(base)[:, None] + qs)
        elif self.transform == "log1p":
            qs = np.expm1(qs)
        out = {"mean": np.clip(mean, 0.0, None)}
        qs = np.sort(np.clip(qs, 0.0, None), axis=1)
        for j, q in enumerate(self.quantiles):
            out[quantile_name(q)] = qs[:, j]
        return out


def persistence_base(X: npt.NDArray[np.float32], names: Sequence[str]) -> FloatArray:
    """y₀ per row [µg/m³]: PM2.5 at the issue time (lag 0), else the shortest-half-life EWM."""
    base = X[:, names.index("pm25_lag_0h")].astype(np.float64)
    ewm = [i for i, n in enumerate(names) if n.startswith("pm25_ewm_")]
    if ewm:
        base = np.where(np.isnan(base), X[:, ewm[0]], base)
    return np.clip(base, 0.0, None)


def _fit(
    X: npt.NDArray[np.float32],
    y: FloatArray,
    w: FloatArray,
    names: list[str],
    params: Mapping[str, object],
    rounds: int,
) -> lgb.Booster:
    data = lgb.Dataset(
        X, label=y, weight=w, feature_name=names, free_raw_data=True, params={"verbose": -1}
    )
    return lgb.train(dict(params), data, num_boost_round=rounds)


def train_city(
    city: str, X: npt.NDArray[np.float32], y: FloatArray, names: list[str], config: Config
) -> CityModel:
    """Train the point and quantile boosters of one city on rows with a valid target.

    With ``model.lead_bands_days`` each lead band gets its own boosters, trained on its rows.
    """
    ok = np.isfinite(y)
    if ok.sum() < 50:
        raise ValueError(f"{city}: only {int(ok.sum())} training rows with a valid target")
    transform = config.model.target_transform
    if transform == "persistence":
        ok &= np.isfinite(persistence_base(X, names))
    Xo, yo = np.ascontiguousarray(X[ok]), y[ok]
    edges = tuple(24.0 * d for d in config.model.lead_bands_days or ())
    boosters: dict[str, lgb.Booster] = {}
    if not edges:
        boosters.update(_fit_set(Xo, yo, names, config, None))
    else:
        band = row_bands(Xo, names, edges)
        for k in range(len(edges) + 1):
            rows = band == k
            if rows.sum() < 50:
                raise ValueError(
                    f"{city}: lead band {k} (edges {list(config.model.lead_bands_days or ())} "
                    f"days) has only {int(rows.sum())} training rows; widen the bands"
                )
            boosters.update(_fit_set(np.ascontiguousarray(Xo[rows]), yo[rows], names, config, k))
    return CityModel(
        city,
        boosters,
        names,
        tuple(config.model.quantiles),
        transform,
        info={"rows": int(ok.sum()), "heavy_rows": int((yo > HEAVY).sum())},
        band_edges_h=edges,
    )


def _mean_objective(config: Config) -> dict[str, object]:
    """LightGBM objective parameters of the point model (``model.mean_objective``)."""
    kind = config.model.mean_objective
    if kind == "huber":
        return {"objective": "huber", "alpha": config.model.huber_delta}
    return {"objective": "regression_l1" if kind == "l1" else "regression"}


def _fit_set(
    Xo: npt.NDArray[np.float32],
    yo: FloatArray,
    names: list[str],
    config: Config,
    band: int | None,
) -> dict[str, lgb.Booster]:
    """The mean and quantile boosters on rows with a target (and a persistence base)."""
    transform = config.model.target_transform
    weight = np.where(yo > HEAVY, config.model.heavy_weight, 1.0)
    params = {**DEFAULT_PARAMS, **config.model.params}
    rounds = config.model.num_boost_round
    base = target_base(transform, Xo, names)
    if base is None:
        base = np.zeros_like(yo)
    mean_name, q_names = band_members(band, config.model.quantiles)
    boosters = {
        mean_name: _fit(Xo, yo - base, weight, names, {**params, **_mean_objective(config)}, rounds)
    }
    if transform == "persistence":
        yt = np.log1p(yo) - np.log1p(base)
    else:
        yt = np.log1p(yo) if transform == "log1p" else yo
    for name, q in zip(q_names, config.model.quantiles, strict=True):
        boosters[name] = _fit(
            Xo, yt, np.ones_like(yt), names, {**params, "objective": "quantile", "alpha": q}, rounds
        )
    return boosters


def quantile_matrix(pred: Mapping[str, FloatArray], quantiles: Sequence[float]) -> FloatArray:
    return np.column_stack([pred[quantile_name(q)] for q in quantiles])


def exceedance(
    pred: Mapping[str, FloatArray],
    quantiles: Sequence[float],
    thresholds: Sequence[float] = EXCEEDANCE_THRESHOLDS,
) -> dict[float, FloatArray]:
    """P(PM2.5 > t) per row for each threshold ``t`` [µg/m³]."""
    qm = quantile_matrix(pred, quantiles)
    return {t: exceedance_probabilities(t, quantiles, qm) for t in thresholds}


def tune_heavy_threshold(obs: FloatArray, prob: FloatArray) -> float:
    """The P(> 150) cut-off maximising the CSI of heavy days on validation data (0.5 if none)."""
    ok = np.isfinite(obs) & np.isfinite(prob)
    if (obs[ok] > HEAVY).sum() < 3:
        return 0.5
    grid = np.round(np.concatenate([[0.01, 0.02, 0.03, 0.04], np.arange(0.05, 0.951, 0.025)]), 3)
    scores = [csi(contingency(obs[ok], (prob[ok] >= p).astype(float) * 1e9, HEAVY)) for p in grid]
    best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else len(grid) // 2
    return float(grid[best])
