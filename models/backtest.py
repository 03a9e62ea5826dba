"""Back-tests without leakage: per city and lead day, the model beside persistence and climatology.

For a test period ``[start, end]`` (Beijing dates): the model is trained only on rows whose
*target* time is at least the horizon before the first test issue; the heavy-day probability
threshold is tuned on the last year of that training data by an inner split with the same gap;
then every test issue time is forecast. Daily scores compare Beijing-day means: for daily data
lead day ``d`` is the ``d``-th day after the last complete day; for hourly data issued at
``HH`` Beijing time on day D it is day D + d (the mean of the hourly forecasts of that day).

Baselines on exactly the same (site, issue, lead day) cells, and only cells where all of them
have a value are scored: persistence — the last complete day (tomorrow = today) —,
climatology — the training years' mean for the day of year (±15 days; where a city's history
is too short for that season, its mean over all training days, counted in
``climatology_fallback_days``) — and a linear model — ridge regression per lead day on the
same feature rows and training rows as the boosters (:class:`models.baselines.RidgeOnFeatures`).

The model's forecasts are corrected by its recent day-ahead errors (:mod:`models.correction`);
the baselines are not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from forecast.config import Config
from forecast.obs.aggregate import daily_mean
from forecast.timeutil import beijing_to_utc, utc_to_beijing
from models.baselines import Climatology, RidgeOnFeatures
from models.correction import (
    WINDOWS_DAYS,
    Correction,
    correct,
    day_ahead_errors,
    recent_offsets,
    tune_correction,
)
from models.data import load_training_dataset
from models.forecaster import (
    HEAVY,
    CityModel,
    Setup,
    build,
    exceedance,
    issue_times,
    quantile_name,
    setup_for,
    target_base,
    train_city,
    tune_heavy_threshold,
)
from models.metrics import contingency, csi, far, pod, reliability_table, score_block

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str], None]


def _beijing_day(times: pd.DatetimeIndex | pd.Series) -> pd.DatetimeIndex:
    return utc_to_beijing(pd.DatetimeIndex(times)).floor("D")


def observed_daily(ds: xr.Dataset, setup: Setup) -> pd.DataFrame:
    """Daily PM2.5 [µg/m³] per (Beijing day, site): the data itself, or ≥ 20-hour means."""
    daily = ds[["pm25"]] if setup.daily else daily_mean(ds[["pm25"]].assign_attrs(ds.attrs))
    frame = daily["pm25"].transpose("time", "site").to_pandas()
    frame.index = _beijing_day(frame.index)
    frame.attrs["pool_sites"] = list(ds.attrs.get("pool_sites", []))
    return frame


def to_daily(
    index: pd.DataFrame,
    pred: dict[str, FloatArray],
    setup: Setup,
    obs: pd.DataFrame,
) -> pd.DataFrame:
    """Row forecasts → Beijing-day forecasts per lead day (means of hourly rows for hourly data).

    On daily data the issue "time" stands for its whole (complete) day.
    """
    frame = index[["site", "issue_time", "valid_time"]].copy()
    for name, values in pred.items():
        frame[name] = values
    frame["issue_day"] = _beijing_day(frame["issue_time"])
    frame["target_day"] = _beijing_day(frame["valid_time"])
    frame["lead_day"] = ((frame["target_day"] - frame["issue_day"]) / pd.Timedelta(days=1)).astype(
        int
    )
    if not setup.daily:
        frame = frame[frame["lead_day"] >= 1]
        value_cols = [
            c
            for c in frame.columns
            if c not in ("site", "issue_time", "valid_time", "target_day", "issue_day", "lead_day")
        ]
        grouped = frame.groupby(["site", "issue_day", "lead_day", "target_day"])
        counts = grouped["mean"].count()
        frame = grouped[value_cols].mean()[counts >= 20].reset_index()
    stacked = obs.stack(future_stack=True)
    stacked.index.names = ["target_day", "site"]
    frame = frame.join(stacked.rename("obs"), on=["target_day", "site"])
    persist = stacked.rename("persistence")
    persist_day = frame["issue_day"] if setup.daily else frame["issue_day"] - pd.Timedelta(days=1)
    key = pd.MultiIndex.from_arrays([persist_day, frame["site"]])
    frame["persistence"] = persist.reindex(key).to_numpy()
    return frame.reset_index(drop=True)


def _daily_probs(frame: pd.DataFrame, quantiles: tuple[float, ...]) -> None:
    """Add ``p75`` … ``p250``: P(daily PM2.5 > t) from the daily quantiles. For hourly data these
    are the means of the (non-crossing) hourly quantiles: hours taken as comonotonic."""
    columns = {quantile_name(q): frame[quantile_name(q)].to_numpy() for q in quantiles}
    for t, values in exceedance(columns, quantiles).items():
        frame[f"p{t:g}"] = values


def _climatology(obs: pd.DataFrame, train_end_day: pd.Timestamp) -> Climatology:
    train = obs[obs.index <= train_end_day]
    da = xr.DataArray(
        train.T.values,
        dims=("site", "time"),
        coords={
            "site": list(train.columns),
            "time": beijing_to_utc(train.index).astype("datetime64[ns]"),
        },
    )
    return Climatology(window_days=15, min_count=3).fit(da)


#: Bin edges of the reliability table of P(daily PM2.5 > 150) (few heavy days per winter).
RELIABILITY_BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)


def _score_city(frame: pd.DataFrame, threshold: float) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for lead, block in frame.groupby("lead_day"):
        obs = block["obs"].to_numpy()
        same = (
            np.isfinite(obs)
            & np.isfinite(block["persistence"])
            & np.isfinite(block["climatology"])
            & np.isfinite(block["mean"])
            & np.isfinite(block["linear"])
        )
        obs = np.where(same, obs, np.nan)  # every forecaster is scored on the same days
        model = score_block(obs, block["mean"].to_numpy(), block["p150"].to_numpy())
        # The heavy-day forecast is the tuned probability rule, not the point forecast.
        ok = np.isfinite(obs) & np.isfinite(block["p150"].to_numpy())
        decided = np.where(block["p150"].to_numpy()[ok] >= threshold, 1e9, 0.0)
        table = contingency(obs[ok], decided, HEAVY)
        model["csi_150_point"] = model["csi_150"]
        model["csi_150"], model["pod_150"], model["far_150"] = csi(table), pod(table), far(table)
        p150 = block["p150"].to_numpy()
        model["reliability_150"] = reliability_table(
            p150[ok], (obs[ok] > HEAVY).astype(float), RELIABILITY_BINS
        ).to_dict(orient="records")
        out[str(int(lead))] = {
            "model": model,
            "persistence": score_block(obs[same], block["persistence"].to_numpy()[same]),
            "climatology": score_block(obs[same], block["climatology"].to_numpy()[same]),
            "linear": score_block(obs[same], block["linear"].to_numpy()[same]),
        }
    return out


@dataclass(frozen=True)
class Decisions:
    """What is tuned on the validation year: the recent-error correction, then the heavy rule."""

    heavy_prob_threshold: float = 0.5
    correction: Correction = field(default_factory=Correction)


def verified_lag_days(setup: Setup) -> int:
    """Days between an issue day and its newest complete day (0 daily, 1 hourly)."""
    return 0 if setup.daily else 1


def correct_daily(
    frame: pd.DataFrame,
    correction: Correction,
    setup: Setup,
    quantiles: tuple[float, ...],
    *,
    errors_from: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The recent-error correction applied to the mean and quantiles of a daily table."""
    columns = ["mean", *(quantile_name(q) for q in quantiles)]
    return correct(
        frame,
        correction,
        columns,
        verified_lag_days=verified_lag_days(setup),
        errors_from=errors_from,
    )


