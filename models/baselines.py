"""Reference forecasts scored beside the model on the same days: persistence, climatology and a
ridge regression on a handful of predictors.

Time conventions (the engine's: naive UTC axes, Beijing days; see :mod:`forecast.timeutil` and
:mod:`forecast.obs.aggregate`):

* A **daily** series holds Beijing-day means stamped at the day's start (00:00 Beijing time =
  16:00 UTC the day before). An **hourly** series holds values labelled ``HH:00`` (the mean of
  the hour ending then). The step (``"D"`` or ``"h"``) is inferred from the axis.
* An **issue time** is a UTC instant (the 10:00 Beijing-time run is 02:00 UTC).
* **Lead** ``ℓ`` of a daily forecast targets the Beijing day ``date(issue) + ℓ`` (lead 1 =
  tomorrow, lead 0 = today); of an hourly forecast the hour ``floor_h(issue) + ℓ h``.
* **What is known at the issue time.** An hourly value labelled ``t`` is known from ``t``; a
  daily mean is known once its last hour (labelled 23:00 Beijing time) is, so at 10:00 Beijing
  time on day D the newest *complete* day is D − 1. Persistence for daily data therefore
  carries the **last complete Beijing day mean** forward ("today" = yesterday's full 24-hour
  mean), not today's running mean: the 10 morning hours of a running mean are biased by the
  diurnal cycle and by the night-time inversion, and the result would depend on the issue hour.
  ``delay`` (data latency) moves the "known" instant later.

Every ``forecast`` method returns a DataArray ``(site, issue_time, lead)`` with a
``target_time(issue_time, lead)`` coordinate; flattened it has the row order of the feature
kernels, ``row = (site * n_issues + issue) * n_leads + lead``. Values after an issue's known
instant are never read (tests perturb them), and climatologies and regressions are fitted only
on the training series they are given.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Final, Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from forecast.timeutil import as_naive_utc, beijing_to_utc, utc_to_beijing

Freq = Literal["D", "h"]
SeriesLike: TypeAlias = xr.DataArray | pd.Series | pd.DataFrame

#: The daily forecast run: 10:00 Beijing time.
ISSUE_HOUR_BJT: Final = 10
_STEP: Final = {"D": pd.Timedelta(days=1), "h": pd.Timedelta(hours=1)}
#: A daily mean is complete when its last hour (labelled 23:00 Beijing time) is in.
_DAY_COMPLETE: Final = pd.Timedelta(hours=23)
_DOY: Final = 365


# --------------------------------------------------------------------------------------------
# time helpers


def _naive_utc(times: Any) -> pd.DatetimeIndex:
    return as_naive_utc(times)


def infer_freq(times: Any) -> Freq:
    """``"D"`` for a daily axis, ``"h"`` for an hourly one (from the smallest step)."""
    idx = _naive_utc(times)
    if len(idx) < 2:
        raise ValueError("cannot infer the time step from fewer than two times")
    steps = np.diff(idx.asi8)
    step = pd.Timedelta(int(steps[steps > 0].min()), unit="ns") if (steps > 0).any() else None
    for freq, td in _STEP.items():
        if step == td:
            return freq  # type: ignore[return-value]
    raise ValueError(f"time axis must be daily or hourly, smallest step is {step}")


def daily_issue_times(
    first_day: Any, last_day: Any, hour: int = ISSUE_HOUR_BJT
) -> pd.DatetimeIndex:
    """Issue instants (naive UTC) at ``hour``:00 Beijing time on each Beijing date from
    ``first_day`` to ``last_day`` inclusive."""
    days = pd.date_range(pd.Timestamp(first_day).normalize(), pd.Timestamp(last_day).normalize())
    return beijing_to_utc(days + pd.Timedelta(hours=hour))


def beijing_day_stamp(days: Any) -> pd.DatetimeIndex:
    """Beijing dates → UTC stamps of their daily means (00:00 BJT = 16:00 UTC the day before)."""
    return beijing_to_utc(pd.DatetimeIndex(days).normalize())


def last_known_time(
    issue_times: Any, freq: Freq, *, delay: pd.Timedelta | None = None
) -> pd.DatetimeIndex:
    """Stamp of the newest value complete at each issue time (naive UTC).

    Daily: the last Beijing day whose 23:00 (BJT) hour is in; hourly: the issue time floored to
    the hour. ``delay`` (default 0) is the data latency.
    """
    t = _naive_utc(issue_times) - (delay or pd.Timedelta(0))
    if freq == "h":
        return t.floor("h")
    day = (utc_to_beijing(t) - _DAY_COMPLETE).normalize()
    return beijing_to_utc(day)


def target_times(issue_times: Any, leads: Sequence[int], freq: Freq) -> npt.NDArray[np.datetime64]:
    """Target stamps ``(n_issue, n_lead)`` (naive UTC, datetime64[ns]) of each issue and lead."""
    issues = _naive_utc(issue_times)
    lead_arr = np.asarray(leads, dtype=np.int64)
    if freq == "h":
        base = issues.floor("h")
        out = base.to_numpy(dtype="datetime64[ns]")[:, None] + lead_arr[None, :] * np.timedelta64(
            1, "h"
        )
    else:
        days = utc_to_beijing(issues).normalize().to_numpy(dtype="datetime64[ns]")
        local = days[:, None] + lead_arr[None, :] * np.timedelta64(1, "D")
        out = beijing_to_utc(local.ravel()).to_numpy(dtype="datetime64[ns]").reshape(local.shape)
    return np.asarray(out, dtype="datetime64[ns]")


# --------------------------------------------------------------------------------------------
# series conversion


def _to_da(series: SeriesLike, what: str = "series") -> tuple[xr.DataArray, str]:
    """Any supported series → DataArray (site, time) with a naive UTC ``time`` index."""
    if isinstance(series, pd.Series):
        name = series.name if series.name is not None else "0"
        da = xr.DataArray(
            series.to_numpy(dtype=np.float64)[None, :],
            dims=("site", "time"),
            coords={"site": [name], "time": _naive_utc(series.index)},
        )
        kind = "series"
    elif isinstance(series, pd.DataFrame):
        da = xr.DataArray(
            series.to_numpy(dtype=np.float64).T,
            dims=("site", "time"),
            coords={"site": list(series.columns), "time": _naive_utc(series.index)},
        )
        kind = "frame"
    elif isinstance(series, xr.DataArray):
        if "time" not in series.dims:
            raise ValueError(f"{what}: no 'time' dimension (dims {series.dims})")
        da = series if "site" in series.dims else series.expand_dims(site=["0"])
        extra = set(da.dims) - {"site", "time"}
        if extra:
            raise ValueError(f"{what}: expected dims (site, time), got {da.dims}")
        da = da.transpose("site", "time").astype(np.float64)
        da = da.assign_coords(time=_naive_utc(da.indexes["time"]))
        kind = "da" if "site" in series.dims else "da1"
    else:
        raise TypeError(f"{what}: expected an xarray DataArray or a pandas Series/DataFrame")
    idx = da.indexes["time"]
    if not idx.is_unique:
        raise ValueError(f"{what}: duplicate times")
    return da.sortby("time"), kind


def _from_da(da: xr.DataArray, kind: str) -> SeriesLike:
    if kind == "series":
        return pd.Series(
            da.values[0], index=pd.DatetimeIndex(da["time"].values), name=da.site.values[0]
        )
    if kind == "frame":
        return pd.DataFrame(
            da.values.T, index=pd.DatetimeIndex(da["time"].values), columns=list(da.site.values)
        )
    if kind == "da1":
        return da.isel(site=0, drop=True)
    return da


def _lookup(da: xr.DataArray, times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Values ``(site, *times.shape)`` at exactly the stamps ``times`` (NaN where absent)."""
    flat = pd.DatetimeIndex(times.ravel())
    vals = da.reindex(time=flat).values
    return np.asarray(vals, dtype=np.float64).reshape((da.sizes["site"], *times.shape))


