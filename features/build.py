"""The feature matrix: PM2.5 history, meteorology, calendar and lead for every (site, issue, lead).

:func:`build_feature_matrix` (training, every issue time in one pass per family) and
:func:`latest_features` (serving, one issue time from the last days of data) produce the same
rows for the same issue time; :func:`feature_dataarray` maps the build over an xarray Dataset
chunked by site with Dask.

Input: the merged ``(site, time)`` Dataset (:mod:`forecast.obs.dataset`, :mod:`forecast.merge`):
naive UTC times on a regular axis (``time_resolution`` ``"1h"`` or ``"1D"``; a gap is a NaN
step, never a missing time), PM2.5 in µg/m³, meteorology under the canonical names of
:mod:`forecast.met.variables`. Meteorological variables absent from the Dataset are skipped
with their columns; ``index.attrs`` records which were used and which skipped.

Output: ``X`` float32 ``(n_rows, n_features)`` C-contiguous (LightGBM takes it without a copy;
pass ``out=`` to reuse a buffer), rows site-major ``(site, issue_time, lead)``; ``index`` a
DataFrame of ``site, issue_time, lead_h, valid_time`` per row; ``names`` the column names
(:mod:`features.catalogue`). ``valid_time = issue_time + lead``; a valid time beyond the data
has NaN meteorology (calendar and lead are still known).

Column blocks: PM2.5 history, meteorology (per variable in ``met_vars`` order: the value at the
valid time, its window means / totals / run length, then for a state variable its change since
the issue time ``<var>_change`` when ``FeatureConfig.met_change``, for an amount or flag its
total since the issue time), calendar, lead.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from features import kernels
from features.calendar import N_CALENDAR, calendar_table
from features.catalogue import CATALOGUE_VERSION, feature_names
from features.config import FeatureConfig, KernelParams, met_kind

_NS_PER_HOUR = 3_600_000_000_000
Times: TypeAlias = pd.DatetimeIndex | Sequence[pd.Timestamp] | npt.NDArray[np.datetime64]


# --------------------------------------------------------------------------- axis helpers
def time_step_hours(ds: xr.Dataset) -> float:
    """The Dataset's time step [h] (1 or 24), checked against a regular time axis."""
    times = pd.DatetimeIndex(ds.indexes["time"])
    resolution = ds.attrs.get("time_resolution")
    if resolution is not None and resolution not in ("1h", "1D"):
        raise ValueError(f"time_resolution must be '1h' or '1D', got {resolution!r}")
    step_ns: int | None = {"1h": _NS_PER_HOUR, "1D": 24 * _NS_PER_HOUR}.get(str(resolution))
    values = times.values.astype("datetime64[ns]").astype(np.int64)
    diffs = np.diff(values)
    if step_ns is None:
        if len(diffs) == 0:
            raise ValueError("cannot infer the time step of a single time: set time_resolution")
        step_ns = int(diffs.min())
    if len(diffs) and not (diffs == step_ns).all():
        bad = int(np.flatnonzero(diffs != step_ns)[0])
        raise ValueError(
            f"the time axis is not regular with step {step_ns / _NS_PER_HOUR:g} h: "
            f"{times[bad]} is followed by {times[bad + 1]} (reindex to a regular axis; gaps "
            "must be NaN steps so that lags and windows never shift)"
        )
    return step_ns / _NS_PER_HOUR


def absolute_step(t: pd.Timestamp | np.datetime64, step_hours: float) -> int:
    """Steps since 1970-01-01 00:00 UTC (floor): the alignment of the rolling-window blocks."""
    ns = pd.Timestamp(t).as_unit("ns").value
    return ns // round(step_hours * _NS_PER_HOUR)


def _issue_indices(times: pd.DatetimeIndex, issue_times: Times | None) -> npt.NDArray[np.int64]:
    if issue_times is None:
        return np.arange(len(times), dtype=np.int64)
    wanted = pd.DatetimeIndex(issue_times).unique().sort_values()
    idx = times.get_indexer(wanted)
    if (idx < 0).any():
        missing = wanted[idx < 0]
        raise ValueError(
            f"{len(missing)} issue time(s) are not on the data's time axis, e.g. {missing[0]}"
        )
    return idx.astype(np.int64)


