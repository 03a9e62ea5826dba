"""Observations + site meteorology → one merged ``(site, time)`` Dataset.

Both inputs are already on UTC time axes: the readers convert Beijing time to UTC in
:mod:`forecast.timeutil`, and grids are UTC. Merging therefore never shifts time zones; it only
brings the meteorology to the observations' time step:

- hourly observations: state variables (temperatures, wind, BLH, humidity, pressure) are
  interpolated linearly in time across gaps of at most ``max_gap_hours``; interval amounts
  (precipitation ``tp``) are spread evenly over the hours of their interval;
- daily observations (stamped at the start of the Beijing day, 16:00 UTC the day before):
  hourly or 3-hourly meteorology is averaged over the Beijing day's instants (``tp`` summed,
  ``blh`` also as its daily minimum ``blh_min``), needing ``min_daily_fraction`` of the day;
- daily point weather (one station, e.g. the elevated regional station) is broadcast to every
  observation site (the same values at each), its variables keeping their own names.
"""

from __future__ import annotations

from collections.abc import Hashable

import pandas as pd
import xarray as xr

from forecast.timeutil import beijing_to_utc, utc_to_beijing

#: Variables that are amounts over the interval ending at the valid time (summed, not averaged).
AMOUNT_VARIABLES: frozenset[str] = frozenset({"tp"})


def is_amount(name: str) -> bool:
    """Precipitation amounts (``tp``, ``tp_elev``, …) are summed over time, never averaged."""
    return name in AMOUNT_VARIABLES or name.startswith("tp_")


_HOUR = pd.Timedelta(hours=1)


def _met_step(met: xr.Dataset) -> pd.Timedelta:
    times = met.indexes["time"]
    if len(times) < 2:
        raise ValueError("meteorology needs at least two time steps to be aligned")
    steps = pd.Series(times[1:] - times[:-1])
    if (steps <= pd.Timedelta(0)).any():
        raise ValueError("meteorology times must be strictly increasing")
    return pd.Timedelta(steps.min())


def met_to_hourly(
    met: xr.Dataset, times: pd.DatetimeIndex, max_gap_hours: float = 6.0
) -> xr.Dataset:
    """Meteorology ``(site, time)`` at any step ≥ 1 h → values at the hourly ``times`` [UTC].

    State variables are interpolated linearly in time; gaps in the meteorology of at most
    ``max_gap_hours`` (between the valid values around them) are bridged, longer gaps and times
    outside the meteorology's range stay NaN (no extrapolation).
    Amounts over the interval ending at each valid time are divided evenly over its hours.
    """
    step = _met_step(met)
    # One time unit on both sides: xarray interpolates datetimes as numbers in their own unit.
    times = pd.DatetimeIndex(times).astype("datetime64[ns]")
    met = met.assign_coords(time=met.indexes["time"].astype("datetime64[ns]"))
    out: dict[Hashable, xr.DataArray] = {}
    for name, var in met.data_vars.items():
        if "time" not in var.dims:
            continue
        if is_amount(str(name)):
            # An amount for (t-step, t] is spread as step/1h equal hourly amounts ending t-k h.
            per_hour = var / (step / _HOUR)
            shifted = per_hour.reindex(
                time=times, method="bfill", tolerance=step - _HOUR if step > _HOUR else None
            )
            out[name] = shifted.assign_attrs(var.attrs)
            continue
        bridged = var.interpolate_na(
            "time", method="linear", max_gap=pd.Timedelta(hours=max_gap_hours)
        )
        # Exact values at coinciding times (interpolation would add rounding noise there).
        exact = bridged.reindex(time=times)
        interpolated = bridged.interp(time=times, method="linear")
        out[name] = exact.fillna(interpolated).assign_attrs(var.attrs)
    result = xr.Dataset(out, coords={k: v for k, v in met.coords.items() if "time" not in v.dims})
    return result.assign_coords(time=times).assign_attrs(met.attrs)


