"""The merged ``(site, time)`` dataset a model is trained and back-tested on, from config.

``training.observations`` are read with the engine's readers (station data become city means by
the national method) and ``training.weather`` is merged on the same UTC axis
(:mod:`forecast.merge`). Sites are cities; the target is ``pm25`` [µg/m³]. When the weather is
observed rather than forecast, the dataset is marked ``perfect_prog`` and every report says so.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from forecast.config import Config, ObservationSource, WeatherSource
from forecast.errors import ConfigError
from forecast.merge import merge
from forecast.met.pipeline import import_met
from forecast.met.point import read_beijing_hourly, read_region_met_daily
from forecast.obs.cities import city_values
from forecast.obs.dataset import import_observations, read_netcdf

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


def load_training_dataset(config: Config) -> xr.Dataset:
    """Observations (+ weather) of ``config.training`` as one merged city dataset."""
    sources = config.training.observations
    if not sources:
        raise ConfigError(
            f"{config.source}: training.observations is empty; name the files a model learns "
            "from (see benchmarks/skill/*.yaml for examples)"
        )
    parts = [_observations(s, config) for s in sources]
    ds = parts[0] if len(parts) == 1 else xr.merge(parts, join="outer", compat="no_conflicts")
    keep = [v for v in ds.data_vars if not str(v).endswith(("_qc", "_n_stations", "_valid_hours"))]
    ds = ds[keep]
    observed = False
    for weather in config.training.weather:
        ds = _with_weather(ds, weather, config)
        observed = observed or weather.observed
    ds.attrs["perfect_prog"] = int(observed)
    ds.attrs["perfect_prog_note"] = (
        "observed weather stands in for the forecast at the valid time (perfect-prog): "
        "operational skill will be lower"
        if observed
        else ""
    )
    return ds
