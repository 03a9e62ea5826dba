"""Temporal and spatial aggregation of station observations (pure functions).

Conventions (GB 3095 / HJ 633, see ``docs/domain.md`` §1):

* Every time axis is naive UTC; Beijing time enters only through :mod:`forecast.timeutil`.
* An hourly value labelled ``HH:00`` (Beijing time) is the mean over ``(HH-1):00–HH:00``.
* A **Beijing day** D holds the hourly values *labelled* 00:00 … 23:00 Beijing time on D, the
  convention of the public daily archives ``china_sites_YYYYMMDD`` (hours 0–23 of the date).
  In UTC that is 16:00 on D-1 … 15:00 on D; the daily value is stamped at the day's start,
  00:00 BJT on D = 16:00 UTC on D-1.
* A 24-hour mean needs at least 20 valid (non-NaN) hourly values, otherwise it is NaN.
* A city's value is the mean over its national stations, excluding reference (对照点) sites.

Concentrations are carried through unchanged in their published units (µg/m³; CO in mg/m³) and
in float64. Means of ``aqi`` (and of ``o3_8h``) are computed like any other variable but are not
the official daily AQI / O3 metrics: the daily AQI is derived from the daily concentrations.

Quality-control companions ``<var>_qc`` and the count companions written here
(``<var>_valid_hours``, ``<var>_n_stations``) are never aggregated; they are dropped from the
inputs, and each function writes its own counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd
import xarray as xr

from forecast.timeutil import beijing_to_utc, utc_to_beijing

#: Minimum number of valid hourly values for a 24-hour mean (GB 3095).
MIN_VALID_HOURS: Final = 20
#: Hours in the window of a 24-hour mean.
WINDOW_HOURS: Final = 24
#: Suffixes of companion variables that are never aggregated.
COMPANION_SUFFIXES: Final = ("_qc", "_valid_hours", "_n_stations")

_HOUR: Final = np.timedelta64(1, "h")
_TIME: Final = "time"
_SITE: Final = "site"


# --------------------------------------------------------------------------------------------
# helpers


def _value_vars(ds: xr.Dataset) -> list[str]:
    """Names of the float data variables along ``time`` that are aggregated."""
    return [
        str(name)
        for name, da in ds.data_vars.items()
        if not str(name).endswith(COMPANION_SUFFIXES)
        and _TIME in da.dims
        and np.issubdtype(da.dtype, np.floating)
    ]


def _check_min_valid_hours(min_valid_hours: int) -> None:
    if not 1 <= min_valid_hours <= WINDOW_HOURS:
        raise ValueError(f"min_valid_hours must be in 1..{WINDOW_HOURS}, got {min_valid_hours}")


def _time_index(ds: xr.Dataset, what: str) -> pd.DatetimeIndex:
    """The ``time`` axis as a naive DatetimeIndex, checked to be strictly increasing."""
    if _TIME not in ds.dims:
        raise ValueError(f"{what}: the dataset has no 'time' dimension")
    idx = pd.DatetimeIndex(ds.indexes[_TIME])
    if idx.tz is not None:
        raise ValueError(f"{what}: the time axis must be naive UTC, got tz={idx.tz}")
    if not idx.is_monotonic_increasing or not idx.is_unique:
        raise ValueError(f"{what}: the time axis must be strictly increasing (sorted, unique)")
    return idx


def _require_hourly(ds: xr.Dataset, what: str) -> pd.DatetimeIndex:
    """Check that ``ds`` holds hourly values on whole hours and return its time index.

    Gaps (missing hours) are allowed here; callers that need a regular axis reindex.
    """
    idx = _time_index(ds, what)
    res = ds.attrs.get("time_resolution")
    if res is not None and res != "1h":
        raise ValueError(
            f"{what} needs hourly data (time_resolution='1h'), got time_resolution={res!r}"
        )
    if len(idx) == 0:
        return idx
    if (idx != idx.floor("h")).any():
        raise ValueError(f"{what} needs time stamps on whole hours (HH:00 UTC)")
    if res is None and len(idx) > 1:
        step = np.diff(idx.values).min()
        if step != _HOUR:
            raise ValueError(
                f"{what} needs hourly data; no time_resolution attribute and the "
                f"smallest time step is {pd.Timedelta(step)}"
            )
    return idx


def _ns(idx: pd.DatetimeIndex) -> np.ndarray:
    """Naive datetime64[ns] values (the engine's time dtype)."""
    return np.asarray(idx.values, dtype="datetime64[ns]")


def _count_attrs(var: str, long_name: str) -> dict[str, str]:
    return {"long_name": f"{long_name} of {var}", "units": "1"}


def _with_attr(attrs: Mapping[str, object], key: str, text: str) -> dict[str, object]:
    out = dict(attrs)
    out[key] = f"{out[key]} {text}" if key in out else text
    return out


def _daily_sum_count(
    x: np.ndarray, starts: np.ndarray, day_pos: np.ndarray, n_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-day NaN-skipping sum and valid count along the last axis.

    ``starts`` are the indices where each present day begins (time is sorted) and ``day_pos``
    the position of that day on the regular daily output axis of length ``n_days``.
    """
    valid = ~np.isnan(x)
    out_shape = (*x.shape[:-1], n_days)
    total = np.zeros(out_shape, dtype=np.float64)
    count = np.zeros(out_shape, dtype=np.int16)
    if x.shape[-1] > 0:
        total[..., day_pos] = np.add.reduceat(np.where(valid, x, 0.0), starts, axis=-1)
        count[..., day_pos] = np.add.reduceat(valid.astype(np.int16), starts, axis=-1)
    return total, count


def _trailing_sum_count(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """NaN-skipping sum and valid count over the trailing ``window`` steps (last axis).

    The window ending at step t covers steps t-window+1 … t; steps before the start of the
    array count as missing. Vectorised over all steps: one shifted add per lag.
    """
    valid = ~np.isnan(x)
    x0 = np.where(valid, x, 0.0)
    n_t = x.shape[-1]
    total = np.zeros(x.shape, dtype=np.float64)
    count = np.zeros(x.shape, dtype=np.int16)
    for lag in range(min(window, n_t)):
        total[..., lag:] += x0[..., : n_t - lag]
        count[..., lag:] += valid[..., : n_t - lag]
    return total, count


def _mean_from(total: xr.DataArray, count: xr.DataArray, minimum: int) -> xr.DataArray:
    """``total / count`` where ``count >= minimum``, NaN elsewhere (float64)."""
    return (total / count.where(count >= minimum)).astype(np.float64)


# --------------------------------------------------------------------------------------------
# temporal aggregation


def daily_mean(ds: xr.Dataset, min_valid_hours: int = MIN_VALID_HOURS) -> xr.Dataset:
    """Per-site daily (Beijing calendar day) mean of hourly observations [µg/m³; CO mg/m³].

    Day D holds the hourly values labelled 00:00 … 23:00 Beijing time on D (each the mean over
    the preceding hour), as in the public ``china_sites_YYYYMMDD`` archives; in UTC these are
    the values stamped 16:00 on D-1 … 15:00 on D. A day with fewer than ``min_valid_hours``
    valid (non-NaN) values is NaN (GB 3095: at least 20 of 24).

    Parameters
    ----------
    ds
        Hourly station (or city) dataset, dims ``(site, time)``, ``time`` naive UTC on whole
        hours, strictly increasing. Missing hours may be absent or NaN; any UTC start and end
        hour is allowed (partial first/last days just have fewer hours).
    min_valid_hours
        Minimum number of valid hourly values for a valid daily mean, 1 … 24.

    Returns
    -------
    xr.Dataset
        Dims ``(site, time)`` with ``time`` = the start of each Beijing day in naive UTC
        (00:00 BJT on D = 16:00 UTC on D-1), one step per day from the first to the last day
        touched by the input; every aggregated variable ``<var>`` as float64 [same units], plus
        ``<var>_valid_hours`` (int16) the number of valid hours used. ``<var>_qc`` companions
        are dropped; site coordinates and global attributes are kept, with
        ``attrs["time_resolution"] = "1D"``.
    """
    _check_min_valid_hours(min_valid_hours)
    idx = _require_hourly(ds, "daily_mean")
    names = _value_vars(ds)

    bj_day = utc_to_beijing(idx).normalize()  # Beijing calendar day of each hourly label
    if len(idx):
        days = pd.date_range(bj_day[0], bj_day[-1], freq="D")
        day_of_step = days.get_indexer(bj_day)
        starts = np.flatnonzero(np.r_[True, np.diff(day_of_step) != 0])
    else:
        days = pd.DatetimeIndex([])
        day_of_step = np.array([], dtype=np.intp)
        starts = np.array([], dtype=np.intp)
    day_pos = day_of_step[starts]
    time_out = _ns(beijing_to_utc(days))

    out_vars: dict[str, xr.DataArray] = {}
    for name in names:
        da = ds[name].astype(np.float64)
        total, count = xr.apply_ufunc(
            _daily_sum_count,
            da,
            kwargs={"starts": starts, "day_pos": day_pos, "n_days": len(days)},
            input_core_dims=[[_TIME]],
            output_core_dims=[["_day"], ["_day"]],
            exclude_dims={_TIME},
            dask="parallelized",
            output_dtypes=[np.float64, np.int16],
            dask_gufunc_kwargs={"output_sizes": {"_day": len(days)}},
        )
        total = total.rename({"_day": _TIME})
        count = count.rename({"_day": _TIME})
        mean = _mean_from(total, count, min_valid_hours)
        mean.attrs = _with_attr(
            da.attrs,
            "cell_methods",
            f"time: mean (Beijing day, hours labelled 00-23 BJT, >= {min_valid_hours} valid)",
        )
        out_vars[name] = mean
        count.attrs = _count_attrs(name, "number of valid hourly values in the day")
        out_vars[f"{name}_valid_hours"] = count

    coords = {k: v for k, v in ds.coords.items() if _TIME not in v.dims}
    out = xr.Dataset(out_vars, coords=coords)
    out = out.assign_coords({_TIME: time_out})
    out[_TIME].attrs = {"long_name": "start of the Beijing day (00:00 BJT) in UTC"}
    out.attrs = {**ds.attrs, "time_resolution": "1D"}
    return out


def rolling_24h_mean(ds: xr.Dataset, min_valid_hours: int = MIN_VALID_HOURS) -> xr.Dataset:
    """Trailing 24-hour running mean of hourly observations [µg/m³; CO mg/m³].

    The value at hour t is the mean of the valid hourly values stamped t-23 h … t (inclusive),
    NaN when fewer than ``min_valid_hours`` of them are valid. Used by the warning rules, whose
    "daily" mean may be any 24-hour window crossing calendar days. Hours before the first time
    step count as missing, so the first 19 hours are always NaN with the default threshold.

    The time axis is first reindexed to a regular hourly axis from the first to the last time
    step (absent hours become NaN), so gaps never shift the window; the result is returned on
    that regular axis.

    Parameters
    ----------
    ds
        Hourly dataset (``attrs["time_resolution"] == "1h"``), dims ``(site, time)``.
    min_valid_hours
        Minimum number of valid hourly values in the window, 1 … 24.

    Returns
    -------
    xr.Dataset
        Same site coordinates and global attributes; each aggregated ``<var>`` (float64) and
        ``<var>_valid_hours`` (int16) the number of valid hours in the window.

    Raises
    ------
    ValueError
        If the data are not hourly (the message names the resolution found).
    """
    _check_min_valid_hours(min_valid_hours)
    idx = _require_hourly(ds, "rolling_24h_mean")
    names = _value_vars(ds)
    attrs = dict(ds.attrs)
    regular = pd.date_range(idx[0], idx[-1], freq="h") if len(idx) else idx
    ds = ds[names]
    if len(regular) != len(idx):
        ds = ds.reindex({_TIME: _ns(regular)})

    out_vars: dict[str, xr.DataArray] = {}
    for name in names:
        da = ds[name].astype(np.float64)
        total, count = xr.apply_ufunc(
            _trailing_sum_count,
            da,
            kwargs={"window": WINDOW_HOURS},
            input_core_dims=[[_TIME]],
            output_core_dims=[[_TIME], [_TIME]],
            dask="parallelized",
            output_dtypes=[np.float64, np.int16],
        )
        mean = _mean_from(total, count, min_valid_hours)
        mean.attrs = _with_attr(
            da.attrs,
            "cell_methods",
            f"time: mean (trailing 24 h window, >= {min_valid_hours} valid)",
        )
        out_vars[name] = mean
        count.attrs = _count_attrs(name, "number of valid hourly values in the 24 h window")
        out_vars[f"{name}_valid_hours"] = count

    coords = {k: v for k, v in ds.coords.items() if k == _TIME or _TIME not in v.dims}
    out = xr.Dataset(out_vars, coords=coords)
    out = out.assign_coords({_TIME: _ns(pd.DatetimeIndex(out.indexes[_TIME]))})
    out.attrs = {**attrs, "time_resolution": "1h"}
    return out


# --------------------------------------------------------------------------------------------
# spatial aggregation


def city_mean(
    ds: xr.Dataset,
    min_stations: int = 1,
    city_names: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """City value = mean over the city's non-reference stations [µg/m³; CO mg/m³].

    For each city and time step, the NaN-skipping mean over the city's stations whose
    ``reference_site`` is False (reference / background 对照点 sites are excluded); NaN when
    fewer than ``min_stations`` such stations have a valid value. Works on hourly and daily
    inputs alike (the time axis is untouched).

    Parameters
    ----------
    ds
        Station dataset, dims ``(site, time)``, with site coordinate ``city`` and optionally
        ``reference_site`` (missing → no reference sites), ``lon``, ``lat``.
    min_stations
        Minimum number of valid stations for a city value, >= 1.
    city_names
        Optional display names by city id; cities not in the mapping are named by their id.

    Returns
    -------
    xr.Dataset
        Dims ``(site, time)`` with ``site`` = city ids (order of first appearance), site
        coordinates ``name``, ``city`` (= id), ``kind`` = "city", ``lon``/``lat`` = mean of
        the member stations, ``reference_site`` = False; each aggregated ``<var>`` (float64)
        and ``<var>_n_stations`` (int16) the number of stations used. Cities with no
        non-reference station are left out. Global attributes are kept.
    """
    if min_stations < 1:
        raise ValueError(f"min_stations must be >= 1, got {min_stations}")
    if _SITE not in ds.dims:
        raise ValueError("city_mean: the dataset has no 'site' dimension")
    if "city" not in ds.coords:
        raise ValueError("city_mean: the dataset has no 'city' site coordinate")
    names = _value_vars(ds)

    city = np.asarray(ds["city"].values).astype(str)
    if "reference_site" in ds.coords:
        reference = np.asarray(ds["reference_site"].values, dtype=bool)
    else:
        reference = np.zeros(ds.sizes[_SITE], dtype=bool)
    member = ~reference
    cities = list(dict.fromkeys(city[member].tolist()))
    groups = [np.flatnonzero(member & (city == c)) for c in cities]

    def _lonlat(coord: str) -> np.ndarray:
        if coord not in ds.coords:
            return np.full(len(cities), np.nan)
        values = np.asarray(ds[coord].values, dtype=np.float64)
        return np.array([values[g].mean() for g in groups], dtype=np.float64)

    out_vars: dict[str, xr.DataArray] = {}
    for name in names:
        da = ds[name].astype(np.float64)
        da = da.drop_vars([c for c in da.coords if c != _TIME])
        valid = da.notnull()
        filled = da.fillna(0.0)
        total = xr.concat([filled.isel({_SITE: g}).sum(_SITE) for g in groups], dim=_SITE)
        count = xr.concat([valid.isel({_SITE: g}).sum(_SITE) for g in groups], dim=_SITE).astype(
            np.int16
        )
        mean = _mean_from(total, count, min_stations)
        mean.attrs = _with_attr(
            da.attrs,
            "cell_methods",
            f"site: mean (non-reference stations, >= {min_stations} valid)",
        )
        out_vars[name] = mean
        count.attrs = _count_attrs(name, "number of stations")
        out_vars[f"{name}_n_stations"] = count

    labels = city_names or {}
    coords = {
        _SITE: np.asarray(cities, dtype=str),
        "name": (_SITE, np.asarray([labels.get(c, c) for c in cities], dtype=str)),
        "city": (_SITE, np.asarray(cities, dtype=str)),
        "lon": (_SITE, _lonlat("lon")),
        "lat": (_SITE, _lonlat("lat")),
        "reference_site": (_SITE, np.zeros(len(cities), dtype=bool)),
        "kind": (_SITE, np.full(len(cities), "city")),
    }
    if _TIME in ds.coords:
        coords[_TIME] = ds[_TIME].values
    out = xr.Dataset(out_vars, coords=coords)
    out.attrs = dict(ds.attrs)
    return out


def city_daily_mean(
    ds: xr.Dataset,
    min_valid_hours: int = MIN_VALID_HOURS,
    min_stations: int = 1,
    city_names: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Daily city value by the national method [µg/m³; CO mg/m³].

    ``city_mean(daily_mean(ds, min_valid_hours), min_stations, city_names)``: first each
    station's Beijing-day mean, valid only with at least ``min_valid_hours`` valid hours; then
    the mean of the *valid* station daily means over the city's non-reference stations. A
    station with too few hours drops out of that day's city mean (it does not contribute a
    partial mean). This is not the same as the daily mean of the hourly city means.

    Returns the :func:`city_mean` layout with ``time`` = start of each Beijing day in UTC and
    ``attrs["time_resolution"] = "1D"``; ``<var>_n_stations`` counts stations with a valid
    daily mean.
    """
    return city_mean(
        daily_mean(ds, min_valid_hours=min_valid_hours),
        min_stations=min_stations,
        city_names=city_names,
    )