def tune_decisions(
    config: Config,
    setup: Setup,
    X: npt.NDArray[np.float32],
    index: pd.DataFrame,
    y: FloatArray,
    names: list[str],
    obs: pd.DataFrame,
    gap: pd.Timedelta,
    val_start: pd.Timestamp,
    say: Progress,
    label: str,
) -> Decisions:
    """Tune on the last training year with a model fitted before it (same gap): first the
    recent-error correction (lowest RMSE), then P(> 150) on the corrected forecasts (best CSI).
    """
    has_target = np.isfinite(y)
    inner = np.asarray(pd.DatetimeIndex(index["valid_time"]) + gap <= val_start) & has_target
    val = np.asarray(pd.DatetimeIndex(index["issue_time"]) >= val_start) & has_target
    if inner.sum() <= 200 or val.sum() <= 50:
        return Decisions()
    say(f"{label}: tuning the correction and the heavy-day threshold on the last training year")
    tuner = train_city(label, X[inner], y[inner], names, config)
    vpred = tuner.predict(np.ascontiguousarray(X[val]))
    vdaily = to_daily(index[val].reset_index(drop=True), vpred, setup, obs)
    vdaily = vdaily[(vdaily["lead_day"] >= 1) & (vdaily["lead_day"] <= setup.horizon_days)]
    # Tuned for the forecast cities only (pooled cities teach the model, not the rules).
    pool = set(obs.attrs.get("pool_sites", []))
    vdaily = vdaily[~vdaily["site"].isin(pool)]
    correction = (
        tune_correction(vdaily, verified_lag_days=verified_lag_days(setup))
        if config.model.recent_error_correction
        else Correction(damping=0.0)
    )
    vdaily = correct_daily(vdaily, correction, setup, tuner.quantiles)
    _daily_probs(vdaily, tuner.quantiles)
    threshold = tune_heavy_threshold(vdaily["obs"].to_numpy(), vdaily["p150"].to_numpy())
    return Decisions(threshold, correction)