def _wrap(
    values: npt.NDArray[np.float64],
    sites: Sequence[Hashable],
    issues: pd.DatetimeIndex,
    leads: Sequence[int],
    targets: npt.NDArray[np.datetime64],
    freq: Freq,
    name: str,
) -> xr.DataArray:
    return xr.DataArray(
        values,
        dims=("site", "issue_time", "lead"),
        coords={
            "site": list(sites),
            "issue_time": issues.to_numpy(dtype="datetime64[ns]"),
            "lead": np.asarray(leads, dtype=np.int64),
            "target_time": (("issue_time", "lead"), targets),
        },
        name=name,
        attrs={"lead_units": "days" if freq == "D" else "hours", "forecaster": name},
    )


class Forecaster(Protocol):
    """What the back-test driver needs from the model and from every baseline."""

    def forecast(
        self,
        history: SeriesLike,
        issue_times: Any,
        leads: Sequence[int],
        *,
        met: xr.Dataset | None = None,
    ) -> xr.DataArray: ...


# --------------------------------------------------------------------------------------------
# persistence


def persistence(series: SeriesLike, lead_steps: int) -> SeriesLike:
    """Persistence aligned on the *target* time: ``out[t] = series[t − lead_steps · step]``.

    The forecast for ``t`` issued when ``series[t − lead_steps·step]`` was the newest value
    (NaN where that stamp is missing; gaps are never bridged). For daily data issued at 10:00
    Beijing time the newest complete day is yesterday, so lead ``ℓ`` days is
    ``lead_steps = ℓ + 1`` (:class:`Persistence` does this from issue times). Returns the
    input's type.
    """
    if lead_steps < 0:
        raise ValueError(f"lead_steps must be ≥ 0, got {lead_steps}")
    da, kind = _to_da(series)
    freq = infer_freq(da.indexes["time"])
    times = da.indexes["time"]
    origin = (times - lead_steps * _STEP[freq]).to_numpy(dtype="datetime64[ns]")
    out = da.copy(data=_lookup(da, origin))
    return _from_da(out, kind)


