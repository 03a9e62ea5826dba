"""Tests of forecast.obs.aggregate: Beijing-day means, rolling 24 h means, city means."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.obs.aggregate import city_daily_mean, city_mean, daily_mean, rolling_24h_mean
from forecast.timeutil import beijing_to_utc, utc_to_beijing

PROVENANCE = {"source": "synthetic test panel", "history": "made in tests"}


def make_ds(
    times: pd.DatetimeIndex | list[str],
    values: dict[str, np.ndarray],
    *,
    sites: Sequence[str] | None = None,
    cities: Sequence[str] | None = None,
    reference: Sequence[bool] | None = None,
    lon: Sequence[float] | None = None,
    lat: Sequence[float] | None = None,
    resolution: str = "1h",
    with_qc: bool = True,
) -> xr.Dataset:
    """A small station dataset in the engine's layout (naive UTC times, dims site × time)."""
    time = np.asarray(pd.to_datetime(times), dtype="datetime64[ns]")
    n_site = next(iter(values.values())).shape[0]
    sites = list(sites) if sites is not None else [f"{1490 + i}A" for i in range(n_site)]
    cities = list(cities) if cities is not None else ["urumqi"] * n_site
    reference = list(reference) if reference is not None else [False] * n_site
    lon = list(lon) if lon is not None else [87.6 + 0.01 * i for i in range(n_site)]
    lat = list(lat) if lat is not None else [43.8 + 0.01 * i for i in range(n_site)]
    data_vars: dict[str, tuple[tuple[str, str], np.ndarray, dict[str, str]]] = {}
    for name, raw in values.items():
        arr = np.asarray(raw, dtype=np.float64)
        data_vars[name] = (("site", "time"), arr, {"units": "µg/m³", "long_name": name})
        if with_qc:
            qc = np.where(np.isnan(arr), 1, 0).astype(np.uint16)
            data_vars[f"{name}_qc"] = (("site", "time"), qc, {"long_name": f"{name} flags"})
    return xr.Dataset(
        data_vars,
        coords={
            "site": np.asarray(sites, dtype=str),
            "time": time,
            "name": ("site", np.asarray([f"station {s}" for s in sites], dtype=str)),
            "city": ("site", np.asarray(cities, dtype=str)),
            "lon": ("site", np.asarray(lon, dtype=np.float64)),
            "lat": ("site", np.asarray(lat, dtype=np.float64)),
            "reference_site": ("site", np.asarray(reference, dtype=bool)),
            "kind": ("site", np.full(n_site, "station")),
        },
        attrs={**PROVENANCE, "time_resolution": resolution},
    )


def one_beijing_day_utc(day: str) -> pd.DatetimeIndex:
    """The 24 UTC hours whose Beijing labels are 00:00 … 23:00 on ``day``."""
    return beijing_to_utc(pd.date_range(day, periods=24, freq="h"))


