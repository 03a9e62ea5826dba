"""Derived meteorological predictors against known values and slow, obvious references.

References are written out here in plain Python/pandas, never with the engine's own code.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.met.derived import (
    MAGNUS,
    add_derived,
    consecutive_true_hours,
    dew_point,
    inversion_strength,
    precipitation_totals,
    pressure_altitude,
    relative_humidity,
    saturation_vapour_pressure,
    stagnation,
    time_step_hours,
    ventilation_index,
    wind_components,
    wind_direction,
    wind_speed,
)
from forecast.met.variables import MET_VARIABLES

K = 273.15


# --------------------------------------------------------------------------------------------
# wind


@pytest.mark.parametrize(
    ("u", "v", "expected"),
    [
        (0.0, -5.0, 0.0),  # blowing towards the south: a wind FROM the north
        (-5.0, 0.0, 90.0),  # towards the west: from the east
        (0.0, 5.0, 180.0),  # from the south
        (5.0, 0.0, 270.0),  # from the west
        (-3.0, -3.0, 45.0),  # from the north-east
        (3.0, -3.0, 315.0),  # from the north-west
    ],
)
def test_wind_direction_cardinal(u: float, v: float, expected: float) -> None:
    got = wind_direction(np.array([u]), np.array([v]))
    assert got[0] == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= got[0] < 360.0


def test_north_is_zero_never_360() -> None:
    # A wind a hair west of north: the angle is just below 360 or wraps to 0, never 360 itself.
    got = wind_direction(np.array([0.0, 1e-17, -1e-17]), np.array([-5.0, -5.0, -5.0]))
    assert np.all((got >= 0.0) & (got < 360.0))
    assert got[0] == 0.0


def test_calm_and_missing_wind_have_no_direction() -> None:
    got = wind_direction(np.array([0.0, np.nan, 1.0, 0.3]), np.array([0.0, 1.0, np.nan, 0.4]))
    assert np.isnan(got[:3]).all()
    assert not np.isnan(got[3])
    # A calm threshold makes light winds directionless too.
    assert np.isnan(wind_direction(np.array([0.3]), np.array([0.4]), calm_speed=0.5)[0])


def test_wind_speed_known_values() -> None:
    np.testing.assert_allclose(
        wind_speed(np.array([3.0, -3.0, 0.0, np.nan]), np.array([4.0, -4.0, 0.0, 1.0])),
        [5.0, 5.0, 0.0, np.nan],
    )


def test_wind_round_trip_random() -> None:
    rng = np.random.default_rng(42)
    u, v = rng.normal(0, 6, 1000), rng.normal(0, 6, 1000)
    back_u, back_v = wind_components(wind_speed(u, v), wind_direction(u, v))
    np.testing.assert_allclose(back_u, u, atol=1e-9)
    np.testing.assert_allclose(back_v, v, atol=1e-9)


def test_wind_components_calm_round_trips_and_cardinals() -> None:
    u, v = wind_components(np.array([0.0, 5.0, 5.0]), np.array([np.nan, 0.0, 90.0]))
    np.testing.assert_allclose(u, [0.0, 0.0, -5.0], atol=1e-12)
    np.testing.assert_allclose(v, [0.0, -5.0, 0.0], atol=1e-12)


def test_wind_functions_keep_dataarrays() -> None:
    time = pd.date_range("2020-01-01", periods=3, freq="h")
    u = xr.DataArray([0.0, -5.0, 0.0], dims="time", coords={"time": time})
    v = xr.DataArray([-5.0, 0.0, 0.0], dims="time", coords={"time": time})
    direction = wind_direction(u, v)
    assert isinstance(direction, xr.DataArray)
    assert direction.dims == ("time",)
    np.testing.assert_allclose(direction.values, [0.0, 90.0, np.nan])
    assert (direction["time"].values == time.values).all()


# --------------------------------------------------------------------------------------------
# humidity


def test_rh_published_value() -> None:
    # T = 20 °C, Td = 10 °C: 52.5 % (e.g. Lawrence 2005, BAMS, and NWS humidity calculators).
    assert relative_humidity(np.array([20.0 + K]), np.array([10.0 + K]))[0] == pytest.approx(
        52.5, abs=0.15
    )
    # T = 30 °C, Td = 20 °C: 55 %.
    assert relative_humidity(np.array([30.0 + K]), np.array([20.0 + K]))[0] == pytest.approx(
        55.1, abs=0.2
    )


def test_saturation_vapour_pressure_published() -> None:
    # WMO reference values over water: 6.112 hPa at 0 °C, 23.39 hPa at 20 °C, 42.47 at 30 °C.
    got = saturation_vapour_pressure(np.array([0.0, 20.0, 30.0]) + K)
    np.testing.assert_allclose(got, [6.112, 23.39, 42.47], rtol=4e-3)
    assert MAGNUS.a == 17.625 and MAGNUS.b == 243.04


def test_dew_point_inverts_rh() -> None:
    assert dew_point(np.array([20.0 + K]), np.array([52.54]))[0] == pytest.approx(
        10.0 + K, abs=0.01
    )
    rng = np.random.default_rng(1)
    t = rng.uniform(240, 315, 500)
    td = t - rng.uniform(0, 30, 500)
    np.testing.assert_allclose(dew_point(t, relative_humidity(t, td)), td, atol=1e-9)
    assert np.isnan(dew_point(np.array([290.0, 290.0]), np.array([0.0, -5.0]))).all()


def test_rh_supersaturation_clipped_only_within_tolerance() -> None:
    t = np.array([280.0, 280.0, 280.0, 280.0, np.nan])
    td = np.array([280.0, 280.5, 281.0, 283.0, 275.0])
    rh = relative_humidity(t, td)
    assert rh[0] == pytest.approx(100.0)
    assert rh[1] == 100.0 and rh[2] == 100.0  # ≤ 1 K excess: artefact, clipped
    assert rh[3] > 115.0  # 3 K excess: left visible
    assert np.isnan(rh[4])
    assert relative_humidity(t[:1], np.array([280.5]), supersaturation_tolerance=0.0)[0] > 100


# --------------------------------------------------------------------------------------------
# mixing


def test_ventilation_and_inversion() -> None:
    np.testing.assert_allclose(
        ventilation_index(np.array([300.0, 1000.0, np.nan]), np.array([2.0, 0.0, 3.0])),
        [600.0, 0.0, np.nan],
    )
    np.testing.assert_allclose(
        inversion_strength(np.array([275.0, 260.0]), np.array([270.0, 270.0])), [5.0, -10.0]
    )


def test_pressure_altitude() -> None:
    assert pressure_altitude(np.array([1013.25]))[0] == pytest.approx(0.0, abs=1e-9)
    # ICAO table: 850 hPa ≈ 1457 m, 700 hPa ≈ 3012 m; the regional station's ~808 hPa ≈ 1.87 km.
    np.testing.assert_allclose(pressure_altitude(np.array([850.0, 700.0])), [1457, 3012], atol=3)
    assert 1850 < pressure_altitude(np.array([808.1]))[0] < 1890


# --------------------------------------------------------------------------------------------
# precipitation totals


def _slow_totals(x: np.ndarray, n: int, need: int) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    for t in range(len(x)):
        window = [x[i] for i in range(t - n + 1, t + 1) if i >= 0]
        valid = [w for w in window if not math.isnan(w)]
        if len(valid) >= need:
            out[t] = sum(valid)
    return out


def _random_tp(n: int, freq: str, seed: int) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(n) < 0.8, 0.0, rng.gamma(0.6, 1.5, n))
    x[rng.random(n) < 0.05] = np.nan  # scattered missing hours
    x[100:130] = np.nan  # and a long gap
    time = pd.date_range("2020-01-01", periods=n, freq=freq)
    return xr.DataArray(x, dims="time", coords={"time": time}, name="tp")


@pytest.mark.parametrize(("hours", "min_valid"), [(24, 1.0), (72, 1.0), (24, 0.5), (72, 0.9)])
def test_precipitation_totals_against_reference(hours: int, min_valid: float) -> None:
    tp = _random_tp(600, "h", seed=hours)
    got = precipitation_totals(tp, hours, min_valid=min_valid)
    need = math.ceil(min_valid * hours)
    np.testing.assert_allclose(got.values, _slow_totals(tp.values, hours, need), equal_nan=True)
    assert got.attrs["units"] == "mm"
    # pandas' own rolling sum agrees where every hour is present.
    pandas_sum = tp.to_series().rolling(hours, min_periods=hours).sum()
    full = pandas_sum.notna().to_numpy()
    np.testing.assert_allclose(got.values[full], pandas_sum.to_numpy()[full])
    assert np.isfinite(got.values).sum() > 20  # the test compares real numbers


def test_precipitation_totals_three_hourly_and_several_windows() -> None:
    tp = _random_tp(400, "3h", seed=7)
    both = precipitation_totals(tp, [24, 72])
    assert set(both.data_vars) == {"tp_24h", "tp_72h"}
    np.testing.assert_allclose(both["tp_24h"].values, _slow_totals(tp.values, 8, 8), equal_nan=True)
    np.testing.assert_allclose(
        both["tp_72h"].values, _slow_totals(tp.values, 24, 24), equal_nan=True
    )


def test_precipitation_totals_on_site_time_grid() -> None:
    a, b = _random_tp(200, "h", 3), _random_tp(200, "h", 4)
    grid = xr.concat([a, b], dim=pd.Index(["s1", "s2"], name="site"))
    got = precipitation_totals(grid, 24)
    assert got.dims == ("site", "time")
    np.testing.assert_allclose(
        got.sel(site="s2").values, _slow_totals(b.values, 24, 24), equal_nan=True
    )


def test_precipitation_totals_rejects_bad_axes_and_windows() -> None:
    tp = _random_tp(50, "h", 0)
    irregular = tp.isel(time=[0, 1, 2, 5, 6, 7])
    with pytest.raises(ValueError, match="regular"):
        precipitation_totals(irregular, 3)
    with pytest.raises(ValueError, match="whole number"):
        precipitation_totals(tp.isel(time=slice(None, None, 5)), 24)  # 5-hourly
    with pytest.raises(ValueError, match="min_valid"):
        precipitation_totals(tp, 24, min_valid=0.0)
    assert time_step_hours(pd.date_range("2020", periods=3, freq="3h")) == 3.0


# --------------------------------------------------------------------------------------------
# stagnation and run lengths


def test_stagnation_thresholds_and_three_valued_logic() -> None:
    wind = np.array([1.0, 3.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.999, 2.0])
    blh = np.array([200.0, 200.0, 400.0, np.nan, np.nan, 200.0, 200.0, 299.9, 200.0])
    tp = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.5, np.nan, 0.05, 0.0])
    got = stagnation(wind, blh, tp)
    np.testing.assert_array_equal(got, [1, 0, 0, 0, np.nan, 0, np.nan, 1, 0])
    # Without precipitation the rain condition is not used.
    assert stagnation(wind[5:6], blh[5:6])[0] == 1.0
    # 3-hourly amounts are compared as rates: 0.2 mm in 3 h is 0.067 mm/h (< 0.1: dry).
    assert stagnation(np.array([1.0]), np.array([200.0]), np.array([0.2]), precip_hours=3)[0] == 1
    assert stagnation(np.array([1.0]), np.array([200.0]), np.array([0.2]))[0] == 0
    # Thresholds are parameters.
    assert stagnation(np.array([3.0]), np.array([200.0]), max_wind=3.2)[0] == 1


def _slow_runs(flags: list[float], policy: str) -> list[float]:
    out, count, unknown = [], 0, False
    for x in flags:
        if math.isnan(x):
            out.append(math.nan)
            count, unknown = 0, policy == "propagate"
        elif x == 0:
            out.append(0.0)
            count, unknown = 0, False
        else:
            count += 1
            out.append(math.nan if unknown else float(count))
    return out


@pytest.mark.parametrize("policy", ["propagate", "reset"])
def test_consecutive_true_hours_against_reference(policy: str) -> None:
    rng = np.random.default_rng(11)
    flags = rng.choice([0.0, 1.0, np.nan], p=[0.25, 0.7, 0.05], size=(3, 500))
    got = consecutive_true_hours(flags, missing=policy)  # type: ignore[arg-type]
    expected = np.array([_slow_runs(list(row), policy) for row in flags])
    np.testing.assert_array_equal(got, expected)
    assert np.nanmax(got) >= 5  # long runs are exercised


def test_consecutive_true_hours_known_sequence_and_step() -> None:
    flag = np.array([1, 1, np.nan, 1, 0, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(
        consecutive_true_hours(flag), [1, 2, np.nan, np.nan, 0, 1, 2, 3, 0, 1]
    )
    np.testing.assert_array_equal(
        consecutive_true_hours(flag, missing="reset"), [1, 2, np.nan, 1, 0, 1, 2, 3, 0, 1]
    )
    np.testing.assert_array_equal(
        consecutive_true_hours(np.array([True, True, False, True]), step_hours=3), [3, 6, 0, 3]
    )


def test_consecutive_true_hours_dataarray_any_dim_order() -> None:
    rng = np.random.default_rng(5)
    flags = rng.choice([0.0, 1.0, np.nan], p=[0.3, 0.65, 0.05], size=(40, 4))
    da = xr.DataArray(flags, dims=("time", "site"))
    got = consecutive_true_hours(da)
    assert got.dims == ("time", "site")
    for j in range(4):
        np.testing.assert_array_equal(got.values[:, j], _slow_runs(list(flags[:, j]), "propagate"))


# --------------------------------------------------------------------------------------------
# add_derived


def _met_dataset(freq: str = "h", n: int = 120) -> xr.Dataset:
    rng = np.random.default_rng(3)
    time = pd.date_range("2020-01-01", periods=n, freq=freq)
    shape = (2, n)

    def var(values: np.ndarray, name: str) -> xr.DataArray:
        return xr.DataArray(
            values, dims=("site", "time"), attrs={"units": MET_VARIABLES[name].units}
        )

    t2m = rng.uniform(250, 280, shape)
    ds = xr.Dataset(
        {
            "u10": var(rng.normal(0, 2, shape), "u10"),
            "v10": var(rng.normal(0, 2, shape), "v10"),
            "t2m": var(t2m, "t2m"),
            "d2m": var(t2m - rng.uniform(0, 10, shape), "d2m"),
            "t850": var(rng.uniform(255, 285, shape), "t850"),
            "blh": var(rng.uniform(50, 800, shape), "blh"),
            "tp": var(np.where(rng.random(shape) < 0.9, 0.0, 0.5), "tp"),
        },
        coords={"site": ["a", "b"], "time": time},
    )
    ds["blh"][0, 5] = np.nan
    return ds


def test_add_derived_adds_everything_with_attrs() -> None:
    ds = _met_dataset()
    before = ds.copy(deep=True)
    out = add_derived(ds)
    xr.testing.assert_identical(ds, before)  # input untouched
    expected = {
        "wind_speed",
        "wind_dir",
        "rh2m",
        "ventilation",
        "inversion",
        "tp_24h",
        "tp_72h",
        "stagnant",
        "stagnation_hours",
    }
    assert expected <= set(out.data_vars)
    assert set(out.attrs["derived_variables"].split()) == expected
    for name in expected:
        assert out[name].attrs["units"] == MET_VARIABLES[name].units, name
        assert out[name].attrs["long_name"], name
        assert out[name].dims == ("site", "time"), name
    np.testing.assert_allclose(
        out["wind_speed"].values, np.hypot(ds["u10"].values, ds["v10"].values)
    )
    np.testing.assert_allclose(out["inversion"].values, ds["t850"].values - ds["t2m"].values)
    np.testing.assert_allclose(
        out["ventilation"].values, ds["blh"].values * out["wind_speed"].values, equal_nan=True
    )
    np.testing.assert_allclose(
        out["tp_24h"].sel(site="b").values,
        _slow_totals(ds["tp"].sel(site="b").values, 24, 24),
        equal_nan=True,
    )
    stagnant = out["stagnant"].values
    wind, blh, tp = out["wind_speed"].values, ds["blh"].values, ds["tp"].values
    expect = ((wind < 2) & (blh < 300) & (tp < 0.1)).astype(float)
    expect[np.isnan(blh) & (wind < 2) & (tp < 0.1)] = np.nan
    np.testing.assert_array_equal(stagnant, expect)
    for i in range(2):
        np.testing.assert_array_equal(
            out["stagnation_hours"].values[i], _slow_runs(list(stagnant[i]), "propagate")
        )


def test_add_derived_keeps_existing_and_skips_what_it_cannot_compute() -> None:
    ds = _met_dataset().drop_vars(["d2m", "t850"])
    ds["rh2m"] = ds["t2m"] * 0 + 55.0
    out = add_derived(ds)
    assert (out["rh2m"].values == 55.0).all()  # never overwritten
    assert "d2m" in out.data_vars  # the inverse fills the dew point
    np.testing.assert_allclose(
        relative_humidity(out["t2m"].values, out["d2m"].values), 55.0, rtol=1e-9
    )
    assert "inversion" not in out.data_vars


def test_add_derived_daily_and_irregular_axes() -> None:
    daily = add_derived(_met_dataset("D", 10))
    assert "stagnant" not in daily.data_vars  # hourly indicator, not for daily means
    np.testing.assert_allclose(daily["tp_24h"].values, daily["tp"].values)  # one day = one step
    irregular = add_derived(_met_dataset().isel(time=[0, 1, 2, 5, 9, 10]))
    assert "tp_24h" not in irregular.data_vars and "stagnant" not in irregular.data_vars
    assert "wind_speed" in irregular.data_vars
