"""Merging observations with site meteorology on one UTC time axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.config import Config
from forecast.merge import merge, met_to_beijing_days, met_to_hourly
from forecast.obs.dataset import import_observations
from forecast.timeutil import beijing_to_utc

NOW = pd.Timestamp("2026-11-28")


def _met(sites: list[str], times: pd.DatetimeIndex) -> xr.Dataset:
    """Meteorology whose blh equals the UTC hour of day, so any time shift is visible."""
    hours = np.asarray(times.hour, dtype=np.float64)
    blh = np.tile(hours * 10.0, (len(sites), 1))
    return xr.Dataset(
        {
            "blh": (("site", "time"), blh, {"units": "m"}),
            "tp": (("site", "time"), np.ones_like(blh), {"units": "mm"}),
        },
        coords={"site": sites, "time": times},
        attrs={"time_resolution": "1h"},
    )


def test_known_case_08_beijing_is_00_utc(tmp_path: Path, config: Config) -> None:
    # One observation labelled 2022-01-01 08:00 Beijing time must meet the grid at 00:00 UTC.
    path = tmp_path / "2022-01-01T08.csv"
    path.write_text(
        "timepoint,stationcode,pm2_5\n2022-01-01T08:00:00,1490A,174\n2022-01-01T08:00:00,1491A,168\n",
        encoding="utf-8",
    )
    obs = import_observations([path], "cnemc-hourly", config, now=NOW).dataset
    assert obs.indexes["time"][0] == pd.Timestamp("2022-01-01 00:00")
    met = _met(list(obs["site"].values), pd.date_range("2021-12-31 18:00", periods=12, freq="h"))
    merged = merge(obs, met)
    # blh = 10 × UTC hour: 0 at 00:00 UTC (= 08:00 Beijing time).
    assert merged["blh"].sel(site="1490A").values.tolist() == [0.0]
    assert merged["pm25"].sel(site="1490A").item() == 174.0
    assert beijing_to_utc(pd.DatetimeIndex(["2022-01-01 08:00"]))[0] == pd.Timestamp("2022-01-01")


def test_three_hourly_met_interpolated_to_hours() -> None:
    times = pd.date_range("2020-01-01", periods=9, freq="3h")
    met = _met(["a"], times)
    met["blh"][0, 4] = np.nan  # one missing 3-h value: a 6-h gap, bridged by default
    hourly = met_to_hourly(met, pd.date_range("2020-01-01", periods=25, freq="h"))
    assert hourly["blh"].sel(site="a").values[1] == pytest.approx(10.0)
    assert hourly["blh"].sel(site="a").values[12] == pytest.approx(120.0)  # inside the gap
    assert np.isnan(met_to_hourly(met, pd.DatetimeIndex(["2020-01-01 12:00"]), 2.0)["blh"]).all()
    # 1 mm in 3 h becomes 1/3 mm in each of its hours
    assert hourly["tp"].sel(site="a").values[1:4] == pytest.approx([1 / 3] * 3)


def test_beijing_days_aggregate_16_to_16_utc() -> None:
    times = pd.date_range("2019-12-31 16:00", periods=48, freq="h")
    met = _met(["a"], times)
    starts = pd.DatetimeIndex(["2019-12-31 16:00", "2020-01-01 16:00"])
    daily = met_to_beijing_days(met, starts)
    # Hours 16..23 and 0..15 UTC: the mean of 10×hour over a full day is 115.
    assert daily["blh"].sel(site="a").values == pytest.approx([115.0, 115.0])
    assert daily["blh_min"].sel(site="a").values == pytest.approx([0.0, 0.0])
    assert daily["tp"].sel(site="a").values == pytest.approx([24.0, 24.0])
    short = met_to_beijing_days(met.isel(time=slice(0, 12)), starts)
    assert np.isnan(short["blh"].values).all()  # 12 of 24 hours < 75 %


def test_point_weather_broadcast_to_cities() -> None:
    starts = pd.DatetimeIndex(["2019-12-31 16:00", "2020-01-01 16:00"])
    obs = xr.Dataset(
        {"pm25": (("site", "time"), [[100.0, 200.0], [50.0, 60.0]])},
        coords={"site": ["urumqi", "changji"], "time": starts},
        attrs={"time_resolution": "1D"},
    )
    point = xr.Dataset(
        {"t_mean": (("site", "time"), [[260.0, 262.0]], {"units": "K"})},
        coords={"site": ["urumqi_region"], "time": starts},
        attrs={"time_resolution": "1D"},
    )
    merged = merge(obs, point, prefix="elev_", broadcast_sites=True)
    assert merged["elev_t_mean"].dims == ("site", "time")
    assert merged["elev_t_mean"].values.tolist() == [[260.0, 262.0], [260.0, 262.0]]
    with pytest.raises(ValueError, match="no values for site"):
        merge(obs, point.assign_coords(site=["x"]))


def test_real_city_daily_with_elevated_station_weather(config: Config, shared_data: Path) -> None:
    from forecast.met.point import read_region_met_daily

    wcs = shared_data / "wuchangshi"
    obs = import_observations(
        [wcs / "wuchangshi_daily_aqistudy.csv"], "city-daily", config, now=NOW
    ).dataset
    weather = read_region_met_daily(wcs / "urumqi_region_met_daily.csv")
    merged = merge(obs, weather, broadcast_sites=True)
    day = beijing_to_utc(pd.DatetimeIndex(["2015-01-10"]))[0]
    row = merged.sel(time=day)
    raw = pd.read_csv(wcs / "urumqi_region_met_daily.csv").set_index("date").loc["2015-01-10"]
    # The same elevated-station weather stands beside every city, converted °C → K.
    assert np.allclose(row["t_elev_mean"].values, raw["avgtemp"] + 273.15)
    assert row["pm25"].sel(site="urumqi").item() > 0
    assert set(merged["site"].values) == {"urumqi", "changji", "shihezi", "wujiaqu"}
    with pytest.raises(ValueError, match="daily meteorology cannot be merged into hourly"):
        merge(obs.assign_attrs(time_resolution="1h"), weather, broadcast_sites=True)


def test_tidy_times_with_an_explicit_offset_are_converted(tmp_path: Path, config: Config) -> None:
    # 06:00 at UTC+6 (Urumqi time), 00:00Z and 08:00 Beijing time are the same instant.
    path = tmp_path / "tidy.csv"
    path.write_text(
        "site,time,pm25\n1490A,2022-01-01T06:00:00+06:00,100\n1491A,2022-01-01T00:00:00Z,90\n"
        "1493A,2022-01-01T08:00:00,80\n",
        encoding="utf-8",
    )
    ds = import_observations([path], "tidy", config, now=NOW).dataset
    assert list(ds.indexes["time"]) == [pd.Timestamp("2022-01-01 00:00")]
    values = ds["pm25"].isel(time=0)
    assert values.sel(site=["1490A", "1491A", "1493A"]).values.tolist() == [100.0, 90.0, 80.0]