def random_panel(
    rng: np.random.Generator, start: str, n_hours: int, n_sites: int, nan_frac: float
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Lognormal PM2.5-like values with random NaN holes and a few long outages."""
    times = pd.date_range(start, periods=n_hours, freq="h")
    x = rng.lognormal(mean=4.0, sigma=1.0, size=(n_sites, n_hours))
    x[rng.random(x.shape) < nan_frac] = np.nan
    for s in range(n_sites):  # an outage of a few hours to a day and a half per site
        a = int(rng.integers(0, n_hours))
        x[s, a : a + int(rng.integers(3, 36))] = np.nan
    return times, x


def pandas_daily_reference(times: pd.DatetimeIndex, row: np.ndarray, min_valid: int) -> pd.Series:
    """Slow obvious reference: group on the Beijing date of the label, mean with count filter.

    Indexed by the Beijing day's start expressed in UTC.
    """
    s = pd.Series(row, index=times)
    key = utc_to_beijing(times).normalize()
    g = s.groupby(key)
    mean = g.mean().where(g.count() >= min_valid)
    mean.index = beijing_to_utc(pd.DatetimeIndex(mean.index))
    return mean


# --------------------------------------------------------------------------------------------
# daily_mean


def test_daily_mean_needs_20_valid_hours() -> None:
    times = one_beijing_day_utc("2022-01-10")
    values = np.arange(1.0, 25.0)  # 1 … 24
    day19 = values.copy()
    day19[19:] = np.nan  # 19 valid hours
    day20 = values.copy()
    day20[20:] = np.nan  # 20 valid hours
    ds = make_ds(times, {"pm25": np.vstack([day19, day20])})

    out = daily_mean(ds)

    assert out.sizes["time"] == 1
    assert out["pm25_valid_hours"].values[:, 0].tolist() == [19, 20]
    assert np.isnan(out["pm25"].values[0, 0])
    assert out["pm25"].values[1, 0] == pytest.approx(np.mean(np.arange(1.0, 21.0)))  # 10.5


def test_daily_mean_exactly_20_valid_hours_scattered_is_mean_of_those_20() -> None:
    times = one_beijing_day_utc("2022-01-10")
    rng = np.random.default_rng(7)
    row = rng.uniform(50, 300, 24)
    holes = rng.choice(24, size=4, replace=False)
    row[holes] = np.nan
    out = daily_mean(make_ds(times, {"pm25": row[None, :]}))
    assert out["pm25_valid_hours"].item() == 20
    assert out["pm25"].item() == pytest.approx(np.nanmean(row), rel=1e-14)


def test_daily_mean_min_valid_hours_is_configurable() -> None:
    times = one_beijing_day_utc("2022-01-10")
    row = np.full(24, np.nan)
    row[:18] = 100.0
    ds = make_ds(times, {"pm25": row[None, :]})
    assert np.isnan(daily_mean(ds)["pm25"].item())
    assert daily_mean(ds, min_valid_hours=18)["pm25"].item() == 100.0
    with pytest.raises(ValueError, match="min_valid_hours"):
        daily_mean(ds, min_valid_hours=25)


def test_daily_mean_day_boundary_is_beijing_midnight() -> None:
    # 2022-01-01 15:00 UTC = 23:00 BJT Jan 1; 16:00 UTC = 00:00 BJT Jan 2.
    times = pd.DatetimeIndex(["2022-01-01 15:00", "2022-01-01 16:00", "2022-01-01 17:00"])
    ds = make_ds(times, {"pm25": np.array([[1.0, 100.0, 300.0]])})

    out = daily_mean(ds, min_valid_hours=1)

    expected_time = np.array(["2021-12-31T16:00", "2022-01-01T16:00"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(out["time"].values, expected_time)
    assert out["pm25"].values[0].tolist() == [1.0, 200.0]  # 16:00 UTC belongs to Jan 2
    assert out["pm25_valid_hours"].values[0].tolist() == [1, 2]
    bj_days = utc_to_beijing(pd.DatetimeIndex(out.indexes["time"]))
    assert bj_days.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2022-01-01 00:00",
        "2022-01-02 00:00",
    ]


def test_daily_mean_layout_attrs_and_dtypes() -> None:
    times = pd.date_range("2022-01-01 16:00", periods=48, freq="h")
    ds = make_ds(
        times,
        {"pm25": np.full((2, 48), 80.0), "pm10": np.full((2, 48), 120.0)},
    )
    out = daily_mean(ds)

    assert out.attrs["time_resolution"] == "1D"
    assert out.attrs["source"] == PROVENANCE["source"]
    assert set(out.data_vars) == {"pm25", "pm10", "pm25_valid_hours", "pm10_valid_hours"}
    assert out["pm25"].dtype == np.float64
    assert out["pm25_valid_hours"].dtype == np.int16
    assert out["time"].dtype == np.dtype("datetime64[ns]")
    assert out["pm25"].dims == ("site", "time")
    assert out["pm25"].attrs["units"] == "µg/m³"
    for coord in ("name", "city", "lon", "lat", "reference_site", "kind"):
        np.testing.assert_array_equal(out[coord].values, ds[coord].values)
    assert out["pm25"].values.tolist() == [[80.0, 80.0], [80.0, 80.0]]
    assert out["pm10_valid_hours"].values.tolist() == [[24, 24], [24, 24]]


def test_daily_mean_day_with_no_data_in_a_gap_is_nan_not_dropped() -> None:
    day1 = one_beijing_day_utc("2022-01-10")
    day3 = one_beijing_day_utc("2022-01-12")
    times = pd.DatetimeIndex(day1.append(day3))  # Jan 11 (BJT) entirely absent from the time axis
    ds = make_ds(times, {"pm25": np.full((1, 48), 50.0)})
    out = daily_mean(ds)
    assert out.sizes["time"] == 3
    np.testing.assert_array_equal(
        out["time"].values, beijing_to_utc(pd.date_range("2022-01-10", periods=3, freq="D"))
    )
    assert out["pm25_valid_hours"].values[0].tolist() == [24, 0, 24]
    assert np.isnan(out["pm25"].values[0, 1])
    assert out["pm25"].values[0, [0, 2]].tolist() == [50.0, 50.0]


@pytest.mark.parametrize(
    "start",
    [
        "2022-01-01 00:00",
        "2022-01-01 05:00",
        "2022-01-01 16:00",
        "2022-01-01 15:00",
        "2021-12-31 23:00",
    ],
)
def test_daily_mean_matches_pandas_reference(start: str) -> None:
    rng = np.random.default_rng(20220101)
    times, x = random_panel(rng, start, n_hours=24 * 9 + 7, n_sites=5, nan_frac=0.12)
    keep = rng.random(len(times)) > 0.03  # a few rows absent from the time axis
    times, x = times[keep], x[:, keep]
    ds = make_ds(times, {"pm25": x})

    out = daily_mean(ds)

    for s in range(x.shape[0]):
        ref = pandas_daily_reference(times, x[s], 20)
        got = out["pm25"].isel(site=s).to_series().reindex(ref.index)
        np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-13, atol=0)
        # days with no rows at all are in the output (NaN) but not in the reference
        assert out["pm25"].isel(site=s).to_series().drop(ref.index).isna().all()
    assert out["pm25_valid_hours"].sum().item() == int(np.isfinite(x).sum())


@settings(max_examples=40, deadline=None)
@given(
    start_hour=st.integers(0, 23),
    n_hours=st.integers(1, 24 * 4),
    seed=st.integers(0, 2**32 - 1),
    min_valid=st.integers(1, 24),
)
def test_daily_mean_property_against_pandas(
    start_hour: int, n_hours: int, seed: int, min_valid: int
) -> None:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2023-11-30", periods=n_hours, freq="h") + pd.Timedelta(hours=start_hour)
    x = rng.uniform(0, 500, (2, n_hours))
    x[rng.random(x.shape) < 0.2] = np.nan
    out = daily_mean(make_ds(times, {"pm25": x}), min_valid_hours=min_valid)
    for s in range(2):
        ref = pandas_daily_reference(times, x[s], min_valid)
        got = out["pm25"].isel(site=s).to_series()
        assert got.index.equals(ref.index)
        np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), rtol=1e-13, atol=0)


def test_daily_mean_rejects_daily_input() -> None:
    times = pd.date_range("2022-01-01 16:00", periods=3, freq="D")
    ds = make_ds(times, {"pm25": np.ones((1, 3))}, resolution="1D")
    with pytest.raises(ValueError, match="'1D'"):
        daily_mean(ds)


def test_daily_mean_rejects_unsorted_time() -> None:
    times = pd.DatetimeIndex(["2022-01-01 02:00", "2022-01-01 01:00"])
    with pytest.raises(ValueError, match="strictly increasing"):
        daily_mean(make_ds(times, {"pm25": np.ones((1, 2))}))


def test_daily_mean_is_same_with_dask_chunks_over_sites() -> None:
    pytest.importorskip("dask")
    rng = np.random.default_rng(3)
    times, x = random_panel(rng, "2022-01-03 07:00", 24 * 5, 6, 0.1)
    ds = make_ds(times, {"pm25": x})
    eager = daily_mean(ds)
    lazy = daily_mean(ds.chunk({"site": 2}))
    xr.testing.assert_identical(lazy.compute(), eager)


# --------------------------------------------------------------------------------------------
# rolling_24h_mean


def test_rolling_24h_mean_matches_pandas_rolling() -> None:
    rng = np.random.default_rng(12345)
    times, x = random_panel(rng, "2022-01-05 03:00", n_hours=24 * 20 + 5, n_sites=7, nan_frac=0.1)
    # uneven panel: one site with many holes, one almost clean
    x[0, rng.random(x.shape[1]) < 0.3] = np.nan
    ds = make_ds(times, {"pm25": x})

    out = rolling_24h_mean(ds)

    assert out["pm25"].dims == ("site", "time")
    np.testing.assert_array_equal(out["time"].values, ds["time"].values)
    n_checked = 0
    for s in range(x.shape[0]):
        ref = pd.Series(x[s], index=times).rolling(24, min_periods=20).mean()
        got = out["pm25"].isel(site=s).values
        np.testing.assert_array_equal(np.isnan(got), ref.isna().to_numpy())
        np.testing.assert_allclose(got, ref.to_numpy(), rtol=0, atol=1e-12)
        cnt = pd.Series(x[s], index=times).rolling(24, min_periods=1).count().fillna(0)
        np.testing.assert_array_equal(out["pm25_valid_hours"].isel(site=s).values, cnt.to_numpy())
        n_checked += int(ref.notna().sum())
    assert n_checked > 1000  # the comparison covered real values, not only NaN
    assert np.isnan(out["pm25"].values).any()


def test_rolling_24h_mean_threshold_19_vs_20_valid_hours() -> None:
    times = pd.date_range("2022-01-01", periods=24, freq="h")
    row19 = np.full(24, 10.0)
    row19[:5] = np.nan  # 19 valid in the window ending at the last hour
    row20 = np.full(24, 10.0)
    row20[:4] = np.nan
    row20[4] = 30.0  # 20 valid: mean (30 + 19*10)/20 = 11
    out = rolling_24h_mean(make_ds(times, {"pm25": np.vstack([row19, row20])}))
    last = out["pm25"].isel(time=-1).values
    assert np.isnan(last[0])
    assert last[1] == pytest.approx(11.0)
    assert out["pm25_valid_hours"].isel(time=-1).values.tolist() == [19, 20]
    # the window includes the hour itself and the 23 before: first 19 hours can never be valid
    assert np.isnan(out["pm25"].values[1, :23]).all()


def test_rolling_24h_mean_crosses_beijing_days() -> None:
    # window ending at 2022-01-02 04:00 UTC (12:00 BJT Jan 2) spans two Beijing days
    times = pd.date_range("2022-01-01 00:00", periods=36, freq="h")
    row = np.where(times < pd.Timestamp("2022-01-01 16:00"), 100.0, 200.0)
    out = rolling_24h_mean(make_ds(times, {"pm25": row[None, :]}))
    at = out["pm25"].sel(time="2022-01-02 04:00").item()
    # window 2022-01-01 05:00 … 2022-01-02 04:00: 11 h at 100, 13 h at 200
    assert at == pytest.approx((11 * 100.0 + 13 * 200.0) / 24)


def test_rolling_24h_mean_time_gaps_do_not_shift_the_window() -> None:
    rng = np.random.default_rng(99)
    full_times, x = random_panel(rng, "2022-02-01 00:00", 24 * 6, 3, 0.05)
    keep = np.ones(len(full_times), dtype=bool)
    keep[30:34] = False  # four hours absent from the time axis
    keep[100] = False
    times, xs = full_times[keep], x[:, keep]
    ds = make_ds(times, {"pm25": xs})

    out = rolling_24h_mean(ds)

    # returned on the regular hourly axis
    np.testing.assert_array_equal(out["time"].values, full_times.values)
    for s in range(3):
        # time-based window (t-24h, t] is immune to missing rows
        ref = pd.Series(xs[s], index=times).rolling("24h", min_periods=20).mean()
        got = out["pm25"].isel(site=s).sel(time=times).values
        np.testing.assert_allclose(got, ref.to_numpy(), rtol=0, atol=1e-12)
        # a count-based window on the gappy rows would be wrong: prove the test can fail
        wrong = pd.Series(xs[s], index=times).rolling(24, min_periods=20).mean()
        assert not np.allclose(got[40:], wrong.to_numpy()[40:], equal_nan=True)


def test_rolling_24h_mean_layout_and_attrs() -> None:
    times = pd.date_range("2022-01-01", periods=30, freq="h")
    ds = make_ds(times, {"pm25": np.full((2, 30), 5.0)})
    out = rolling_24h_mean(ds)
    assert out.attrs["time_resolution"] == "1h"
    assert out.attrs["history"] == PROVENANCE["history"]
    assert set(out.data_vars) == {"pm25", "pm25_valid_hours"}
    assert out["pm25"].dtype == np.float64
    assert out["pm25_valid_hours"].dtype == np.int16
    np.testing.assert_array_equal(out["city"].values, ds["city"].values)
    assert out["pm25"].values[:, 19:].tolist() == [[5.0] * 11] * 2


@pytest.mark.parametrize("resolution", ["1D", "3h"])
def test_rolling_24h_mean_rejects_non_hourly(resolution: str) -> None:
    times = pd.date_range("2022-01-01 16:00", periods=30, freq="D")
    ds = make_ds(times, {"pm25": np.ones((1, 30))}, resolution=resolution)
    with pytest.raises(ValueError, match=f"hourly.*{resolution}"):
        rolling_24h_mean(ds)


def test_rolling_24h_mean_rejects_daily_spacing_without_attr() -> None:
    times = pd.date_range("2022-01-01 16:00", periods=30, freq="D")
    ds = make_ds(times, {"pm25": np.ones((1, 30))})
    del ds.attrs["time_resolution"]
    with pytest.raises(ValueError, match="hourly"):
        rolling_24h_mean(ds)


def test_rolling_24h_mean_is_same_with_dask_chunks_over_sites() -> None:
    pytest.importorskip("dask")
    rng = np.random.default_rng(5)
    times, x = random_panel(rng, "2022-01-03 07:00", 24 * 5, 6, 0.1)
    ds = make_ds(times, {"pm25": x})
    xr.testing.assert_identical(
        rolling_24h_mean(ds.chunk({"site": 2})).compute(), rolling_24h_mean(ds)
    )


# --------------------------------------------------------------------------------------------
# city_mean / city_daily_mean


def _city_panel() -> xr.Dataset:
    times = pd.date_range("2022-01-01", periods=3, freq="h")
    pm25 = np.array(
        [
            [100.0, np.nan, np.nan],  # urumqi A
            [200.0, 50.0, np.nan],  # urumqi B
            [900.0, 900.0, 900.0],  # urumqi reference site: must be ignored
            [10.0, 20.0, 30.0],  # changji
        ]
    )
    return make_ds(
        times,
        {"pm25": pm25},
        sites=["1001A", "1002A", "1003A", "2001A"],
        cities=["urumqi", "urumqi", "urumqi", "changji"],
        reference=[False, False, True, False],
        lon=[87.0, 88.0, 90.0, 87.3],
        lat=[43.0, 44.0, 45.0, 44.0],
    )


def test_city_mean_excludes_reference_sites() -> None:
    out = city_mean(_city_panel())
    assert out["site"].values.tolist() == ["urumqi", "changji"]
    urumqi = out["pm25"].sel(site="urumqi").values
    assert urumqi[0] == 150.0  # (100 + 200) / 2, not (100 + 200 + 900) / 3
    assert urumqi[1] == 50.0  # NaN skipped
    assert np.isnan(urumqi[2])  # only the reference site has a value
    assert out["pm25_n_stations"].sel(site="urumqi").values.tolist() == [2, 1, 0]
    assert out["pm25"].sel(site="changji").values.tolist() == [10.0, 20.0, 30.0]


def test_city_mean_min_stations() -> None:
    out = city_mean(_city_panel(), min_stations=2)
    urumqi = out["pm25"].sel(site="urumqi").values
    assert urumqi[0] == 150.0
    assert np.isnan(urumqi[1])  # only one valid station
    assert np.isnan(out["pm25"].sel(site="changji").values).all()  # changji has one station
    assert out["pm25_n_stations"].sel(site="urumqi").values.tolist() == [2, 1, 0]
    with pytest.raises(ValueError, match="min_stations"):
        city_mean(_city_panel(), min_stations=0)


def test_city_mean_coordinates_and_attrs() -> None:
    out = city_mean(_city_panel(), city_names={"urumqi": "乌鲁木齐"})
    assert out["name"].values.tolist() == ["乌鲁木齐", "changji"]
    assert out["city"].values.tolist() == ["urumqi", "changji"]
    assert out["kind"].values.tolist() == ["city", "city"]
    assert out["reference_site"].values.tolist() == [False, False]
    assert out["lon"].values.tolist() == pytest.approx([87.5, 87.3])  # reference not a member
    assert out["lat"].values.tolist() == pytest.approx([43.5, 44.0])
    assert set(out.data_vars) == {"pm25", "pm25_n_stations"}
    assert out["pm25"].dtype == np.float64
    assert out["pm25_n_stations"].dtype == np.int16
    assert out["pm25"].dims == ("site", "time")
    assert out.attrs["time_resolution"] == "1h"
    assert out.attrs["source"] == PROVENANCE["source"]
    np.testing.assert_array_equal(out["time"].values, _city_panel()["time"].values)


def test_city_mean_on_daily_input() -> None:
    ds = daily_mean(_city_panel(), min_valid_hours=1)
    out = city_mean(ds)
    assert out.attrs["time_resolution"] == "1D"
    assert "pm25_valid_hours" not in out
    # one Beijing day: urumqi A mean 100, B mean 125 → 112.5; the reference is ignored
    assert out["pm25"].sel(site="urumqi").item() == pytest.approx(112.5)
    assert out["pm25"].sel(site="changji").item() == pytest.approx(20.0)


def test_city_daily_mean_excludes_station_with_19_valid_hours() -> None:
    times = one_beijing_day_utc("2022-01-15")
    a = np.full(24, 400.0)
    a[19:] = np.nan  # station A: 19 valid hours → no valid daily mean
    b = np.full(24, 100.0)  # station B: 24 valid hours
    ds = make_ds(times, {"pm25": np.vstack([a, b])}, sites=["1001A", "1002A"])

    out = city_daily_mean(ds)

    assert out["site"].values.tolist() == ["urumqi"]
    assert out["pm25"].item() == 100.0  # not (400 + 100) / 2 = 250
    assert out["pm25_n_stations"].item() == 1
    assert out.attrs["time_resolution"] == "1D"
    np.testing.assert_array_equal(out["time"].values, [np.datetime64("2022-01-14T16:00", "ns")])
    # the national method differs from the daily mean of hourly city means
    naive = daily_mean(city_mean(ds))["pm25"].item()
    assert naive == pytest.approx((19 * 250.0 + 5 * 100.0) / 24)
    assert naive != out["pm25"].item()


def test_city_daily_mean_min_stations_and_threshold() -> None:
    times = one_beijing_day_utc("2022-01-15")
    a = np.full(24, 400.0)
    a[19:] = np.nan
    b = np.full(24, 100.0)
    ds = make_ds(times, {"pm25": np.vstack([a, b])}, sites=["1001A", "1002A"])
    assert np.isnan(city_daily_mean(ds, min_stations=2)["pm25"].item())
    assert city_daily_mean(ds, min_valid_hours=19)["pm25"].item() == 250.0