def _lead_steps(leads_h: Sequence[float], step_hours: float) -> npt.NDArray[np.float64]:
    leads = np.unique(np.asarray(leads_h, dtype=np.float64))
    if len(leads) == 0:
        raise ValueError("at least one lead time is needed")
    for h in leads:
        ratio = h / step_hours
        if h < 0 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"lead {h:g} h is not a whole, non-negative number of time steps of "
                f"{step_hours:g} h"
            )
    return leads


@dataclass(frozen=True)
class Layout:
    """Columns of the feature matrix for one Dataset and configuration."""

    names: list[str]
    params: KernelParams
    met_used: list[str]
    met_skipped: list[str]
    col_met: int
    col_calendar: int

    @property
    def n_features(self) -> int:
        return len(self.names)


def layout(ds: xr.Dataset, config: FeatureConfig, step_hours: float) -> Layout:
    params = config.resolve(step_hours)
    used = [v for v in config.met_vars if v in ds.data_vars]
    skipped = [v for v in config.met_vars if v not in ds.data_vars]
    names = feature_names(config, used)
    n_met = len(names) - params.n_history - (N_CALENDAR if config.calendar else 0) - 1
    col_met = params.n_history
    return Layout(names, params, used, skipped, col_met, col_met + n_met)


def _site_time(ds: xr.Dataset, name: str) -> npt.NDArray[np.float64]:
    da = ds[name]
    if set(da.dims) != {"site", "time"}:
        raise ValueError(f"{name} must have dims (site, time), got {da.dims}")
    return np.ascontiguousarray(da.transpose("site", "time").values, dtype=np.float64)


def _output(
    out: npt.NDArray[np.float32] | None, n_rows: int, n_features: int
) -> npt.NDArray[np.float32]:
    if out is None:
        return np.empty((n_rows, n_features), dtype=np.float32)
    if out.shape != (n_rows, n_features) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous float32 array of shape {(n_rows, n_features)}, got "
            f"{out.dtype} {out.shape} (C-contiguous: {out.flags.c_contiguous})"
        )
    return out


def _fill_met(
    ds: xr.Dataset,
    lay: Layout,
    t_abs0: int,
    issue_idx: npt.NDArray[np.int64],
    lead_steps: npt.NDArray[np.int64],
    out: npt.NDArray[np.float32],
) -> None:
    if not lay.met_used:
        return
    p = lay.params
    met = np.ascontiguousarray(np.stack([_site_time(ds, v) for v in lay.met_used]))
    kinds = np.asarray([met_kind(v) for v in lay.met_used], dtype=np.int64)
    kernels.met_features(
        met,
        kinds,
        t_abs0,
        issue_idx,
        lead_steps,
        out,
        lay.col_met,
        p.met_mean_steps,
        p.met_mean_min,
        p.met_change,
        p.met_total_steps,
        p.met_total_min,
        p.stagnation_cap,
        p.min_valid_fraction,
        p.step_hours,
    )


def _fill_calendar(
    config: FeatureConfig,
    lay: Layout,
    issue_times: pd.DatetimeIndex,
    leads: npt.NDArray[np.float64],
    n_sites: int,
    out: npt.NDArray[np.float32],
) -> pd.DatetimeIndex:
    valid = pd.DatetimeIndex(
        (issue_times.values[:, None] + (leads * _NS_PER_HOUR).astype("timedelta64[ns]")).ravel()
    )
    parts = []
    if config.calendar:
        parts.append(calendar_table(valid, config.spring_festival_days))
    parts.append(np.tile(leads, len(issue_times))[:, None])
    table = np.ascontiguousarray(np.hstack(parts), dtype=np.float32)
    if n_sites and len(table):
        kernels.broadcast_rows(out, lay.col_calendar, table, n_sites)
    return valid


def _index(
    sites: npt.NDArray[np.object_],
    issue_times: pd.DatetimeIndex,
    leads: npt.NDArray[np.float64],
    valid: pd.DatetimeIndex,
    lay: Layout,
) -> pd.DataFrame:
    n_per_site = len(issue_times) * len(leads)
    index = pd.DataFrame(
        {
            "site": np.repeat(sites, n_per_site),
            "issue_time": np.tile(np.repeat(issue_times.values, len(leads)), len(sites)),
            "lead_h": np.tile(leads, len(sites) * len(issue_times)),
            "valid_time": np.tile(valid.values, len(sites)),
        }
    )
    index.attrs = {
        "catalogue_version": CATALOGUE_VERSION,
        "met_used": list(lay.met_used),
        "met_skipped": list(lay.met_skipped),
        "step_hours": lay.params.step_hours,
    }
    return index