def _linear_baseline(
    config: Config, X: npt.NDArray[np.float32], y: FloatArray, names: list[str]
) -> RidgeOnFeatures:
    """The linear model on the same rows and features (and the same persistence base)."""
    base = target_base(config.model.target_transform, X, names)
    return RidgeOnFeatures().fit(X, y, X[:, names.index("lead_h")], base)


def run_backtest(
    config: Config,
    start: str,
    end: str,
    *,
    progress: Progress | None = None,
    keep_forecasts: bool = False,
) -> dict[str, object]:
    """Train before ``start`` (minus the horizon), forecast every issue in [start, end], score.

    ``keep_forecasts`` adds ``result["forecasts"]``: a DataFrame of the daily forecasts (site,
    issue day, lead day, target day, mean, quantiles, probabilities, obs, baselines).
    """
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    start_day, end_day = pd.Timestamp(start), pd.Timestamp(end)
    # Pooled cities are chosen on data before the test period only.
    ds = load_training_dataset(config, pool_until=start_day - pd.Timedelta(days=1))
    setup = setup_for(ds, config)
    gap = pd.Timedelta(days=setup.horizon_days)
    first_issue_utc = beijing_to_utc(pd.DatetimeIndex([start_day]))[0]
    obs = observed_daily(ds, setup)
    issues = issue_times(ds, setup)
    issue_day = _beijing_day(issues)
    test_issues = issues[(issue_day >= start_day) & (issue_day <= end_day)]
    if len(test_issues) == 0:
        raise ValueError(f"no issue times between {start} and {end} in the training data")
    # The days just before the test period are forecast too, so that the recent-error
    # correction of the first test days has verified errors (only out-of-sample ones count).
    lead_in = start_day - pd.Timedelta(days=max(WINDOWS_DAYS) + 1)
    forecast_issues = issues[(issue_day >= lead_in) & (issue_day <= end_day)]
    train_issues = issues[issues + pd.Timedelta(hours=max(setup.leads_h)) + gap <= first_issue_utc]
    val_start = first_issue_utc - pd.Timedelta(days=365)
    result: dict[str, object] = {
        "from": start,
        "to": end,
        "config": str(config.source),
        "resolution": "daily" if setup.daily else "hourly",
        "perfect_prog": bool(ds.attrs.get("perfect_prog")),
        "note": ds.attrs.get("perfect_prog_note", ""),
        "gap_days": setup.horizon_days,
        "lead_unit": "days",
        "met_predictors": list(setup.features.met_vars),
        "pooled_cities": len(ds.attrs.get("pool_sites", [])),
        "cities": {},
    }
    cities: dict[str, object] = {}
    kept: list[pd.DataFrame] = []
    all_sites = [str(s) for s in ds["site"].values]
    pool_sites = set(ds.attrs.get("pool_sites", []))
    region = [s for s in all_sites if s not in pool_sites]
    groups = [all_sites] if config.model.pooled else [[s] for s in region]
    for group in groups:
        label = "+".join(group) if len(group) > 1 else group[0]
        part = ds.sel(site=group)
        say(f"{label}: features")
        Xtr, itr, names, ytr = build(part, setup, train_issues, setup.train_leads_h)
        keep = np.asarray(pd.DatetimeIndex(itr["valid_time"]) + gap <= first_issue_utc)
        Xtr, itr, ytr = Xtr[keep], itr[keep].reset_index(drop=True), ytr[keep]
        decisions = tune_decisions(
            config, setup, Xtr, itr, ytr, names, obs, gap, val_start, say, label
        )
        threshold = decisions.heavy_prob_threshold
        say(f"{label}: training on {int(np.isfinite(ytr).sum())} rows")
        model: CityModel = train_city(label, Xtr, ytr, names, config)
        model.heavy_prob_threshold = threshold
        linear = _linear_baseline(config, Xtr, ytr, names)
        Xte, ite, _, _ = build(part, setup, forecast_issues, setup.leads_h)
        pred = model.predict(Xte)
        pred["linear"] = linear.predict(
            Xte, Xte[:, names.index("lead_h")], target_base(model.transform, Xte, names)
        )
        daily = to_daily(ite, pred, setup, obs)
        daily = daily[(daily["lead_day"] >= 1) & (daily["lead_day"] <= setup.horizon_days)]
        train_end = _beijing_day(itr["valid_time"]).max()
        daily = correct_daily(
            daily,
            decisions.correction,
            setup,
            model.quantiles,
            errors_from=daily[daily["target_day"] > train_end],
        )
        daily = daily[daily["issue_day"] >= start_day]
        _daily_probs(daily, model.quantiles)
        for site in [s for s in group if s not in pool_sites]:
            mine = daily[daily["site"] == site].copy()
            clim = _climatology(obs[[site]], train_end)
            target_utc = beijing_to_utc(pd.DatetimeIndex(mine["target_day"])).to_numpy()
            climate = clim.predict(target_utc).values[0]
            # Too little history for a day of year (a city with one year of data): fall back to
            # the city's mean over all training days, so that all forecasters share the days.
            fallback = np.isnan(climate)
            train_mean = float(obs.loc[obs.index <= train_end, site].mean())
            mine["climatology"] = np.where(fallback, train_mean, climate)
            if keep_forecasts:
                kept.append(mine)
            cities[site] = {
                "model": "pooled" if len(group) > 1 else "per-city",
                "climatology_fallback_days": int(fallback.sum()),
                "heavy_prob_threshold": threshold,
                "recent_error_correction": decisions.correction.as_dict(),
                "train_rows": int((np.isfinite(ytr) & (itr["site"] == site).to_numpy()).sum()),
                "train_heavy_rows": int(((ytr > HEAVY) & (itr["site"] == site).to_numpy()).sum()),
                "leads": _score_city(mine, threshold),
            }
    result["cities"] = cities
    if keep_forecasts:
        result["forecasts"] = pd.concat(kept, ignore_index=True)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def offset_at_issue(
    model: CityModel,
    correction: Correction,
    ds: xr.Dataset,
    setup: Setup,
    issue_utc: pd.Timestamp,
    site: str,
) -> float:
    """The recent-error offset [µg/m³] of one operational issue, from the model's own
    day-ahead forecasts of the last ``window_days`` verified days, recomputed from the
    history in ``ds`` (observations and the weather that was observed, as in training).

    0 when the correction is off or fewer than ``correction.min_errors`` days can be verified
    (e.g. a fresh deployment with a short history): the forecast is then left uncorrected.
    """
    if not correction.active:
        return 0.0
    lag = verified_lag_days(setup)
    past = pd.DatetimeIndex(
        [issue_utc - pd.Timedelta(days=k) for k in range(correction.window_days + lag, lag, -1)]
    )
    times = pd.DatetimeIndex(ds.indexes["time"])
    past = past[(past >= times[0]) & (past <= times[-1])]
    if len(past) == 0:
        return 0.0
    first_day = [h for h in setup.leads_h if h <= 48.0]
    part = ds.sel(site=[site])
    X, index, _, _ = build(part, setup, past, first_day)
    daily = to_daily(index, model.predict(X), setup, observed_daily(part, setup))
    offsets = recent_offsets(
        day_ahead_errors(daily),
        [site],
        _beijing_day(pd.DatetimeIndex([issue_utc])),
        correction,
        verified_lag_days=lag,
    )
    return float(offsets[0])
