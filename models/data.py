"""The merged ``(site, time)`` dataset a model is trained and back-tested on, from config.

``training.observations`` are read with the engine's readers (station data become city means by
the national method) and ``training.weather`` is merged on the same UTC axis
(:mod:`forecast.merge`). Sites are cities; the target is ``pm25`` [µg/m³]. When the weather is
observed rather than forecast, the dataset is marked ``perfect_prog`` and every report says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecast.config import Config, ObservationSource, WeatherSource
from forecast.errors import ConfigError
from forecast.merge import merge
from forecast.met.pipeline import import_met
from forecast.met.point import read_beijing_hourly, read_region_met_daily
from forecast.obs.cities import city_values
from forecast.obs.dataset import import_observations, read_netcdf
from forecast.timeutil import beijing_to_utc

#: Far enough in the future that archive files never count as "in the future" here.
_ARCHIVE_NOW = pd.Timestamp("2100-01-01")


def _observations(source: ObservationSource, config: Config) -> xr.Dataset:
    if source.format == "beijing-hourly":
        frames = [read_beijing_hourly(p) for p in source.paths]
        return xr.concat(frames, dim="time") if len(frames) > 1 else frames[0]
    if source.format == "obs-netcdf":
        parts = [read_netcdf(p) for p in sorted(source.paths)]
        ds = (
            xr.concat(parts, dim="time", data_vars="minimal", coords="minimal", compat="override")
            if len(parts) > 1
            else parts[0]
        )
    else:
        ds = import_observations(
            source.paths, source.format, config, city=source.city, now=_ARCHIVE_NOW
        ).dataset
    if ds["kind"].values[0] == "station":
        ds = city_values(ds, config, "hourly" if ds.attrs["time_resolution"] == "1h" else "daily")
    return ds


def _with_weather(obs: xr.Dataset, source: WeatherSource, config: Config) -> xr.Dataset:
    if source.kind == "region-met-daily":
        (path,) = source.paths
        return merge(obs, read_region_met_daily(path), broadcast_sites=True)
    if source.kind == "beijing-hourly":
        return obs  # the PRSA table holds PM2.5 and weather together
    met = import_met(source.paths, config, kind="city", sites=list(obs["site"].values)).dataset
    return merge(obs, met)


REGION_POOL_EXCLUDE = ("乌鲁木齐", "昌吉州", "石河子", "五家渠")


def load_pool(
    path: Path,
    times: pd.DatetimeIndex,
    *,
    max_cities: int,
    until: pd.Timestamp,
    exclude: tuple[str, ...] = REGION_POOL_EXCLUDE,
) -> xr.Dataset:
    """Daily PM2.5 [µg/m³] of the cities with the most heavy days (> 150) up to ``until``.

    ``path`` is the 366-city daily table (``city, date, …, PM2.5, …``, Beijing dates); city
    coordinates come from ``cnemc_stations_1498.csv`` beside it (mean of each city's
    stations) when present. Days are stamped like every daily dataset (start of the Beijing
    day in UTC) and put on ``times``; the pool has no weather (NaN predictors).
    """
    table = pd.read_csv(path, usecols=["city", "date", "PM2.5"])
    table = table[~table["city"].isin(exclude)]
    table["date"] = pd.to_datetime(table["date"], format="%Y-%m-%d")
    heavy = table[(table["date"] <= until) & (table["PM2.5"] > 150)].groupby("city").size()
    chosen = list(heavy.sort_values(ascending=False, kind="stable").index[:max_cities])
    wide = table[table["city"].isin(chosen)].pivot_table(
        index="date", columns="city", values="PM2.5", aggfunc="mean"
    )
    wide.index = beijing_to_utc(wide.index).astype("datetime64[ns]")
    wide = wide.reindex(times)
    stations = path.parent / "cnemc_stations_1498.csv"
    lon = lat = pd.Series(np.nan, index=wide.columns)
    if stations.is_file():
        coords = pd.read_csv(stations).groupby("area")[["lon", "lat"]].mean()
        lon, lat = coords["lon"].reindex(wide.columns), coords["lat"].reindex(wide.columns)
    sites = [f"pool:{c}" for c in wide.columns]
    return xr.Dataset(
        {"pm25": (("site", "time"), wide.T.to_numpy(dtype=np.float64), {"units": "µg/m³"})},
        coords={
            "site": np.array(sites, dtype=object),
            "time": times,
            "lon": ("site", lon.to_numpy()),
            "lat": ("site", lat.to_numpy()),
            "name": ("site", np.array(list(wide.columns), dtype=object)),
            "city": ("site", np.array(sites, dtype=object)),
            "reference_site": ("site", np.zeros(len(sites), dtype=bool)),
            "kind": ("site", np.array(["city"] * len(sites), dtype=object)),
        },
    )


def load_training_dataset(config: Config, *, pool_until: pd.Timestamp | None = None) -> xr.Dataset:
    """Observations (+ weather) of ``config.training`` as one merged city dataset."""
    sources = config.training.observations
    if not sources:
        raise ConfigError(
            f"{config.source}: training.observations is empty; name the files a model learns "
            "from (see benchmarks/skill/*.yaml for examples)"
        )
    parts = [_observations(s, config) for s in sources]
    ds = parts[0] if len(parts) == 1 else xr.merge(parts, join="outer", compat="no_conflicts")
    # Separate periods (e.g. several winters) become one regular axis with NaN steps between
    # them, so that lags and windows never reach across a gap.
    times = pd.DatetimeIndex(ds.indexes["time"])
    step = {"1h": "h", "1D": "D"}.get(str(ds.attrs.get("time_resolution")))
    if step is not None and len(times) > 1:
        regular = pd.date_range(times[0], times[-1], freq=step).astype("datetime64[ns]")
        if len(regular) != len(times):
            ds = ds.reindex(time=regular)
    keep = [v for v in ds.data_vars if not str(v).endswith(("_qc", "_n_stations", "_valid_hours"))]
    ds = ds[keep]
    observed = False
    for weather in config.training.weather:
        ds = _with_weather(ds, weather, config)
        observed = observed or weather.observed
    if config.training.pool is not None:
        if ds.attrs.get("time_resolution") != "1D":
            raise ConfigError(f"{config.source}: training.pool pools daily data only")
        until = pool_until if pool_until is not None else pd.Timestamp.max
        pool = load_pool(
            config.training.pool,
            pd.DatetimeIndex(ds.indexes["time"]),
            max_cities=config.training.pool_max_cities,
            until=until,
        )
        attrs = dict(ds.attrs)
        ds = xr.concat(
            [ds, pool],
            dim="site",
            join="outer",
            data_vars="all",
            coords="minimal",
            compat="override",
        )
        ds.attrs = {**attrs, "pool_sites": list(pool["site"].values)}
    ds.attrs["perfect_prog"] = int(observed)
    ds.attrs["perfect_prog_note"] = (
        "observed weather stands in for the forecast at the valid time (perfect-prog): "
        "operational skill will be lower"
        if observed
        else ""
    )
    return ds