class Persistence:
    """Forecast = the newest complete value known at the issue time, for every lead."""

    name = "persistence"

    def __init__(self, *, delay: pd.Timedelta | None = None) -> None:
        self.delay = delay

    def fit(self, train: SeriesLike, **_: Any) -> Persistence:
        return self

    def forecast(
        self,
        history: SeriesLike,
        issue_times: Any,
        leads: Sequence[int],
        *,
        met: xr.Dataset | None = None,
    ) -> xr.DataArray:
        da, _ = _to_da(history, "history")
        freq = infer_freq(da.indexes["time"])
        issues = _naive_utc(issue_times)
        known = last_known_time(issues, freq, delay=self.delay).to_numpy(dtype="datetime64[ns]")
        value = _lookup(da, known)  # (site, issue)
        targets = target_times(issues, leads, freq)
        out = np.repeat(value[:, :, None], len(leads), axis=2)
        return _wrap(out, da.site.values, issues, leads, targets, freq, self.name)


# --------------------------------------------------------------------------------------------
# climatology


def day_of_year_365(times_bjt: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Day of year 0..364 of Beijing wall-clock times on a 365-day calendar (29 Feb → 28 Feb)."""
    doy = times_bjt.day_of_year.to_numpy(dtype=np.int64) - 1
    late_leap = times_bjt.is_leap_year & (times_bjt.month > 2)
    feb29 = times_bjt.is_leap_year & (times_bjt.month == 2) & (times_bjt.day == 29)
    return np.where(late_leap | feb29, doy - 1, doy)


class Climatology:
    """Mean by Beijing day of year (daily data) or day of year × Beijing hour (hourly data).

    The mean for day ``d`` pools the training values within ``±window_days`` of ``d`` (circular
    over the year, on a 365-day calendar) — a boxcar smoothing of the seasonal cycle — and of
    the same hour for hourly data. Where fewer than ``min_count`` values are pooled the
    climatology is NaN (no fallback: a summer-only mean is no forecast for a winter day).
    Fitted per site, only on the series given to :meth:`fit`.
    """

    name = "climatology"

    def __init__(self, *, window_days: int = 15, min_count: int = 5) -> None:
        if not 0 <= window_days < _DOY // 2:
            raise ValueError(f"window_days must be in 0..{_DOY // 2 - 1}, got {window_days}")
        self.window_days = window_days
        self.min_count = min_count
        self.table_: xr.DataArray | None = None
        self.freq_: Freq | None = None
        self._kind = "da"

    def fit(self, train: SeriesLike, **_: Any) -> Climatology:
        da, self._kind = _to_da(train, "train")
        self.freq_ = freq = infer_freq(da.indexes["time"])
        bj = utc_to_beijing(da.indexes["time"])
        doy = day_of_year_365(bj)
        hour = bj.hour.to_numpy() if freq == "h" else np.zeros(len(bj), dtype=np.int64)
        n_hour = 24 if freq == "h" else 1
        vals = da.values
        n_site = vals.shape[0]
        s = np.zeros((n_site, _DOY, n_hour))
        c = np.zeros((n_site, _DOY, n_hour))
        valid = ~np.isnan(vals)
        for i in range(n_site):
            m = valid[i]
            np.add.at(s[i], (doy[m], hour[m]), vals[i, m])
            np.add.at(c[i], (doy[m], hour[m]), 1.0)
        ss, cc = np.zeros_like(s), np.zeros_like(c)
        for k in range(-self.window_days, self.window_days + 1):
            ss += np.roll(s, k, axis=1)
            cc += np.roll(c, k, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cc >= max(self.min_count, 1), ss / cc, np.nan)
        self.table_ = xr.DataArray(
            mean,
            dims=("site", "doy", "hour"),
            coords={"site": da.site.values, "doy": np.arange(_DOY), "hour": np.arange(n_hour)},
            name="climatology",
        )
        return self

    def _values(self, times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
        """Climatology ``(site, *times.shape)`` at target stamps ``times``."""
        if self.table_ is None or self.freq_ is None:
            raise RuntimeError("Climatology is not fitted; call fit(train) first")
        flat = pd.DatetimeIndex(times.ravel())
        missing = np.asarray(flat.isna())
        bj = utc_to_beijing(flat.where(~missing, pd.Timestamp("2001-01-01")))
        doy = day_of_year_365(bj)
        hour = bj.hour.to_numpy() if self.freq_ == "h" else np.zeros(len(bj), dtype=np.int64)
        tab = self.table_.values
        out = np.where(missing[None, :], np.nan, tab[:, doy, hour])
        return out.reshape((tab.shape[0], *times.shape))

    def predict(self, times: Any) -> SeriesLike:
        """Climatology at the target stamps ``times`` (naive UTC), in the type fitted on."""
        idx = _naive_utc(times)
        if self.table_ is None:
            raise RuntimeError("Climatology is not fitted; call fit(train) first")
        da = xr.DataArray(
            self._values(idx.to_numpy(dtype="datetime64[ns]")),
            dims=("site", "time"),
            coords={"site": self.table_.site.values, "time": idx},
            name="climatology",
        )
        return _from_da(da, self._kind)

    def forecast(
        self,
        history: SeriesLike | None,
        issue_times: Any,
        leads: Sequence[int],
        *,
        met: xr.Dataset | None = None,
    ) -> xr.DataArray:
        """Climatology of each target time (``history`` is not used)."""
        if self.table_ is None or self.freq_ is None:
            raise RuntimeError("Climatology is not fitted; call fit(train) first")
        issues = _naive_utc(issue_times)
        targets = target_times(issues, leads, self.freq_)
        return _wrap(
            self._values(targets),
            self.table_.site.values,
            issues,
            leads,
            targets,
            self.freq_,
            self.name,
        )


# --------------------------------------------------------------------------------------------
# linear baseline


class LinearBaseline:
    """Ridge regression per site and lead on a handful of predictors known at the issue time.

    Predictors of the target at lead ``ℓ`` issued at ``t``: the persistence value (newest
    complete value at ``t``), the climatology of the target time, the climatology of the
    persistence value's time (so that the fit can persist the *anomaly*), and every variable of
    ``met`` at the target time. Predictors are standardised, then ``Ridge(alpha)``. A sample
    with any NaN predictor or target is left out of the fit; at prediction it gives NaN.

    ``met`` is a Dataset of ``(site, time)`` variables on the target's time axis. In a
    back-test it must hold what was *forecast* for the valid time at the issue time (NWP runs
    before the issue); observed or reanalysed weather gives "perfect-prognosis" skill and must
    be reported as such.
    """

    name = "linear"

    def __init__(
        self,
        leads: Sequence[int],
        *,
        alpha: float = 1.0,
        window_days: int = 15,
        min_count: int = 5,
        min_samples: int = 20,
        issue_hour: int = ISSUE_HOUR_BJT,
        delay: pd.Timedelta | None = None,
    ) -> None:
        self.leads = tuple(int(x) for x in leads)
        if not self.leads:
            raise ValueError("LinearBaseline needs at least one lead")
        self.alpha = alpha
        self.min_samples = min_samples
        self.issue_hour = issue_hour
        self.delay = delay
        self.climatology = Climatology(window_days=window_days, min_count=min_count)
        self.met_vars_: tuple[str, ...] = ()
        self.models_: dict[tuple[Hashable, int], Pipeline] = {}
        self.freq_: Freq | None = None

    @property
    def predictor_names(self) -> tuple[str, ...]:
        return ("persistence", "climatology_target", "climatology_origin", *self.met_vars_)

    def _design(
        self,
        da: xr.DataArray,
        issues: pd.DatetimeIndex,
        leads: Sequence[int],
        met: xr.Dataset | None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.datetime64]]:
        """Predictors ``(site, issue, lead, predictor)`` and target stamps ``(issue, lead)``."""
        assert self.freq_ is not None
        known = last_known_time(issues, self.freq_, delay=self.delay).to_numpy(
            dtype="datetime64[ns]"
        )
        targets = target_times(issues, leads, self.freq_)
        shape = (da.sizes["site"], len(issues), len(leads))
        pers = np.broadcast_to(_lookup(da, known)[:, :, None], shape)
        clim_t = self.climatology._values(targets)
        clim_o = np.broadcast_to(self.climatology._values(known)[:, :, None], shape)
        cols = [pers, clim_t, clim_o]
        for var in self.met_vars_:
            if met is None or var not in met:
                raise ValueError(f"met variable {var!r} (used in the fit) is missing")
            mv, _ = _to_da(met[var], f"met[{var!r}]")
            mv = mv.reindex(site=da.site.values)
            cols.append(_lookup(mv, targets))
        return np.stack(cols, axis=-1), targets

    def fit(
        self,
        train: SeriesLike,
        *,
        met: xr.Dataset | None = None,
        issue_times: Any = None,
    ) -> LinearBaseline:
        """Fit on ``train`` only (targets and persistence values both from ``train``).

        ``issue_times`` default: one issue a day at ``issue_hour`` Beijing time over the span of
        ``train``; samples whose target is outside ``train`` have no target and are left out.
        """
        da, _ = _to_da(train, "train")
        self.freq_ = infer_freq(da.indexes["time"])
        self.climatology.fit(da)
        self.met_vars_ = tuple(str(v) for v in met.data_vars) if met is not None else ()
        if issue_times is None:
            bj = utc_to_beijing(da.indexes["time"])
            issue_times = daily_issue_times(bj.min(), bj.max(), self.issue_hour)
        issues = _naive_utc(issue_times)
        X, targets = self._design(da, issues, self.leads, met)
        y = _lookup(da, targets)
        self.models_ = {}
        for s, site in enumerate(da.site.values):
            for j, lead in enumerate(self.leads):
                Xs, ys = X[s, :, j, :], y[s, :, j]
                ok = ~np.isnan(Xs).any(axis=1) & ~np.isnan(ys)
                if ok.sum() < self.min_samples:
                    raise ValueError(
                        f"LinearBaseline: site {site}, lead {lead}: {int(ok.sum())} complete "
                        f"training samples, need ≥ {self.min_samples}"
                    )
                model = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha))
                model.fit(Xs[ok], ys[ok])
                self.models_[(site, lead)] = model
        return self

    def forecast(
        self,
        history: SeriesLike,
        issue_times: Any,
        leads: Sequence[int] | None = None,
        *,
        met: xr.Dataset | None = None,
    ) -> xr.DataArray:
        """Forecasts ``(site, issue_time, lead)``; ``history`` may extend past the issue times
        (only the values known at each issue are read)."""
        if self.freq_ is None:
            raise RuntimeError("LinearBaseline is not fitted; call fit(train) first")
        leads = self.leads if leads is None else tuple(int(x) for x in leads)
        missing = [x for x in leads if x not in self.leads]
        if missing:
            raise ValueError(f"leads {missing} were not fitted (fitted: {list(self.leads)})")
        da, _ = _to_da(history, "history")
        issues = _naive_utc(issue_times)
        X, targets = self._design(da, issues, leads, met)
        out = np.full(X.shape[:3], np.nan)
        for s, site in enumerate(da.site.values):
            for j, lead in enumerate(leads):
                model = self.models_.get((site, lead))
                if model is None:
                    raise ValueError(f"site {site!r} was not in the training series")
                Xs = X[s, :, j, :]
                ok = ~np.isnan(Xs).any(axis=1)
                if ok.any():
                    out[s, ok, j] = model.predict(Xs[ok])
        return _wrap(out, da.site.values, issues, leads, targets, self.freq_, self.name)


class RidgeOnFeatures:
    """The linear model of the back-test: ridge regression on the model's own feature rows.

    One ridge per lead day (rows grouped by ``ceil(lead_h / 24)``), on every feature of the
    matrix (missing values replaced by the training mean of the column, then standardised).
    Like the boosters it learns the change from the persistence base ``y₀`` [µg/m³] when one
    is given, so that the two differ only in being linear. Forecasts are clipped at 0.
    """

    name = "linear"

    def __init__(self, *, alpha: float = 10.0, min_samples: int = 30) -> None:
        self.alpha = alpha
        self.min_samples = min_samples
        self.models_: dict[int, Pipeline] = {}

    @staticmethod
    def _lead_day(lead_h: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.int64]:
        return np.ceil(np.asarray(lead_h, dtype=np.float64) / 24.0).astype(np.int64)

    def fit(
        self,
        X: npt.NDArray[np.floating[Any]],
        y: npt.NDArray[np.float64],
        lead_h: npt.NDArray[np.floating[Any]],
        base: npt.NDArray[np.float64] | None = None,
    ) -> RidgeOnFeatures:
        from sklearn.impute import SimpleImputer

        target = y - (0.0 if base is None else base)
        day = self._lead_day(lead_h)
        usable = np.isfinite(target)
        self.models_ = {}
        for d in np.unique(day):
            rows = usable & (day == d)
            if rows.sum() < self.min_samples:
                continue
            model = make_pipeline(
                SimpleImputer(strategy="mean", keep_empty_features=True),
                StandardScaler(),
                Ridge(alpha=self.alpha),
            )
            model.fit(np.asarray(X[rows], dtype=np.float64), target[rows])
            self.models_[int(d)] = model
        return self

    def predict(
        self,
        X: npt.NDArray[np.floating[Any]],
        lead_h: npt.NDArray[np.floating[Any]],
        base: npt.NDArray[np.float64] | None = None,
    ) -> npt.NDArray[np.float64]:
        """Forecasts [µg/m³]; NaN for lead days without a fit or rows without a base."""
        out = np.full(len(X), np.nan)
        day = self._lead_day(lead_h)
        for d, model in self.models_.items():
            rows = day == d
            if rows.any():
                out[rows] = model.predict(np.asarray(X[rows], dtype=np.float64))
        if base is not None:
            out = out + base
        return np.clip(out, 0.0, None)
