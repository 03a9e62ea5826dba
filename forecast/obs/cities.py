"""City values from station observations, with the settings of the configuration."""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from forecast.config import Config
from forecast.obs.aggregate import city_daily_mean, city_mean, rolling_24h_mean
from forecast.timeutil import utc_to_beijing

CityMethod = Literal["hourly", "daily", "rolling-24h"]


def city_values(stations: xr.Dataset, config: Config, method: CityMethod | str) -> xr.Dataset:
    """City means of a station Dataset by the national method.

    ``hourly``: mean of the non-reference stations at each hour; ``daily``: mean of the
    stations' valid Beijing-day means (each needs ``observations.city_mean.min_valid_hours``);
    ``rolling-24h``: mean of the stations' trailing 24-hour means (for the warning rules).
    """
    rules = config.observations.city_mean
    names = {c.id: c.name_zh for c in config.cities}
    if method == "hourly":
        return city_mean(stations, rules.min_stations, names)
    if method == "daily":
        return city_daily_mean(stations, rules.min_valid_hours, rules.min_stations, names)
    if method == "rolling-24h":
        return city_mean(
            rolling_24h_mean(stations, rules.min_valid_hours), rules.min_stations, names
        )
    raise ValueError(f"unknown method {method!r}; valid: hourly, daily, rolling-24h")


def format_city_table(cities: xr.Dataset, variable: str = "pm25") -> str:
    """Rows of Beijing-time steps, a column per city [units of ``variable``]; '—' = not valid."""
    local = utc_to_beijing(cities.indexes["time"])
    daily = cities.attrs.get("time_resolution") == "1D"
    stamp = "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"
    sites = [str(s) for s in cities["site"].values]
    units = cities[variable].attrs.get("units", "")
    header = f"{'Beijing time':<16}" + "".join(f"{s:>10}" for s in sites)
    lines = [f"{variable} [{units}]", header, "-" * len(header)]
    values = cities[variable].transpose("time", "site").values
    for t, row in zip(local, values, strict=True):
        cells = "".join(f"{v:>10.1f}" if np.isfinite(v) else f"{'—':>10}" for v in row)
        lines.append(f"{t.strftime(stamp):<16}{cells}")
    return "\n".join(lines)
