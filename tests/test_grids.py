"""Tests of forecast.met.grids: opening, normalising and validating meteorological grids."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import ROOT, require_shared

from forecast.config import Config, load_config
from forecast.errors import InputError
from forecast.met.grids import (
    UNIT_CONVERSIONS,
    convert_units,
    decode_wrf_times,
    open_grid,
    validate_grid,
)
from forecast.met.interp import grid_to_sites


def _grids() -> Path:
    return require_shared("grids")


def _cfgrib() -> None:
    pytest.importorskip("cfgrib", reason='GRIB needs the optional extra: pip install -e ".[grib]"')


@pytest.fixture(scope="module")
def stations() -> tuple[list[str], np.ndarray, np.ndarray]:
    cfg: Config = load_config(ROOT / "config.yaml")
    return (
        [s.code for s in cfg.stations],
        np.array([s.lon for s in cfg.stations]),
        np.array([s.lat for s in cfg.stations]),
    )


# --------------------------------------------------------------------------------------------
# synthetic files
# --------------------------------------------------------------------------------------------
def regular_ds(
    times: list[str] | pd.DatetimeIndex,
    *,
    lat: np.ndarray | None = None,
    lon: np.ndarray | None = None,
    seed: int = 0,
) -> xr.Dataset:
    """A small raw source grid: lat north→south, lon 0–360, °C, Pa, fraction."""
    lat = np.arange(48.0, 39.9, -1.0) if lat is None else lat
    lon = np.arange(80.0, 96.1, 2.0) if lon is None else lon
    t = pd.DatetimeIndex(times)
    rng = np.random.default_rng(seed)
    shape = (t.size, lat.size, lon.size)
    return xr.Dataset(
        {
            "t2m": (("time", "lat", "lon"), rng.uniform(-20, 5, shape), {"units": "degC"}),
            "sp": (("time", "lat", "lon"), rng.uniform(85000, 95000, shape), {"units": "Pa"}),
            "r2": (("time", "lat", "lon"), rng.uniform(0.3, 0.9, shape), {"units": "1"}),
            "orography": (("lat", "lon"), np.zeros(shape[1:]), {"units": "m"}),
        },
        coords={
            "time": t,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )


def write(ds: xr.Dataset, path: Path) -> Path:
    ds.to_netcdf(path)
    return path


# --------------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("canonical", "units", "value", "expected"),
    [
        ("t2m", "degC", 0.0, 273.15),
        ("t2m", "°C", -20.0, 253.15),
        ("t2m", "C", 10.0, 283.15),
        ("t2m", "K", 250.0, 250.0),
        ("sp", "Pa", 101325.0, 1013.25),
        ("sp", "hPa", 900.0, 900.0),
        ("rh2m", "1", 0.55, 55.0),
        ("rh2m", "fraction", 0.2, 20.0),
        ("rh2m", "%", 42.0, 42.0),
        ("u10", "m s-1", 3.0, 3.0),
        ("u10", "m s**-1", 3.0, 3.0),
        ("u10", "m/s", 3.0, 3.0),
        ("tp", "kg m-2", 1.5, 1.5),
        ("tp", "m", 0.002, 2.0),
        ("blh", "m", 400.0, 400.0),
        ("blh", "km", 0.4, 400.0),
    ],
)
def test_unit_conversion_table(canonical: str, units: str, value: float, expected: float) -> None:
    da = xr.DataArray(np.array([value]), dims="x", attrs={"units": units})
    out = convert_units(da, canonical)
    assert out.values[0] == pytest.approx(expected, abs=1e-9)
    assert out.attrs["units"] in UNIT_CONVERSIONS
    assert da.attrs["units"] == units  # the input is not modified


def test_unrecognised_unit_names_file_variable_and_unit(tmp_path: Path) -> None:
    ds = regular_ds(["2020-01-01"])
    ds["t2m"].attrs["units"] = "furlongs"
    path = write(ds, tmp_path / "bad_units.nc")
    with pytest.raises(InputError) as err:
        open_grid(path)
    text = str(err.value)
    assert "bad_units.nc" in text
    assert "'t2m'" in text
    assert "furlongs" in text
    assert "'degC'" in text and "'K'" in text  # the accepted units are listed


def test_missing_units_attribute_is_an_error(tmp_path: Path) -> None:
    ds = regular_ds(["2020-01-01"])
    del ds["sp"].attrs["units"]
    path = write(ds, tmp_path / "no_units.nc")
    with pytest.raises(InputError, match=r"no units attribute for variable 'sp'"):
        open_grid(path)


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------
def test_netcdf_is_normalised_to_canonical_layout(tmp_path: Path) -> None:
    lon = np.array([350.0, 355.0, 0.0, 5.0, 80.0, 85.0, 90.0])  # 0–360, crosses 0
    raw = regular_ds(["2020-01-01T06", "2020-01-01T00"], lon=lon)  # times out of order
    path = write(raw, tmp_path / "grid.nc")
    ds = open_grid(path)
    assert list(ds.data_vars) == ["t2m", "rh2m", "sp"]  # canonical order; orography dropped
    assert "orography" in ds.attrs["dropped_variables"]
    assert ds["t2m"].dims == ("time", "lat", "lon")
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(ds["time"].values) > np.timedelta64(0))
    assert np.all(np.diff(ds["lat"].values) > 0)
    np.testing.assert_allclose(ds["lon"].values, [-10, -5, 0, 5, 80, 85, 90])
    # a value moved with its coordinates and converted: raw (time 0 = 06 UTC, lat 48, lon 350)
    got = ds["t2m"].sel(time="2020-01-01T06", lat=48.0, lon=-10.0).item()
    assert got == pytest.approx(raw["t2m"].isel(time=0, lat=0, lon=0).item() + 273.15)
    got_sp = ds["sp"].sel(time="2020-01-01T00", lat=40.0, lon=90.0).item()
    assert got_sp == pytest.approx(raw["sp"].isel(time=1, lat=-1, lon=-1).item() / 100)
    assert ds["rh2m"].max() <= 100 and ds["rh2m"].min() >= 30
    assert ds["t2m"].attrs["units"] == "K" and ds["t2m"].attrs["source_units"] == "degC"
    assert ds["sp"].attrs["long_name"] == "surface air pressure"
    assert str(path) in ds.attrs["source_files"]
    assert ds.attrs["grid_type"] == "regular"


def test_times_with_a_zone_offset_become_naive_utc(tmp_path: Path) -> None:
    raw = regular_ds(["2020-01-01"])
    raw["time"] = ("time", [0.0, 3.0][:1])
    raw["time"].attrs["units"] = "hours since 2020-01-01 08:00:00+08:00"  # = 00 UTC
    ds = open_grid(write(raw, tmp_path / "offset.nc"))
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2020-01-01 00:00")


def test_variables_override_maps_custom_names(tmp_path: Path) -> None:
    raw = regular_ds(["2020-01-01"]).rename({"t2m": "TMP_2m"})
    path = write(raw, tmp_path / "custom.nc")
    assert "t2m" not in open_grid(path)
    ds = open_grid(path, variables={"TMP_2m": "t2m"})
    assert ds["t2m"].attrs["source_name"] == "TMP_2m"
    with pytest.raises(ValueError, match="not a canonical variable"):
        open_grid(path, variables={"TMP_2m": "temperature"})


def test_out_of_range_values_are_masked_and_counted(tmp_path: Path) -> None:
    raw = regular_ds(["2020-01-01"])
    raw["t2m"][0, 0, 0] = 500.0  # 773 K: impossible
    ds = open_grid(write(raw, tmp_path / "hot.nc"))
    assert np.isnan(ds["t2m"].sel(lat=48.0, lon=80.0)).all()
    assert ds["t2m"].attrs["n_out_of_range"] == 1


def test_pressure_levels_give_t850(tmp_path: Path) -> None:
    raw = regular_ds(["2020-01-01"])[["t2m"]]
    t = np.stack([raw["t2m"].values + 273.15 - 10 * i for i in range(3)], axis=1)
    ds_in = xr.Dataset(
        {"t": (("time", "pressure_level", "lat", "lon"), t, {"units": "K"})},
        coords={
            **raw.coords,
            "pressure_level": ("pressure_level", [1000.0, 850.0, 500.0], {"units": "hPa"}),
        },
    )
    ds = open_grid(write(ds_in, tmp_path / "levels.nc"))
    assert list(ds.data_vars) == ["t850"]
    np.testing.assert_allclose(ds["t850"].values[:, ::-1], t[:, 1])  # lat flipped ascending


def test_many_files_are_concatenated_sorted_and_duplicates_rejected(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    folder.mkdir()
    for i, t in enumerate(["2020-01-01T06", "2020-01-01T00", "2020-01-01T03"]):
        write(regular_ds([t], seed=i), folder / f"f{i}.nc")
    by_dir = open_grid(folder)
    by_glob = open_grid(str(folder / "*.nc"))
    by_list = open_grid(sorted(folder.glob("*.nc")))
    expected = pd.DatetimeIndex(["2020-01-01T00", "2020-01-01T03", "2020-01-01T06"])
    assert pd.DatetimeIndex(by_dir["time"].values).equals(expected)
    xr.testing.assert_identical(by_dir, by_glob)
    xr.testing.assert_equal(by_dir, by_list)
    # the 00 UTC step comes from f1.nc (seed 1)
    first = regular_ds(["2020-01-01T00"], seed=1)["t2m"].isel(time=0, lat=-1, lon=0).item()
    assert by_dir["t2m"].isel(time=0, lat=0, lon=0).item() == pytest.approx(first + 273.15)
    assert len(by_dir.attrs["source_files"].split("\n")) == 3
    write(regular_ds(["2020-01-01T03"], seed=9), folder / "f9.nc")
    with pytest.raises(InputError, match=r"duplicate valid time 2020-01-01 03:00:00") as err:
        open_grid(folder)
    assert "f2.nc" in str(err.value) and "f9.nc" in str(err.value)


def test_files_on_different_grids_are_rejected(tmp_path: Path) -> None:
    a = write(regular_ds(["2020-01-01T00"]), tmp_path / "a.nc")
    b = write(regular_ds(["2020-01-01T03"], lat=np.arange(49.0, 40.9, -1.0)), tmp_path / "b.nc")
    with pytest.raises(InputError, match="grid"):
        open_grid([a, b])


def test_missing_path_and_empty_glob(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        open_grid(tmp_path / "nope.nc")
    with pytest.raises(InputError, match="no file matches"):
        open_grid(str(tmp_path / "*.nc"))


def test_precipitation_rate_becomes_amount(tmp_path: Path) -> None:
    times = pd.date_range("2020-01-01", periods=3, freq="3h")
    rate = np.full((3, 2, 2), 1e-4)  # kg m-2 s-1 = mm/s
    ds_in = xr.Dataset(
        {"prate": (("time", "lat", "lon"), rate, {"units": "kg m-2 s-1"})},
        coords={"time": times, "lat": [40.0, 41.0], "lon": [80.0, 81.0]},
    )
    ds = open_grid(write(ds_in, tmp_path / "rate.nc"))
    np.testing.assert_allclose(ds["tp"].values, 1e-4 * 3 * 3600)  # 1.08 mm per 3 h
    assert ds["tp"].attrs["units"] == "mm" and "rate" in ds["tp"].attrs["comment"]
    with pytest.raises(InputError, match="needs an interval"):
        open_grid(write(ds_in.isel(time=[0]), tmp_path / "rate1.nc"))


def test_ensemble_keep_and_mean_spread(tmp_path: Path) -> None:
    raw = regular_ds(["2020-01-01", "2020-01-02"])[["t2m"]]
    members = xr.concat([raw + i for i in range(5)], dim="number")
    members["t2m"].attrs["units"] = "degC"
    path = write(members, tmp_path / "ens.nc")
    kept = open_grid(path)
    assert kept["t2m"].dims == ("time", "member", "lat", "lon")
    reduced = open_grid(path, ensemble="mean_spread")
    assert set(reduced.data_vars) == {"t2m_mean", "t2m_spread"}
    np.testing.assert_allclose(reduced["t2m_mean"], kept["t2m"].mean("member"))
    np.testing.assert_allclose(reduced["t2m_spread"], np.std(np.arange(5.0)))
    assert reduced["t2m_mean"].attrs["units"] == "K"


# --------------------------------------------------------------------------------------------
# WRF
# --------------------------------------------------------------------------------------------
def test_decode_wrf_times() -> None:
    got = decode_wrf_times(np.array([b"2005-09-21_00:00:00", b"2005-09-21_03:00:00"]))
    assert got.dtype == np.dtype("datetime64[ns]")
    assert list(pd.DatetimeIndex(got)) == [
        pd.Timestamp("2005-09-21 00:00"),
        pd.Timestamp("2005-09-21 03:00"),
    ]
    chars = np.array([[c.encode() for c in "2010-01-31_23:30:00"]])  # (Time, DateStrLen)
    assert pd.Timestamp(decode_wrf_times(chars)[0]) == pd.Timestamp("2010-01-31 23:30")
    with pytest.raises(InputError, match="Times"):
        decode_wrf_times(np.array([b"not a time"]))


def wrf_ds(with_alpha: bool) -> xr.Dataset:
    ny, nx = 4, 5
    xlat, xlon = np.meshgrid(np.linspace(40, 46, ny), np.linspace(84, 92, nx), indexing="ij")
    times = np.array([b"2005-09-21_00:00:00", b"2005-09-21_03:00:00"], dtype="S19")
    shape = (2, ny, nx)
    ds = xr.Dataset(
        {
            "Times": (("Time",), times),
            "T2": (("Time", "south_north", "west_east"), np.full(shape, 280.0), {"units": "K"}),
            "U10": (("Time", "south_north", "west_east"), np.full(shape, 1.0), {"units": "m s-1"}),
            "V10": (("Time", "south_north", "west_east"), np.zeros(shape), {"units": "m s-1"}),
            "XLAT": (("Time", "south_north", "west_east"), np.stack([xlat, xlat])),
            "XLONG": (("Time", "south_north", "west_east"), np.stack([xlon, xlon])),
        },
        attrs={"MAP_PROJ": 1, "TRUELAT1": 30.0, "TRUELAT2": 60.0, "STAND_LON": 88.0},
    )
    if with_alpha:
        alpha = np.radians(30.0)
        ds["COSALPHA"] = (("Time", "south_north", "west_east"), np.full(shape, np.cos(alpha)))
        ds["SINALPHA"] = (("Time", "south_north", "west_east"), np.full(shape, np.sin(alpha)))
    return ds.set_coords(["XLAT", "XLONG"])


def test_wrf_file_is_read_with_curvilinear_grid(tmp_path: Path) -> None:
    path = write(wrf_ds(with_alpha=True), tmp_path / "wrfout_d01.nc")
    ds = open_grid(path)  # auto-detected by XLAT/XLONG/Times
    assert ds.attrs["engine"] == "wrf" and ds.attrs["grid_type"] == "curvilinear"
    assert ds["t2m"].dims == ("time", "y", "x")
    assert ds["lat"].dims == ("y", "x") and ds["lon"].dims == ("y", "x")
    assert list(pd.DatetimeIndex(ds["time"].values).hour) == [0, 3]
    # grid-relative wind (1, 0) rotated by alpha = 30° → earth-relative (cos, sin)
    np.testing.assert_allclose(ds["u10"].values, np.cos(np.radians(30)))
    np.testing.assert_allclose(ds["v10"].values, np.sin(np.radians(30)))


def test_wrf_winds_rotated_from_projection_attributes(tmp_path: Path) -> None:
    ds = open_grid(write(wrf_ds(with_alpha=False), tmp_path / "wrf_noalpha.nc"), engine="wrf")
    lon = ds["lon"].values
    tl1, tl2 = np.radians(30.0), np.radians(60.0)
    cone = (np.log(np.cos(tl1)) - np.log(np.cos(tl2))) / (
        np.log(np.tan(np.pi / 4 - tl1 / 2)) - np.log(np.tan(np.pi / 4 - tl2 / 2))
    )
    alpha = np.radians(lon - 88.0) * cone
    np.testing.assert_allclose(ds["u10"].values[0], np.cos(alpha), atol=1e-12)
    np.testing.assert_allclose(ds["v10"].values[0], np.sin(alpha), atol=1e-12)
    at_stand = np.isclose(lon, 88.0)
    assert at_stand.any()
    np.testing.assert_allclose(ds["u10"].values[0][at_stand], 1.0)  # no rotation at STAND_LON


def test_engine_wrf_on_a_plain_netcdf_names_what_is_missing(tmp_path: Path) -> None:
    path = write(regular_ds(["2020-01-01"]), tmp_path / "plain.nc")
    with pytest.raises(InputError, match="not WRF output: missing XLAT, XLONG, Times"):
        open_grid(path, engine="wrf")


# --------------------------------------------------------------------------------------------
# GRIB without cfgrib
# --------------------------------------------------------------------------------------------
def test_grib_without_cfgrib_tells_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "forecast.grib2"
    path.write_bytes(b"GRIB" + b"\0" * 60)
    monkeypatch.setitem(sys.modules, "cfgrib", None)  # import cfgrib → ImportError
    with pytest.raises(InputError, match=r'pip install -e "\.\[grib\]"') as err:
        open_grid(path)
    assert "forecast.grib2" in str(err.value)


def test_grib_accumulation_buckets_are_deaccumulated(tmp_path: Path) -> None:
    """GFS-style buckets 0–3 h, 0–6 h, 6–9 h (ECMWF 'tp' in m) → amounts per 3 h, in mm."""
    _cfgrib()
    eccodes = pytest.importorskip("eccodes", reason="writing GRIB needs ecCodes")
    path = tmp_path / "buckets.grib2"
    with path.open("wb") as fh:
        for start, end, metres in [(0, 3, 0.001), (0, 6, 0.003), (6, 9, 0.0005)]:
            h = eccodes.codes_grib_new_from_samples("GRIB2")
            eccodes.codes_set(h, "productDefinitionTemplateNumber", 8)
            eccodes.codes_set(h, "shortName", "tp")
            eccodes.codes_set(h, "typeOfFirstFixedSurface", 1)
            eccodes.codes_set(h, "dataDate", 20200101)
            eccodes.codes_set(h, "dataTime", 1200)
            eccodes.codes_set(h, "stepRange", f"{start}-{end}")
            n = eccodes.codes_get(h, "Ni") * eccodes.codes_get(h, "Nj")
            eccodes.codes_set_values(h, np.full(n, metres))
            eccodes.codes_write(h, fh)
            eccodes.codes_release(h)
    ds = open_grid(path)
    assert list(pd.DatetimeIndex(ds["time"].values).hour) == [15, 18, 21]
    assert pd.Timestamp(ds["init_time"].values[0]) == pd.Timestamp("2020-01-01 12:00")
    assert list(pd.DatetimeIndex(ds["tp_start"].values).hour) == [12, 15, 18]
    np.testing.assert_allclose(ds["tp"].values[:, 0, 0], [1.0, 2.0, 0.5])  # mm per 3 h
    assert ds["tp"].attrs["source_units"] == "m"


# --------------------------------------------------------------------------------------------
# validate_grid
# --------------------------------------------------------------------------------------------
@pytest.fixture
def small_grid(tmp_path: Path) -> xr.Dataset:
    times = pd.date_range("2020-01-01", periods=8, freq="3h")
    return open_grid(write(regular_ds(times), tmp_path / "small.nc"))


def test_validate_passes_and_summarises_each_check(small_grid: xr.Dataset) -> None:
    report = validate_grid(
        small_grid,
        [87.58],
        [43.83],
        margin_deg=0.5,
        required=("t2m", "sp"),
        window=(datetime(2020, 1, 1, 3), datetime(2020, 1, 1, 12)),
        site_codes=["1490A"],
    )
    assert report.ok
    text = report.summary()
    for name in ("opens", "variables", "coverage", "coordinates", "times", "missing"):
        assert f"[ok] {name}:" in text


def test_site_outside_the_grid_fails_coverage_with_its_code(small_grid: xr.Dataset) -> None:
    with pytest.raises(InputError) as err:
        validate_grid(
            small_grid,
            [87.58, 95.9],
            [43.83, 43.37],
            margin_deg=0.5,
            site_codes=["1490A", "3437A"],
            path_label="small.nc",
        )
    text = str(err.value)
    assert text.startswith("small.nc: coverage: site 3437A (95.9°E, 43.37°N) is outside the grid")
    assert "80.0–96.0°E × 40.0–48.0°N with margin 0.5°" in text
    assert "1490A" not in text
    # inside the grid but within the margin also fails
    report = validate_grid(
        small_grid, [95.7], [44.0], margin_deg=0.5, site_codes=["X"], raise_on_failure=False
    )
    assert not report.check("coverage").ok and report.check("times").ok


def test_non_monotonic_times_fail(small_grid: xr.Dataset) -> None:
    shuffled = small_grid.isel(time=[0, 2, 1, 3])
    with pytest.raises(InputError, match=r"times: times are not strictly increasing"):
        validate_grid(shuffled, [87.58], [43.83], margin_deg=0.5)


def test_window_not_covered_fails(small_grid: xr.Dataset) -> None:
    with pytest.raises(InputError, match=r"times: .* do not cover the window"):
        validate_grid(
            small_grid,
            [87.58],
            [43.83],
            margin_deg=0.5,
            window=(datetime(2020, 1, 1), datetime(2020, 1, 3)),
        )


def test_too_many_missing_values_around_a_site_fail(small_grid: xr.Dataset) -> None:
    ds = small_grid.copy(deep=True)
    # the 2×2 neighbourhood of (87.58, 43.83) is lat 43–44, lon 86–88: blank 2 of its 4 cells
    ds["t2m"].loc[{"lat": 44.0, "lon": [86.0, 88.0]}] = np.nan
    report = validate_grid(
        ds,
        [87.58, 82.0],
        [43.83, 42.5],
        margin_deg=0.5,
        site_codes=["1490A", "far"],
        raise_on_failure=False,
    )
    missing = report.check("missing")
    assert not missing.ok
    assert missing.problems == (
        "t2m has 50% missing values around site 1490A (87.58°E, 43.83°N) (limit 25%)",
    )
    assert validate_grid(ds, [87.58], [43.83], margin_deg=0.5, max_missing_fraction=0.5).ok


def test_required_variable_and_units_checked(small_grid: xr.Dataset) -> None:
    with pytest.raises(InputError, match=r"variables: required variable 'blh' is missing"):
        validate_grid(small_grid, [87.58], [43.83], margin_deg=0.5, required=("blh",))
    bad = small_grid.copy()
    bad["sp"] = bad["sp"].assign_attrs(units="Pa")
    with pytest.raises(InputError, match=r"'sp' has units 'Pa', expected 'hPa'"):
        validate_grid(bad, [87.58], [43.83], margin_deg=0.5)


def test_irregular_spacing_fails_coordinates(tmp_path: Path) -> None:
    lat = np.array([48.0, 47.0, 45.5, 45.0, 44.0, 43.0, 42.0, 41.0, 40.0])
    ds = open_grid(write(regular_ds(["2020-01-01"], lat=lat), tmp_path / "irregular.nc"))
    with pytest.raises(InputError, match=r"coordinates: lat spacing is not constant"):
        validate_grid(ds, [87.58], [43.83], margin_deg=0.5)


def test_curvilinear_coverage(tmp_path: Path) -> None:
    ds = open_grid(write(wrf_ds(with_alpha=True), tmp_path / "wrf.nc"))
    assert validate_grid(ds, [88.0], [43.0], margin_deg=0.5).ok
    with pytest.raises(InputError, match=r"coverage: site far \(100\.0°E, 43\.0°N\) is outside"):
        validate_grid(ds, [88.0, 100.0], [43.0, 43.0], margin_deg=0.5, site_codes=["in", "far"])


# --------------------------------------------------------------------------------------------
# the real files in ../shared/data/grids
# --------------------------------------------------------------------------------------------
SHARED_FILES = {
    # file: (needs cfgrib, required variables, expected sizes)
    "pbl2020_xinjiang_3h.nc": (False, ("blh",), {"time": 2928, "lat": 33, "lon": 60}),
    "pbl2020_raw_3h": (False, ("blh",), {"time": 16, "lat": 153, "lon": 260}),
    "wrf_t2_xinjiang_tibet.nc": (False, ("t2m",), {"time": 2, "y": 200, "x": 200}),
    "gfs_2p5deg_f120.grib2": (
        True,
        ("u10", "v10", "t2m", "rh2m", "sp", "tp", "t850"),
        {"time": 1, "lat": 73, "lon": 144},
    ),
    "era5_levels_members.grib": (True, ("t850",), {"time": 4, "member": 10, "lat": 61, "lon": 120}),
}


@pytest.mark.shared
@pytest.mark.parametrize("name", list(SHARED_FILES))
def test_every_shared_grid_is_read_and_validated(
    name: str, stations: tuple[list[str], np.ndarray, np.ndarray]
) -> None:
    needs_grib, required, sizes = SHARED_FILES[name]
    folder = _grids()
    if needs_grib:
        _cfgrib()
    # nothing untested (cfgrib .idx index files left beside the GRIB files are not grids)
    assert sorted(p.name for p in folder.iterdir() if p.suffix != ".idx") == sorted(SHARED_FILES)
    ds = open_grid(folder / name)
    assert dict(ds.sizes) == sizes
    assert ds["time"].dtype == np.dtype("datetime64[ns]")  # naive UTC
    codes, lon, lat = stations
    report = validate_grid(ds, lon, lat, margin_deg=0.5, required=required, site_codes=codes)
    print(report.summary())
    assert report.ok
    sites = grid_to_sites(ds, (codes, lon, lat))
    for v in required:
        assert np.isfinite(sites[v]).all(), f"{name}: {v} has NaN at a station"


@pytest.mark.shared
def test_raw_pbl_series_is_one_time_series_of_blh() -> None:
    ds = open_grid(_grids() / "pbl2020_raw_3h")
    assert list(ds.data_vars) == ["blh"]
    assert ds["blh"].attrs["source_name"] == "Merged Planetary Boundary Layer Height"
    expected = pd.date_range("2020-01-01", periods=16, freq="3h")
    assert pd.DatetimeIndex(ds["time"].values).equals(expected)
    assert np.isnan(ds["blh"]).any() and np.isfinite(ds["blh"]).any()  # China-masked
    by_glob = open_grid(str(_grids() / "pbl2020_raw_3h" / "202001*.nc"))
    xr.testing.assert_identical(ds, by_glob)


@pytest.mark.shared
def test_wrf_file_covers_xinjiang_stations(
    stations: tuple[list[str], np.ndarray, np.ndarray],
) -> None:
    ds = open_grid(_grids() / "wrf_t2_xinjiang_tibet.nc")
    assert pd.DatetimeIndex(ds["time"].values).equals(
        pd.DatetimeIndex(["2005-09-21 00:00", "2005-09-21 03:00"])
    )
    codes, lon, lat = stations
    coverage = validate_grid(ds, lon, lat, margin_deg=0.5, site_codes=codes).check("coverage")
    assert coverage.ok and "from its edge" in coverage.detail
    t2 = grid_to_sites(ds, (codes, lon, lat))["t2m"]
    assert float(t2.min()) > 270 and float(t2.max()) < 310  # late September in the basin [K]
    # Lhasa (91.1°E, 29.65°N) is inside too; a site in the Pacific is not
    assert validate_grid(ds, [91.1], [29.65], margin_deg=0.5).ok
    with pytest.raises(InputError, match="coverage"):
        validate_grid(ds, [160.0], [30.0], margin_deg=0.5)


@pytest.mark.shared
def test_gfs_file_normalised() -> None:
    _cfgrib()
    ds = open_grid(_grids() / "gfs_2p5deg_f120.grib2")
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2011-01-15 12:00")
    assert pd.Timestamp(ds["init_time"].values[0]) == pd.Timestamp("2011-01-10 12:00")
    assert ds["lead"].values[0] == np.timedelta64(120, "h")
    assert pd.Timestamp(ds["tp_start"].values[0]) == pd.Timestamp("2011-01-15 06:00")
    assert ds["lon"].min() == -180.0 and ds["lon"].max() == 177.5
    assert np.all(np.diff(ds["lat"].values) > 0)
    assert float(ds["sp"].min()) > 400 and float(ds["sp"].max()) < 1100  # hPa, not Pa
    assert ds["sp"].attrs["source_units"] == "Pa"
    assert ds["t850"].attrs["source_name"] == "t850"
    # the rate (prate, 114–120 h mean) × 6 h equals the 6 h amount (tp) up to GRIB packing
    by_rate = open_grid(_grids() / "gfs_2p5deg_f120.grib2", variables={"prate": "tp"})
    assert by_rate["tp"].attrs["source_name"] == "prate"
    # tp is packed in steps of 0.1 mm (rounding ≤ 0.05 mm), prate to ~1e-6 mm/s (× 21600 s)
    diff = np.abs(by_rate["tp"].values - ds["tp"].values)
    assert diff.max() <= 0.12 and diff.mean() < 0.03
    assert float(by_rate["tp"].mean()) == pytest.approx(float(ds["tp"].mean()), rel=0.02)


@pytest.mark.shared
def test_era5_members_kept_or_reduced() -> None:
    _cfgrib()
    path = _grids() / "era5_levels_members.grib"
    kept = open_grid(path)
    assert kept["t850"].dims == ("time", "member", "lat", "lon")
    assert "z850" in kept.attrs["dropped_variables"]  # geopotential has no canonical name
    reduced = open_grid(path, ensemble="mean_spread")
    assert set(reduced.data_vars) == {"t850_mean", "t850_spread"}
    assert float(reduced["t850_spread"].max()) < 10  # K; members are close
    report = validate_grid(reduced, [87.58], [43.83], margin_deg=0.5, required=("t850",))
    assert "coarse" in report.check("coordinates").detail