# --------------------------------------------------------------------------- training path
def build_feature_matrix(
    ds: xr.Dataset,
    issue_times: Times | None,
    leads_h: Sequence[float],
    *,
    config: FeatureConfig | None = None,
    out: npt.NDArray[np.float32] | None = None,
) -> tuple[npt.NDArray[np.float32], pd.DataFrame, list[str]]:
    """The feature matrix for every site, issue time (default: every time) and lead [h].

    Issue times must lie on the Dataset's time axis (they are sorted and de-duplicated);
    leads are whole numbers of time steps ≥ 0 (sorted, de-duplicated). Returns
    ``(X, index, names)`` as described in the module docstring.
    """
    config = config or FeatureConfig()
    step = time_step_hours(ds)
    lay = layout(ds, config, step)
    times = pd.DatetimeIndex(ds.indexes["time"])
    issue_idx = _issue_indices(times, issue_times)
    leads = _lead_steps(leads_h, step)
    lead_steps = np.round(leads / step).astype(np.int64)
    sites = np.asarray(ds["site"].values, dtype=object)
    n_rows = len(sites) * len(issue_idx) * len(leads)
    X = _output(out, n_rows, lay.n_features)
    t_abs0 = absolute_step(times[0], step) if len(times) else 0
    if n_rows:
        x = _site_time(ds, config.pm25_var)
        if lay.params.n_history:
            kernels.pm25_history(x, t_abs0, issue_idx, len(leads), X, 0, *lay.params.history_args())
        _fill_met(ds, lay, t_abs0, issue_idx, lead_steps, X)
    issue_t = times[issue_idx]
    valid = _fill_calendar(config, lay, issue_t, leads, len(sites), X)
    return X, _index(sites, issue_t, leads, valid, lay), lay.names


# --------------------------------------------------------------------------- serving path
def required_history_steps(config: FeatureConfig, step_hours: float) -> int:
    """Steps up to and including the issue time that serving needs to equal training."""
    p = config.resolve(step_hours)
    return max(p.history_steps(), p.met_history_steps())


def latest_features(
    ds: xr.Dataset,
    issue_time: pd.Timestamp | str,
    leads_h: Sequence[float],
    *,
    config: FeatureConfig | None = None,
    out: npt.NDArray[np.float32] | None = None,
) -> tuple[npt.NDArray[np.float32], pd.DataFrame, list[str]]:
    """The feature rows of one issue time, from the last days before it (the serving path).

    Reads only :func:`required_history_steps` steps up to the issue time (and the forecast
    meteorology up to the last valid time; the changes since issue read the issue step
    itself) and computes the PM2.5 history with
    :func:`features.kernels.latest_pm25_history`; the rows equal those of
    :func:`build_feature_matrix` for that issue time (bit for bit, the exponentially weighted
    means to within float32 rounding), whatever data lies before the history window.
    """
    config = config or FeatureConfig()
    step = time_step_hours(ds)
    lay = layout(ds, config, step)
    times = pd.DatetimeIndex(ds.indexes["time"])
    (i,) = _issue_indices(times, [pd.Timestamp(issue_time)])
    leads = _lead_steps(leads_h, step)
    lead_steps = np.round(leads / step).astype(np.int64)
    sites = np.asarray(ds["site"].values, dtype=object)
    S, L = len(sites), len(leads)
    X = _output(out, S * L, lay.n_features)
    t_abs0 = absolute_step(times[0], step)
    p = lay.params
    if S:
        h0 = max(0, int(i) - p.history_steps() + 1)
        hist = ds.isel(time=slice(h0, int(i) + 1))
        if p.n_history:
            x = _site_time(hist, config.pm25_var)
            rows = np.empty((S, p.n_history), dtype=np.float32)
            kernels.latest_pm25_history(x, t_abs0 + h0, x.shape[1] - 1, rows, 0, *p.history_args())
            X[:, : p.n_history] = np.repeat(rows, L, axis=0)
        m0 = max(0, int(i) - p.met_history_steps() + 1)
        m1 = min(len(times), int(i) + int(lead_steps[-1]) + 1)
        window = ds.isel(time=slice(m0, m1))
        _fill_met(window, lay, t_abs0 + m0, np.asarray([i - m0], dtype=np.int64), lead_steps, X)
    issue_t = times[[int(i)]]
    valid = _fill_calendar(config, lay, issue_t, leads, S, X)
    return X, _index(sites, issue_t, leads, valid, lay), lay.names


