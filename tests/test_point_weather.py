"""Point weather readers: the real regional daily table and the Beijing PRSA benchmark.

Tests on the real files in ``../shared/data`` are skipped with a reason when the folder is
absent; expected values are computed independently from the raw CSV with pandas. The malformed
inputs are small files written to ``tmp_path`` and always run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import SHARED_DATA, require_shared

from forecast.errors import InputError
from forecast.met.point import (
    hourly_speed_from_cumulated,
    read_beijing_hourly,
    read_region_met_daily,
)

REGION_FILE = SHARED_DATA / "wuchangshi" / "urumqi_region_met_daily.csv"
BEIJING_FILE = SHARED_DATA / "beijing" / "PRSA_data_2010.1.1-2014.12.31.csv"
K = 273.15

shared = pytest.mark.shared


@pytest.fixture(scope="module")
def shared_dir() -> Path:
    return require_shared()


@pytest.fixture(scope="module")
def region(shared_dir: Path) -> xr.Dataset:
    return read_region_met_daily(REGION_FILE)


@pytest.fixture(scope="module")
def region_raw(shared_dir: Path) -> pd.DataFrame:
    return pd.read_csv(REGION_FILE)


@pytest.fixture(scope="module")
def beijing(shared_dir: Path) -> xr.Dataset:
    return read_beijing_hourly(BEIJING_FILE)


@pytest.fixture(scope="module")
def beijing_raw(shared_dir: Path) -> pd.DataFrame:
    return pd.read_csv(BEIJING_FILE)


# --------------------------------------------------------------------------------------------
# regional daily weather (real file)


@shared
def test_region_rows_dates_and_stamping(region: xr.Dataset) -> None:
    assert region.sizes == {"site": 1, "time": 1004}
    times = region.indexes["time"]
    # 2014-01-01 (Beijing day) starts at 2013-12-31 16:00 UTC; the last day is 2016-09-30.
    assert times[0] == pd.Timestamp("2013-12-31T16:00")
    assert times[-1] == pd.Timestamp("2016-09-29T16:00")
    assert (np.diff(times.values) == np.timedelta64(1, "D")).all()
    assert region["time"].dtype == np.dtype("datetime64[ns]")
    assert region.attrs["time_resolution"] == "1D"
    assert region.attrs["source_time_zone"] == "Asia/Shanghai"


@shared
def test_region_known_row_conversions(region: xr.Dataset) -> None:
    day = region.sel(site="urumqi_region", time="2013-12-31T16:00")
    assert float(day["t_elev_mean"]) == pytest.approx(262.95)  # -10.2 °C
    assert float(day["t_elev_max"]) == pytest.approx(-3.4 + K)
    assert float(day["p_elev_mean"]) == pytest.approx(808.10)  # 80810 Pa
    assert float(day["p_elev_max"]) == pytest.approx(810.10)
    assert float(day["tg_elev_min"]) == pytest.approx(-3.9 + K)
    assert float(day["rh_elev_mean"]) == 43.0
    assert float(day["wd_elev_max_code"]) == 12.0
    assert float(day["wd_elev_max"]) == 270.0  # code 12 = W
    assert float(day["sunshine_elev"]) == pytest.approx(6.4)


@shared
def test_region_whole_columns_match_pandas(region: xr.Dataset, region_raw: pd.DataFrame) -> None:
    site = region.sel(site="urumqi_region")
    np.testing.assert_allclose(site["t_elev_min"].values, region_raw["mintemp"] + K)
    np.testing.assert_allclose(site["p_elev_min"].values, region_raw["minp"] / 100)
    np.testing.assert_allclose(site["tp_elev"].values, region_raw["precipitation"])
    expected_deg = (region_raw["extremewswd"] * 22.5) % 360
    np.testing.assert_allclose(site["wd_elev_gust"].values, expected_deg)
    assert (site["wd_elev_gust"].values[region_raw["extremewswd"].to_numpy() == 16] == 0).all()


@shared
def test_region_is_marked_elevated_with_cf_and_provenance(region: xr.Dataset) -> None:
    assert region["kind"].item() == "weather_station_elevated"
    assert region.attrs["station_kind"] == "weather_station_elevated"
    assert 1800 < region["elevation_m"].item() < 1950
    # Names say "elevated": nothing can be mistaken for the city's surface weather.
    assert not {"t2m", "rh2m", "sp", "tp", "wind_speed", "wind_dir"} & set(region.data_vars)
    assert all("_elev" in name for name in region.data_vars)
    for name, var in region.data_vars.items():
        assert var.attrs.get("units"), name
        assert var.attrs.get("long_name"), name
    (source,) = json.loads(region.attrs["source_files"])
    assert source["file"] == REGION_FILE.name
    assert source["sha256"] == hashlib.sha256(REGION_FILE.read_bytes()).hexdigest()
    assert source["rows"] == 1004


# --------------------------------------------------------------------------------------------
# Beijing PRSA (real file)


@shared
def test_beijing_hours_and_missing_pm25(beijing: xr.Dataset) -> None:
    assert beijing.sizes == {"site": 1, "time": 43824}
    assert int(beijing["pm25"].isnull().sum()) == 2067
    assert int((beijing["pm25_qc"] & 1).astype(bool).sum()) == 2067
    times = beijing.indexes["time"]
    assert times[0] == pd.Timestamp("2009-12-31T16:00")  # 2010-01-01 00:00 BJT
    assert times[-1] == pd.Timestamp("2014-12-31T15:00")  # 2014-12-31 23:00 BJT
    assert beijing.attrs["time_resolution"] == "1h"
    (source,) = json.loads(beijing.attrs["source_files"])
    assert source["sha256"] == hashlib.sha256(BEIJING_FILE.read_bytes()).hexdigest()
    for name, var in beijing.data_vars.items():
        assert "units" in var.attrs, name


@shared
def test_beijing_0800_bjt_is_0000_utc(beijing: xr.Dataset, beijing_raw: pd.DataFrame) -> None:
    row = beijing_raw.query("year == 2010 and month == 1 and day == 2 and hour == 8").iloc[0]
    at = beijing.sel(site="beijing", time="2010-01-02T00:00")
    assert float(at["pm25"]) == row["pm2.5"] == 120
    assert float(at["t2m"]) == pytest.approx(row["TEMP"] + K)
    assert float(at["d2m"]) == pytest.approx(row["DEWP"] + K)
    assert float(at["sp"]) == row["PRES"]


@shared
def test_beijing_weather_against_pandas(beijing: xr.Dataset, beijing_raw: pd.DataFrame) -> None:
    site = beijing.sel(site="beijing")
    # Hourly wind speed: the increment of Iws within a run of one cbwd, Iws itself at a run start.
    run = (beijing_raw["cbwd"] != beijing_raw["cbwd"].shift()).cumsum()
    speed = beijing_raw.groupby(run)["Iws"].diff().fillna(beijing_raw["Iws"])
    np.testing.assert_allclose(site["wind_speed"].values, speed, atol=1e-6)
    assert site["wind_speed"].min() > 0
    calm = (beijing_raw["cbwd"] == "cv").to_numpy()
    assert np.isnan(site["wind_dir"].values[calm]).all()
    assert not np.isnan(site["wind_dir"].values[~calm]).any()
    np.testing.assert_array_equal(
        site["wind_dir"].values[beijing_raw["cbwd"].to_numpy() == "NW"], 315.0
    )
    rain_or_snow = ((beijing_raw["Is"] > 0) | (beijing_raw["Ir"] > 0)).to_numpy()
    np.testing.assert_array_equal(site["precip_flag"].values, rain_or_snow.astype(float))
    rh = site["rh2m"].values
    assert np.nanmin(rh) > 0 and np.nanmax(rh) <= 100.0
    # The one hour with DEWP = TEMP + 1 (whole-degree rounding) is clipped to saturation.
    over = (beijing_raw["DEWP"] > beijing_raw["TEMP"]).to_numpy()
    assert over.sum() == 1 and rh[over][0] == 100.0


# --------------------------------------------------------------------------------------------
# malformed inputs (always run)

REGION_HEADER = (
    "date,avgtemp,maxtemp,mintemp,avgrh,minrh,avgws,maxws,maxwswd,extremews,extremewswd,"
    "daylight,precipitation,avgp,maxp,minp,avggt,maxgt,mingt"
)
REGION_ROWS = [
    "2014-01-01,-10.2,-3.4,-12.9,43,30,2.7,4.1,12,5.0,12,6.4,0.0,80810,81010,80630,-3.6,-3.3,-3.9",
    "2014-01-02,-10.4,-3.0,-13.2,41,22,2.5,3.9,12,5.2,12,6.2,0.0,80980,81080,80930,-3.8,-3.3,-4.0",
    "2014-01-03,-7.1,1.3,-11.8,37,22,2.6,4.2,16,5.4,17,6.5,0.0,80830,81040,80600,-3.7,-3.3,-4.1",
]


def _write(
    tmp_path: Path, name: str, header: str, rows: list[str], encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def _region_with(tmp_path: Path, row: int, column: str, value: str) -> Path:
    names = REGION_HEADER.split(",")
    rows = [r.split(",") for r in REGION_ROWS]
    rows[row][names.index(column)] = value
    return _write(tmp_path, "met.csv", REGION_HEADER, [",".join(r) for r in rows])


def test_region_small_file_reads(tmp_path: Path) -> None:
    ds = read_region_met_daily(
        _write(tmp_path, "met.csv", REGION_HEADER, REGION_ROWS),
        lon=87.1,
        lat=43.5,
        elevation_m=1900.0,
    )
    assert ds.sizes["time"] == 3
    assert ds["elevation_m"].item() == 1900.0 and ds["lon"].item() == 87.1
    np.testing.assert_array_equal(ds["wd_elev_max"].values[0], [270.0, 270.0, 0.0])  # 16 = N
    assert np.isnan(ds["wd_elev_gust"].values[0, 2])  # 17 = calm
    assert ds["wd_elev_gust_code"].values[0, 2] == 17


def test_region_utf8_bom_missing_markers_and_gaps(tmp_path: Path) -> None:
    rows = [REGION_ROWS[0], REGION_ROWS[2].replace(",6.5,", ",,").replace(",37,", ",-,")]
    path = _write(tmp_path, "met.csv", REGION_HEADER, rows, encoding="utf-8-sig")
    ds = read_region_met_daily(path)
    assert ds.sizes["time"] == 3  # 2014-01-02 is absent: a NaN day on the regular axis
    assert np.isnan(ds["t_elev_mean"].values[0, 1])
    assert np.isnan(ds["sunshine_elev"].values[0, 2]) and np.isnan(ds["rh_elev_mean"].values[0, 2])
    (source,) = json.loads(ds.attrs["source_files"])
    assert source["encoding"] == "utf-8-sig"
    assert any("absent" in note for note in source["notes"])


def test_region_non_numeric_cell(tmp_path: Path) -> None:
    path = _region_with(tmp_path, 1, "avgtemp", "abc")
    with pytest.raises(InputError) as err:
        read_region_met_daily(path)
    text = str(err.value)
    assert str(path) in text and "line 3" in text and "'avgtemp'" in text
    assert "'abc'" in text and "expected a number in °C" in text


def test_region_missing_and_unknown_columns(tmp_path: Path) -> None:
    header = REGION_HEADER.replace(",minp", "")
    rows = [",".join(r.split(",")[:15] + r.split(",")[16:]) for r in REGION_ROWS]
    path = _write(tmp_path, "met.csv", header, rows)
    with pytest.raises(InputError, match=r"missing column\(s\) minp") as err:
        read_region_met_daily(path)
    assert str(path) in str(err.value) and "expected a regional daily weather header" in str(
        err.value
    )
    path = _write(
        tmp_path, "extra.csv", REGION_HEADER + ",station", [r + ",x" for r in REGION_ROWS]
    )
    with pytest.raises(InputError, match=r"column 'station': unknown column") as err:
        read_region_met_daily(path)
    assert "extra.csv" in str(err.value)


@pytest.mark.parametrize(
    ("value", "hint"),
    [("808.1", "looks like hPa"), ("8081", "looks like tenths of hPa"), ("180000", None)],
)
def test_region_pressure_in_wrong_unit(tmp_path: Path, value: str, hint: str | None) -> None:
    path = _region_with(tmp_path, 0, "avgp", value)
    with pytest.raises(InputError) as err:
        read_region_met_daily(path)
    text = str(err.value)
    assert str(path) in text and "line 2" in text and "'avgp'" in text and f"'{value}'" in text
    assert "expected 400–1100 hPa (this column is in Pa)" in text
    if hint:
        assert hint in text
    else:
        assert "looks like" not in text


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("avgrh", "120", "impossible value: 120 %"),
        ("avgws", "-1", "impossible value: -1 m/s"),
        ("avgtemp", "-102", "tenths of °C"),
        ("maxwswd", "0", "not a 16-point wind direction code"),
        ("extremewswd", "12.5", "not a 16-point wind direction code"),
        ("date", "2014-13-01", "not a date"),
        ("date", "2014-01-01", "time appears twice"),
        ("mintemp", "-1.0", "mintemp (-1.0) is larger than avgtemp"),
    ],
)
def test_region_impossible_values(tmp_path: Path, column: str, value: str, message: str) -> None:
    path = _region_with(tmp_path, 1, column, value)
    with pytest.raises(InputError) as err:
        read_region_met_daily(path)
    text = str(err.value)
    assert message in text and "line 3" in text and str(path) in text and "expected" in text


BEIJING_HEADER = "No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir"
BEIJING_ROWS = [
    "1,2010,1,2,6,100,-8,-6,1024,SE,1.79,0,0",
    "2,2010,1,2,7,,-8,-6,1024,SE,2.68,0,0",
    "3,2010,1,2,8,120,-8,-6,1024,NW,3.13,1,0",
    "4,2010,1,2,9,130,-8,-6,1024,cv,0.89,2,0",
    "5,2010,1,2,10,140,-8,-7,1025,cv,1.78,0,1",
]


def test_beijing_small_file(tmp_path: Path) -> None:
    ds = read_beijing_hourly(_write(tmp_path, "prsa.csv", BEIJING_HEADER, BEIJING_ROWS))
    site = ds.sel(site="beijing")
    assert site.indexes["time"][2] == pd.Timestamp("2010-01-02T00:00")  # 08:00 BJT
    np.testing.assert_allclose(site["pm25"].values, [100, np.nan, 120, 130, 140])
    np.testing.assert_allclose(site["wind_speed"].values, [1.79, 0.89, 3.13, 0.89, 0.89])
    np.testing.assert_allclose(site["wind_dir"].values, [135, 135, 315, np.nan, np.nan])
    np.testing.assert_array_equal(site["wind_sector"].values, [2, 2, 3, 0, 0])
    np.testing.assert_array_equal(site["snow_flag"].values, [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(site["precip_flag"].values, [0, 0, 1, 1, 1])
    np.testing.assert_allclose(site["rh2m"].values[0], 85.75, atol=0.05)  # -6 °C, Td -8 °C


def test_hourly_speed_from_cumulated_gaps_and_resets() -> None:
    sector = np.array([1.0, 1.0, np.nan, 1.0, 1.0, 2.0, 2.0])
    cum = np.array([1.0, 3.0, np.nan, 7.0, 6.0, 2.0, 5.0])
    np.testing.assert_allclose(
        hourly_speed_from_cumulated(sector, cum), [1.0, 2.0, np.nan, np.nan, np.nan, 2.0, 3.0]
    )


@pytest.mark.parametrize(
    ("row", "message", "column"),
    [
        ("3,2010,1,2,8,120,-8,-6,1024,SW,3.13,0,0", "unknown combined wind direction", "cbwd"),
        ("3,2010,1,2,8,120,-3,-6,1024,NW,3.13,0,0", "dew point is 3 K above", "DEWP"),
        ("3,2010,1,2,24,120,-8,-6,1024,NW,3.13,0,0", "not a valid date and hour", "hour"),
        ("3,2010,1,2,8,120,-8,-6,x,NW,3.13,0,0", "not a number", "PRES"),
        ("3,2010,1,2,8,120,-8,-6,102.4,NW,3.13,0,0", "impossible value: 102.4 hPa", "PRES"),
        ("3,2010,1,2,7,120,-8,-6,1024,NW,3.13,0,0", "time appears twice", "hour"),
    ],
)
def test_beijing_malformed(tmp_path: Path, row: str, message: str, column: str) -> None:
    path = _write(tmp_path, "prsa.csv", BEIJING_HEADER, [*BEIJING_ROWS[:2], row])
    with pytest.raises(InputError) as err:
        read_beijing_hourly(path)
    text = str(err.value)
    assert message in text and "line 4" in text and column in text and str(path) in text
    assert "expected" in text


def test_beijing_missing_column(tmp_path: Path) -> None:
    header = BEIJING_HEADER.replace(",Iws", "")
    rows = [",".join(r.split(",")[:10] + r.split(",")[11:]) for r in BEIJING_ROWS]
    with pytest.raises(InputError, match=r"missing column\(s\) iws"):
        read_beijing_hourly(_write(tmp_path, "prsa.csv", header, rows))