def met_to_beijing_days(
    met: xr.Dataset, day_starts_utc: pd.DatetimeIndex, min_daily_fraction: float = 0.75
) -> xr.Dataset:
    """Meteorology → Beijing-day aggregates stamped at each day's start [UTC].

    Each valid time belongs to the Beijing calendar day it falls in (00:00–23:59 BJT, i.e.
    16:00 UTC the day before up to 15:59 UTC). Means for state variables (plus ``blh_min``, the
    day's lowest boundary layer [m]); sums for amounts. A day with fewer than
    ``min_daily_fraction`` of the expected number of valid values is NaN.
    """
    expected = pd.Timedelta(days=1) / _met_step(met)
    day = beijing_to_utc(utc_to_beijing(met.indexes["time"]).floor("D"))
    labelled = met.assign_coords(day=("time", day.values.astype("datetime64[ns]")))
    out = {}
    for name, var in labelled.data_vars.items():
        if "time" not in var.dims:
            continue
        groups = var.groupby("day")
        enough = groups.count() >= min_daily_fraction * expected
        agg = groups.sum() if is_amount(str(name)) else groups.mean()
        out[name] = agg.where(enough).assign_attrs(var.attrs)
        if name == "blh":
            out["blh_min"] = (
                groups.min()
                .where(enough)
                .assign_attrs(units="m", long_name="daily minimum boundary-layer height")
            )
    ds = xr.Dataset(out).rename(day="time")
    ds = ds.reindex(time=pd.DatetimeIndex(day_starts_utc).astype("datetime64[ns]"))
    return ds.assign_attrs({**met.attrs, "time_resolution": "1D"})


def merge(
    obs: xr.Dataset, met: xr.Dataset, *, prefix: str = "", broadcast_sites: bool = False
) -> xr.Dataset:
    """Merge site meteorology into observations on the observations' ``(site, time)`` axes.

    ``met`` must have the same sites as ``obs`` (interpolated to them), or a single site with
    ``broadcast_sites=True`` (a point weather station standing for the region). Its variables
    are renamed with ``prefix`` (e.g. ``"elev_"``) to keep their origin visible.
    """
    resolution = obs.attrs.get("time_resolution")
    if resolution not in ("1h", "1D"):
        raise ValueError(f"observations need time_resolution '1h' or '1D', got {resolution!r}")
    times = obs.indexes["time"]
    met_resolution = met.attrs.get("time_resolution")
    if resolution == "1h":
        if met_resolution == "1D":
            raise ValueError(
                "daily meteorology cannot be merged into hourly observations; merge it with "
                "daily (city or station) means instead"
            )
        aligned = met_to_hourly(met, times)
    elif met_resolution == "1D":
        aligned = met.reindex(time=times)
    else:
        aligned = met_to_beijing_days(met, times)
    if broadcast_sites:
        if aligned.sizes.get("site", 1) != 1:
            raise ValueError("broadcast_sites needs meteorology for exactly one site")
        aligned = aligned.isel(site=0, drop=True) if "site" in aligned.dims else aligned
        aligned = aligned.drop_vars([c for c in aligned.coords if c != "time"])
        # The same values at every observation site, so every variable stays (site, time).
        aligned = aligned.expand_dims(site=obs["site"].values)
    else:
        missing = sorted(set(obs["site"].values) - set(aligned["site"].values))
        if missing:
            raise ValueError(
                f"meteorology has no values for site(s) {', '.join(map(str, missing[:10]))}; "
                "interpolate the grid to the observation sites first"
            )
        aligned = aligned.sel(site=obs["site"].values)
        aligned = aligned.drop_vars([c for c in aligned.coords if c not in ("time", "site")])
    clash = [n for n in aligned.data_vars if f"{prefix}{n}" in obs.data_vars]
    if clash:
        raise ValueError(f"variables {clash} exist in both inputs; pass a prefix")
    renamed = aligned.rename({n: f"{prefix}{n}" for n in aligned.data_vars}) if prefix else aligned
    merged = xr.merge(
        [obs, renamed.transpose(*[d for d in ("site", "time") if d in renamed.dims])],
        join="left",
        compat="override",
        combine_attrs="override",
    )
    merged.attrs = {**obs.attrs, "meteorology_sources": met.attrs.get("source_files", "")}
    return merged