# --------------------------------------------------------------------------- site chunks
def feature_block(
    block: xr.Dataset,
    issue_times: Times | None,
    leads_h: Sequence[float],
    config: FeatureConfig | None = None,
) -> xr.DataArray:
    """The features of one block of sites as ``(site, sample, feature)``, sample = issue × lead.

    The unit of work for :func:`xarray.map_blocks` over a Dataset chunked by site (all times
    in one chunk); ``X`` of :func:`build_feature_matrix` is this array reshaped to
    ``(site * sample, feature)``.
    """
    X, _, names = build_feature_matrix(block, issue_times, leads_h, config=config)
    n_sites = block.sizes["site"]
    return xr.DataArray(
        X.reshape(n_sites, -1, len(names)),
        dims=("site", "sample", "feature"),
        coords={"site": block["site"].values, "feature": names},
    )


def feature_dataarray(
    ds: xr.Dataset,
    issue_times: Times | None,
    leads_h: Sequence[float],
    *,
    config: FeatureConfig | None = None,
) -> xr.DataArray:
    """:func:`feature_block` over the whole Dataset: lazy, one task per site chunk, when
    ``ds`` is Dask-backed (time is put in one chunk), else computed at once."""
    config = config or FeatureConfig()
    step = time_step_hours(ds)
    lay = layout(ds, config, step)
    keep = [config.pm25_var, *lay.met_used]
    sub = ds[keep]
    if not sub.chunks:
        return feature_block(sub, issue_times, leads_h, config)
    import dask.array as da

    sub = sub.chunk({"time": -1})
    n_issue = len(_issue_indices(pd.DatetimeIndex(ds.indexes["time"]), issue_times))
    n_sample = n_issue * len(_lead_steps(leads_h, step))
    site_chunks = sub.chunks["site"]
    template = xr.DataArray(
        da.empty(
            (sub.sizes["site"], n_sample, lay.n_features),
            dtype=np.float32,
            chunks=(site_chunks, n_sample, lay.n_features),
        ),
        dims=("site", "sample", "feature"),
        coords={"site": sub["site"].values, "feature": lay.names},
    )
    return xr.map_blocks(
        feature_block,
        sub,
        args=(issue_times, leads_h),
        kwargs={"config": config},
        template=template,
    )


# --------------------------------------------------------------------------- compile times
def warmup(config: FeatureConfig | None = None) -> dict[str, float]:
    """Call every kernel once on tiny data; seconds of each first call (compile or cache load).

    Run it at process start (a forecast cycle, a worker) so that the first real call is fast;
    with a warm on-disk cache (:mod:`features.numba_cache`) it takes well under a second.
    """
    config = config or FeatureConfig()
    times = pd.date_range("2021-01-01", periods=64, freq="h")
    rng = np.random.default_rng(0)
    data = {
        config.pm25_var: (("site", "time"), rng.gamma(2.0, 40.0, (2, 64))),
        **{v: (("site", "time"), rng.random((2, 64))) for v in config.met_vars},
    }
    ds = xr.Dataset(
        data, coords={"site": ["a", "b"], "time": times}, attrs={"time_resolution": "1h"}
    )
    small = FeatureConfig(
        lags_h=(1,),
        windows_h=(3,),
        ewm_halflives_h=(6,),
        diurnal_days=1,
        lookback_h=24,
        met_windows_h=(3,),
        precip_windows_h=(3,),
        stagnation_cap_h=6,
        met_vars=config.met_vars,
        pm25_var=config.pm25_var,
    )
    seconds: dict[str, float] = {}
    t0 = _time.perf_counter()
    X, _, _ = build_feature_matrix(ds, times[-8:], [0, 1], config=small)
    seconds["build_feature_matrix"] = _time.perf_counter() - t0
    t0 = _time.perf_counter()
    latest_features(ds, times[-1], [1], config=small)
    seconds["latest_features"] = _time.perf_counter() - t0
    t0 = _time.perf_counter()
    kernels.fill_floor(X, np.float32(0.0))
    seconds["fill_floor"] = _time.perf_counter() - t0
    seconds["total"] = math.fsum(seconds.values())
    return seconds
