"""Tests of models.baselines: persistence, climatology, linear baseline, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.timeutil import beijing_to_utc
from models.baselines import (
    Climatology,
    LinearBaseline,
    Persistence,
    beijing_day_stamp,
    daily_issue_times,
    day_of_year_365,
    infer_freq,
    last_known_time,
    persistence,
    target_times,
)
from models.metrics import rmse


def _bj(text: str) -> pd.Timestamp:
    """A Beijing wall-clock time as naive UTC."""
    return pd.Timestamp(beijing_to_utc(pd.DatetimeIndex([pd.Timestamp(text)]))[0])


def daily(values: np.ndarray, first_day: str, sites: tuple[str, ...] = ("urumqi",)) -> xr.DataArray:
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    days = pd.date_range(first_day, periods=values.shape[1])
    return xr.DataArray(
        values,
        dims=("site", "time"),
        coords={"site": list(sites), "time": beijing_day_stamp(days)},
        name="pm25",
    )


def ar1_series(
    first_day: str, last_day: str, *, phi: float = 0.9, seed: int = 0, n_site: int = 1
) -> tuple[xr.DataArray, np.ndarray]:
    """Daily PM2.5-like series: winter-peaked seasonal cycle + AR(1) anomalies (+ a met driver)."""
    days = pd.date_range(first_day, last_day)
    rng = np.random.default_rng(seed)
    season = 70 + 50 * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 15) / 365.25)
    anom = np.zeros((n_site, len(days)))
    eps = rng.normal(0, 25, size=anom.shape)
    for t in range(1, len(days)):
        anom[:, t] = phi * anom[:, t - 1] + eps[:, t]
    values = season[None, :] + anom
    da = daily(values, first_day, tuple(f"s{i}" for i in range(n_site)))
    return da, season


# --------------------------------------------------------------------------------------------
# time conventions


def test_last_known_and_targets_daily() -> None:
    issue = _bj("2020-01-10 10:00")
    assert issue == pd.Timestamp("2020-01-10 02:00")
    # at 10:00 BJT the newest complete Beijing day is 9 January (stamp 16:00 UTC on the 8th)
    assert last_known_time([issue], "D")[0] == pd.Timestamp("2020-01-08 16:00")
    # 23:00 BJT: the day's last hour is in, so the day itself is complete
    assert last_known_time([_bj("2020-01-10 23:00")], "D")[0] == pd.Timestamp("2020-01-09 16:00")
    assert last_known_time([_bj("2020-01-10 22:59")], "D")[0] == pd.Timestamp("2020-01-08 16:00")
    # a 2-hour data delay at 00:30 BJT on the 11th still leaves the 9th as newest
    late = last_known_time([_bj("2020-01-11 00:30")], "D", delay=pd.Timedelta(hours=2))
    assert late[0] == pd.Timestamp("2020-01-08 16:00")
    tt = target_times([issue], [0, 1, 7], "D")
    assert tt.shape == (1, 3)
    assert list(pd.DatetimeIndex(tt[0])) == list(
        beijing_day_stamp(["2020-01-10", "2020-01-11", "2020-01-17"])
    )


def test_last_known_and_targets_hourly() -> None:
    issue = pd.Timestamp("2020-01-10 02:20")
    assert last_known_time([issue], "h")[0] == pd.Timestamp("2020-01-10 02:00")
    tt = target_times([issue], [1, 24], "h")
    assert list(pd.DatetimeIndex(tt[0])) == [
        pd.Timestamp("2020-01-10 03:00"),
        pd.Timestamp("2020-01-11 02:00"),
    ]
    assert infer_freq(pd.date_range("2020-01-01", periods=5, freq="h")) == "h"
    assert infer_freq(beijing_day_stamp(pd.date_range("2020-01-01", periods=5))) == "D"
    with pytest.raises(ValueError, match="daily or hourly"):
        infer_freq(pd.date_range("2020-01-01", periods=5, freq="3h"))


def test_daily_issue_times_are_10_bjt() -> None:
    issues = daily_issue_times("2015-10-01", "2015-10-03")
    assert list(issues) == [
        pd.Timestamp("2015-10-01 02:00"),
        pd.Timestamp("2015-10-02 02:00"),
        pd.Timestamp("2015-10-03 02:00"),
    ]


# --------------------------------------------------------------------------------------------
# persistence


def test_persistence_shift_on_series_types() -> None:
    da = daily([1.0, 2.0, 3.0, 4.0, 5.0], "2020-01-01")
    out = persistence(da, 1)
    assert isinstance(out, xr.DataArray)
    np.testing.assert_array_equal(out.values[0], [np.nan, 1.0, 2.0, 3.0, 4.0])
    out2 = persistence(da, 2)
    np.testing.assert_array_equal(out2.values[0], [np.nan, np.nan, 1.0, 2.0, 3.0])
    series = da.isel(site=0).to_series()
    s_out = persistence(series, 1)
    assert isinstance(s_out, pd.Series)
    np.testing.assert_array_equal(s_out.to_numpy(), [np.nan, 1.0, 2.0, 3.0, 4.0])
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]},
                         index=da.time.values[:3])  # fmt: skip
    f_out = persistence(frame, 1)
    assert isinstance(f_out, pd.DataFrame)
    np.testing.assert_array_equal(f_out["b"].to_numpy(), [np.nan, 10.0, 20.0])


def test_persistence_never_bridges_gaps() -> None:
    da = daily([1.0, 2.0, 3.0, 4.0, 5.0], "2020-01-01")
    gappy = da.drop_isel(time=2)  # 3 January missing from the axis altogether
    out = persistence(gappy, 1)
    # 4 January's forecast needs 3 January: NaN, not 2 January's value
    np.testing.assert_array_equal(out.values[0], [np.nan, 1.0, np.nan, 4.0])
    assert np.isnan(out.values[0, 2])


def test_persistence_forecast_uses_last_complete_day() -> None:
    da = daily(np.arange(1.0, 21.0), "2020-01-01")  # value = day of month
    issues = daily_issue_times("2020-01-05", "2020-01-07")
    fc = Persistence().forecast(da, issues, [1, 2, 7])
    assert fc.dims == ("site", "issue_time", "lead")
    # issued on the 5th at 10:00 → the 4th is the newest complete day, for every lead
    np.testing.assert_array_equal(fc.values[0], [[4.0] * 3, [5.0] * 3, [6.0] * 3])
    assert pd.Timestamp(fc.target_time.values[0, 0]) == beijing_day_stamp(["2020-01-06"])[0]
    assert fc.attrs["lead_units"] == "days"


def test_persistence_hourly() -> None:
    times = pd.date_range("2020-01-01 00:00", periods=48, freq="h")
    da = xr.DataArray(np.arange(48.0)[None, :], dims=("site", "time"),
                      coords={"site": ["a"], "time": times})  # fmt: skip
    fc = Persistence().forecast(da, [pd.Timestamp("2020-01-01 10:30")], [1, 6])
    np.testing.assert_array_equal(fc.values[0, 0], [10.0, 10.0])
    assert fc.attrs["lead_units"] == "hours"
    assert persistence(da, 3).values[0, 5] == 2.0


# --------------------------------------------------------------------------------------------
# climatology


def test_day_of_year_365() -> None:
    days = pd.DatetimeIndex(["2015-01-01", "2015-12-31", "2016-02-28", "2016-02-29", "2016-03-01",
                             "2016-12-31"])  # fmt: skip
    assert list(day_of_year_365(days)) == [0, 364, 58, 58, 59, 364]


def test_climatology_daily_mean_over_years_and_window() -> None:
    # 2013 all 10, 2014 all 30 → 20 everywhere
    v = np.r_[np.full(365, 10.0), np.full(365, 30.0)]
    clim = Climatology(window_days=3).fit(daily(v, "2013-01-01"))
    out = clim.predict(beijing_day_stamp(["2016-01-01", "2016-07-15", "2016-12-31"]))
    np.testing.assert_allclose(out.values[0], [20.0, 20.0, 20.0])


def test_climatology_smoothing_is_circular_boxcar() -> None:
    v = np.arange(365.0)  # value = day of year (0..364) in 2015
    clim = Climatology(window_days=1, min_count=1).fit(daily(v, "2015-01-01"))
    out = clim.predict(beijing_day_stamp(["2017-04-11", "2017-01-01", "2017-12-31"]))
    # 11 April = doy 100 → mean(99, 100, 101); 1 Jan wraps: mean(364, 0, 1); 31 Dec: (363, 364, 0)
    np.testing.assert_allclose(out.values[0], [100.0, 365 / 3, (363 + 364) / 3])
    exact = Climatology(window_days=0, min_count=1).fit(daily(v, "2015-01-01"))
    assert float(exact.predict(beijing_day_stamp(["2019-04-11"])).values[0, 0]) == 100.0


def test_climatology_uses_beijing_day_and_min_count() -> None:
    v = np.full(31, 50.0)
    clim = Climatology(window_days=2, min_count=3).fit(daily(v, "2015-01-01"))
    # the 1 January stamp is 16:00 UTC on 31 December: it must map to Beijing 1 January
    stamp = beijing_day_stamp(["2016-01-01"])
    assert stamp[0] == pd.Timestamp("2015-12-31 16:00")
    assert float(clim.predict(stamp).values[0, 0]) == 50.0
    # July has no training data → NaN, never a fallback
    assert np.isnan(clim.predict(beijing_day_stamp(["2016-07-01"])).values[0, 0])
    # 30 Dec pools 28 Dec – 1 Jan: only 1 Jan → 1 value < min_count 3
    assert np.isnan(clim.predict(beijing_day_stamp(["2016-12-30"])).values[0, 0])
    # 31 Dec pools 29 Dec – 2 Jan: 2 values < 3 ; 1 Jan pools 5 values ≥ 3
    assert np.isnan(clim.predict(beijing_day_stamp(["2016-12-31"])).values[0, 0])


def test_climatology_hourly_by_beijing_hour() -> None:
    times = pd.date_range("2015-01-01", "2015-03-01", freq="h", inclusive="left")
    bj_hour = (times.hour + 8) % 24
    da = xr.DataArray(bj_hour.to_numpy(dtype=float)[None, :], dims=("site", "time"),
                      coords={"site": ["a"], "time": times})  # fmt: skip
    clim = Climatology(window_days=5).fit(da)
    out = clim.predict(pd.DatetimeIndex(["2016-01-20 02:00", "2016-01-20 15:00"]))
    # 02:00 UTC is 10:00 Beijing time; 15:00 UTC is 23:00 Beijing time
    np.testing.assert_allclose(out.values[0], [10.0, 23.0])
    fc = clim.forecast(None, [pd.Timestamp("2016-01-20 02:00")], [1, 2])
    np.testing.assert_allclose(fc.values[0, 0], [11.0, 12.0])


def test_climatology_forecast_layout_two_sites() -> None:
    v = np.vstack([np.full(400, 10.0), np.full(400, 99.0)])
    clim = Climatology().fit(daily(v, "2014-01-01", sites=("a", "b")))
    issues = daily_issue_times("2015-03-01", "2015-03-03")
    fc = clim.forecast(None, issues, [1, 2])
    assert fc.shape == (2, 3, 2)
    flat = fc.values.ravel()  # row = (site * n_issues + issue) * n_leads + lead
    assert flat[(0 * 3 + 2) * 2 + 1] == 10.0
    assert flat[(1 * 3 + 0) * 2 + 0] == 99.0


# --------------------------------------------------------------------------------------------
# no look-ahead


def _perturb_after(da: xr.DataArray, after: pd.Timestamp, rng: np.random.Generator) -> xr.DataArray:
    """Replace every value stamped after ``after`` by noise."""
    out = da.copy(deep=True)
    future = pd.DatetimeIndex(out.time.values) > after
    out.values[:, future] = rng.uniform(0, 500, size=(out.sizes["site"], int(future.sum())))
    return out


@pytest.mark.parametrize("which", ["persistence", "climatology", "linear"])
def test_no_look_ahead(which: str) -> None:
    da, _ = ar1_series("2012-01-01", "2016-03-31", n_site=2, seed=4)
    train = da.sel(time=slice(None, pd.Timestamp("2014-09-15")))
    leads = [1, 3, 7]
    if which == "persistence":
        model = Persistence()
    elif which == "climatology":
        model = Climatology().fit(train)
    else:
        model = LinearBaseline(leads).fit(train)
    issues = daily_issue_times("2015-01-01", "2015-02-28")
    reference = model.forecast(da, issues, leads)
    assert np.isfinite(reference.values).all()
    rng = np.random.default_rng(0)
    for issue in issues[::7]:
        alone = model.forecast(da, [issue], leads)  # same computation path as below: exact
        np.testing.assert_allclose(
            alone.values[:, 0], reference.sel(issue_time=issue).values, rtol=1e-12
        )
        # everything stamped after the newest complete day — including today (D), whose stamp
        # (00:00 BJT) is before the 10:00 issue but whose mean is not complete — is perturbed
        known = last_known_time([issue], "D")[0]
        assert known < issue - pd.Timedelta(hours=10)
        perturbed = _perturb_after(da, known, rng)
        got = model.forecast(perturbed, [issue], leads)
        np.testing.assert_array_equal(got.values, alone.values)
    if which != "climatology":
        # the test can fail: perturbing the newest known value changes the forecast
        issue = issues[10]
        known = last_known_time([issue], "D")[0]
        bumped = da.copy(deep=True)
        bumped.loc[{"time": known}] = bumped.sel(time=known) + 100.0
        got = model.forecast(bumped, [issue], leads)
        assert not np.allclose(got.values[:, 0], reference.sel(issue_time=issue).values)


def test_climatology_fitted_on_train_only() -> None:
    da, _ = ar1_series("2012-01-01", "2015-12-31", seed=2)
    cut = pd.Timestamp("2014-12-31")
    a = Climatology().fit(da.sel(time=slice(None, cut)))
    b = Climatology().fit(_perturb_after(da, cut, np.random.default_rng(1)).sel(
        time=slice(None, cut)))  # fmt: skip
    times = beijing_day_stamp(pd.date_range("2015-01-01", "2015-12-31"))
    np.testing.assert_array_equal(a.predict(times).values, b.predict(times).values)


# --------------------------------------------------------------------------------------------
# linear baseline skill


def test_linear_beats_climatology_with_strong_persistence() -> None:
    da, _ = ar1_series("2010-01-01", "2016-03-31", phi=0.9, seed=11)
    train = da.sel(time=slice(None, pd.Timestamp("2014-09-20")))
    leads = [1, 2, 7]
    lin = LinearBaseline(leads, alpha=1.0).fit(train)
    clim = Climatology().fit(train)
    pers = Persistence()
    issues = daily_issue_times("2014-10-01", "2016-03-24")
    fl, fc, fp = (m.forecast(da, issues, leads) for m in (lin, clim, pers))
    obs = da.reindex(time=pd.DatetimeIndex(fl.target_time.values.ravel())).values.reshape(fl.shape)
    r = {
        name: [rmse(obs[0, :, j], f.values[0, :, j]) for j in range(len(leads))]
        for name, f in (("lin", fl), ("clim", fc), ("pers", fp))
    }
    # lead 1 (2 days after the newest value): anomaly correlation 0.81 → far better than clim
    assert r["lin"][0] < 0.8 * r["clim"][0]
    assert r["lin"][1] < r["clim"][1]
    # lead 7: persistence has decayed; the ridge falls back towards climatology, not below it
    assert r["lin"][2] < 1.05 * r["clim"][2]
    assert r["lin"][2] < r["pers"][2]
    names = lin.predictor_names
    assert names == ("persistence", "climatology_target", "climatology_origin")


def test_linear_uses_met_at_valid_time() -> None:
    da, _ = ar1_series("2010-01-01", "2015-12-31", phi=0.3, seed=5)
    rng = np.random.default_rng(9)
    stagnation = rng.normal(size=da.shape)
    target = da + 80.0 * stagnation  # a met driver known for the valid day
    met = xr.Dataset({"stagnation": (("site", "time"), stagnation)},
                     coords={"site": da.site.values, "time": da.time.values})  # fmt: skip
    cut = pd.Timestamp("2013-12-31")
    train = target.sel(time=slice(None, cut))
    with_met = LinearBaseline([1, 3]).fit(train, met=met)
    without = LinearBaseline([1, 3]).fit(train)
    issues = daily_issue_times("2014-10-01", "2015-12-20")
    a = with_met.forecast(target, issues, met=met)
    b = without.forecast(target, issues)
    obs = target.reindex(time=pd.DatetimeIndex(a.target_time.values.ravel())).values.reshape(
        a.shape
    )
    assert rmse(obs, a.values) < 0.5 * rmse(obs, b.values)
    assert with_met.predictor_names[-1] == "stagnation"
    with pytest.raises(ValueError, match="met variable 'stagnation'"):
        with_met.forecast(target, issues)
    with pytest.raises(ValueError, match="were not fitted"):
        without.forecast(target, issues, [5])


def test_linear_refuses_too_little_data() -> None:
    da = daily(np.arange(10.0), "2015-01-01")
    with pytest.raises(ValueError, match="complete training samples"):
        LinearBaseline([1]).fit(da)


def _ridge_reference(X: np.ndarray, y: np.ndarray, Xnew: np.ndarray, alpha: float) -> np.ndarray:
    """Closed-form ridge with an intercept on mean-imputed, standardised columns."""
    mean = np.nanmean(X, axis=0)
    fill = lambda A: np.where(np.isnan(A), mean, A)  # noqa: E731
    Xf = fill(X)
    mu, sd = Xf.mean(axis=0), Xf.std(axis=0)
    sd[sd == 0] = 1.0
    Z = (Xf - mu) / sd
    beta = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (y - y.mean()))
    return ((fill(Xnew) - mu) / sd) @ beta + y.mean()


def test_ridge_on_features_matches_closed_form_per_lead_day() -> None:
    from models.baselines import RidgeOnFeatures

    rng = np.random.default_rng(5)
    n = 240
    lead = np.repeat([6.0, 24.0, 30.0, 48.0], n // 4)  # lead days 1, 1, 2, 2
    X = rng.normal(size=(n, 4))
    X[rng.random((n, 4)) < 0.1] = np.nan
    base = rng.uniform(20, 200, n)
    y = base + 3 * np.nan_to_num(X[:, 0]) - 2 * (lead > 24) + rng.normal(0, 1, n)
    y[::17] = np.nan  # rows without a target are left out
    model = RidgeOnFeatures(alpha=10.0).fit(X, y, lead, base)
    assert set(model.models_) == {1, 2}
    got = model.predict(X, lead, base)
    for day in (1, 2):
        rows = np.ceil(lead / 24) == day
        fit = rows & np.isfinite(y)
        want = _ridge_reference(X[fit], (y - base)[fit], X[rows], 10.0) + base[rows]
        np.testing.assert_allclose(got[rows], np.clip(want, 0, None), rtol=1e-9, atol=1e-9)
    # A lead day never fitted gives NaN, and forecasts are never negative.
    assert np.isnan(model.predict(X[:3], np.array([100.0, 100.0, 100.0]))).all()
    assert (model.predict(X, lead, np.zeros(n)) >= 0).all()
