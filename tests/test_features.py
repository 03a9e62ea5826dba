"""The feature kernels against a slow, obvious pandas / numpy reference.

Panels are uneven on purpose: sites start and end at different times (leading and trailing
NaN), have random single-step and long gaps, constant runs, integer-valued and high-level
low-variance series. Agreement is required on the exact NaN pattern and on every value to
1e-6 relative (float32 storage; an absolute 1e-6 µg/m³ for values that are 0 in the
reference, such as a difference of two equal means).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xarray as xr

from features import kernels
from features.build import (
    absolute_step,
    build_feature_matrix,
    feature_dataarray,
    time_step_hours,
    warmup,
)
from features.calendar import SPRING_FESTIVAL, calendar_table
from features.catalogue import (
    CATALOGUE_PATH,
    CATALOGUE_VERSION,
    catalogue,
    feature_names,
    render_markdown,
)
from features.config import (
    DEFAULT_MET_VARIABLES,
    KIND_STATE,
    FeatureConfig,
    met_kind,
    to_steps,
)
from features.synthetic import panel_dataset, uneven_panel, weather_dataset

RTOL = 1e-6
ATOL = 1e-6  # µg/m³ (or the feature's unit): only matters where the reference is 0


# --------------------------------------------------------------------------- reference
def reference_history(
    x: npt.NDArray[np.float64], config: FeatureConfig, step_h: float
) -> pd.DataFrame:
    """Every PM2.5 history feature of one site at every step, the slow and obvious way."""
    s = pd.Series(x)
    n = len(x)
    steps = config.resolve(step_h)
    out: dict[str, pd.Series] = {}
    for h, k in zip(config.lags_h, steps.lag_steps, strict=True):
        out[f"lag{h}"] = s.shift(int(k))
    for w, m in zip(steps.win_steps, steps.win_min, strict=True):
        # each window on its own, two-pass (pandas' rolling std drifts by ~1e-6 after large
        # values and misses exact zeros of constant windows; min and max checked with pandas)
        padded = np.r_[np.full(int(w) - 1, np.nan), x]
        win = np.lib.stride_tricks.sliding_window_view(padded, int(w))
        count = np.sum(~np.isnan(win), axis=1)
        enough = count >= m
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            mean = np.nanmean(win, axis=1)
            std = np.nanstd(win, axis=1, ddof=1)
        roll = s.rolling(int(w), min_periods=int(m))
        out[f"mean{w}"] = pd.Series(np.where(enough, mean, np.nan))
        out[f"std{w}"] = pd.Series(np.where(enough & (count >= 2), std, np.nan))
        out[f"min{w}"] = roll.min()
        out[f"max{w}"] = roll.max()
    idx = np.arange(n)
    last_valid = pd.Series(np.where(s.notna(), idx, np.nan)).ffill().to_numpy()
    for hl, age in zip(steps.ewm_halflife_steps, steps.ewm_max_age, strict=True):
        e = s.ewm(halflife=hl, adjust=True, ignore_na=False).mean().to_numpy()
        out[f"ewm{hl}"] = pd.Series(np.where(idx - last_valid <= age, e, np.nan))
    if steps.diurnal_days:
        anomaly = np.full(n, np.nan)
        for t in range(n):
            past = [
                x[t - k * steps.diurnal_period]
                for k in range(1, steps.diurnal_days + 1)
                if t - k * steps.diurnal_period >= 0
                and not np.isnan(x[t - k * steps.diurnal_period])
            ]
            if len(past) >= steps.diurnal_min and not np.isnan(x[t]):
                anomaly[t] = x[t] - np.mean(past)
        out["diurnal"] = pd.Series(anomaly)
    if steps.rise_steps:
        out["rise"] = (s - s.shift(steps.rise_steps)) / config.rise_h
    for thr in config.exceedance_thresholds:
        since = np.full(n, np.nan)
        last = None
        for t in range(n):
            if x[t] > thr:
                last = t
            if last is not None and t - last <= steps.lookback:
                since[t] = (t - last) * step_h
        out[f"since{thr}"] = pd.Series(since)
    if config.episode_threshold is not None:
        episode = np.full(n, np.nan)
        run = 0
        for t in range(n):
            run = run + 1 if x[t] > config.episode_threshold else 0
            if not np.isnan(x[t]):
                episode[t] = min(run, steps.lookback) * step_h
        out["episode"] = pd.Series(episode)
    return pd.DataFrame(out)


def reference_met(
    ds: xr.Dataset, site: int, issue: int, lead_steps: list[int], config: FeatureConfig
) -> npt.NDArray[np.float64]:
    """The meteorology columns of one site and issue time, for each lead (rows)."""
    p = config.resolve(time_step_hours(ds))
    n = ds.sizes["time"]
    rows = []
    for lead in lead_steps:
        v = issue + lead
        row: list[float] = []
        for name in [m for m in config.met_vars if m in ds]:
            series = pd.Series(ds[name].values[site])
            at = series.iloc[v] if v < n else np.nan
            row.append(at)
            if name == "tp":
                for w, m in zip(p.met_total_steps, p.met_total_min, strict=True):
                    total = series.rolling(int(w), min_periods=int(m)).sum()
                    row.append(total.iloc[v] if v < n else np.nan)
                since = series.iloc[issue + 1 : v + 1]
                need = math.ceil(config.min_valid_fraction * lead - 1e-9)
                row.append(since.sum() if since.notna().sum() >= need else np.nan)
            elif name == "stagnant":
                if v < n and not np.isnan(series.iloc[v]):
                    run = 0
                    while v - run >= 0 and series.iloc[v - run] == 1.0:
                        run += 1
                    row.append(min(run, p.stagnation_cap) * p.step_hours)
                else:
                    row.append(np.nan)
                since = series.iloc[issue + 1 : v + 1]
                need = math.ceil(config.min_valid_fraction * lead - 1e-9)
                row.append(since.sum() * p.step_hours if since.notna().sum() >= need else np.nan)
            else:
                for w, m in zip(p.met_mean_steps, p.met_mean_min, strict=True):
                    mean = series.rolling(int(w), min_periods=int(m)).mean()
                    row.append(mean.iloc[v] if v < n else np.nan)
                if config.met_change:  # NaN propagates: missing at either end gives NaN
                    row.append(series.iloc[v] - series.iloc[issue] if v < n else np.nan)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def assert_matches(
    actual: npt.NDArray[np.float32], expected: npt.NDArray[np.float64], what: str
) -> None:
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    bad = np.flatnonzero(nan_a != nan_e)
    assert bad.size == 0, (
        f"{what}: NaN pattern differs at {bad.size} steps, first t={bad[0]}: "
        f"kernel {actual[bad[0]]}, reference {expected[bad[0]]}"
    )
    a = actual[~nan_a].astype(np.float64)
    e = expected[~nan_e]
    err = np.abs(a - e)
    bad = np.flatnonzero(err > RTOL * np.abs(e) + ATOL)
    assert bad.size == 0, (
        f"{what}: {bad.size} values differ beyond {RTOL:g} relative, e.g. kernel {a[bad[0]]} "
        f"vs reference {e[bad[0]]}"
    )


def history_block(
    X: npt.NDArray[np.float32], n_sites: int, n_steps: int, n_hist: int
) -> npt.NDArray[np.float32]:
    return X[:, :n_hist].reshape(n_sites, n_steps, n_hist)


# --------------------------------------------------------------------------- tests
@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup()


@pytest.mark.parametrize("seed", [0, 1])
def test_history_matches_pandas_reference(seed: int) -> None:
    config = FeatureConfig()
    x = uneven_panel(19, 1500, seed)  # 19 sites: one full SIMD group and a partial one
    ds = panel_dataset(x, met=False)
    X, _, names = build_feature_matrix(ds, None, [0], config=config)
    n_hist = config.resolve(1.0).n_history
    assert names[:n_hist] == feature_names(config, [])[:n_hist]
    H = history_block(X, *x.shape, n_hist)
    for s in range(x.shape[0]):
        ref = reference_history(x[s], config, 1.0)
        assert len(ref.columns) == n_hist
        for j, col in enumerate(ref.columns):
            assert_matches(H[s, :, j], ref[col].to_numpy(), f"site {s} {names[j]}")


def test_long_series_has_no_drift() -> None:
    """30,000 hourly steps: windows stay exact (no add-then-subtract accumulation)."""
    config = FeatureConfig(
        lags_h=(1,), ewm_halflives_h=(), diurnal_days=0, rise_h=0,
        exceedance_thresholds=(), episode_threshold=None,
    )  # fmt: skip
    rng = np.random.default_rng(3)
    n = 30_000
    x = np.vstack(
        [
            rng.gamma(1.5, 60.0, n) * (1 + 50 * (np.arange(n) % 5000 < 50)),  # spikes of 1e4
            1.0e4 + rng.normal(0.0, 0.01, n),  # level 1e4, spread 0.01: cancellation-prone
            np.round(rng.gamma(1.5, 60.0, n)),
        ]
    )
    x[:, rng.random(n) < 0.1] = np.nan
    ds = panel_dataset(x, met=False)
    X, _, names = build_feature_matrix(ds, None, [0], config=config)
    H = X.reshape(3, n, -1)
    for s in range(3):
        view = np.lib.stride_tricks.sliding_window_view(np.r_[np.full(71, np.nan), x[s]], 72)
        for j, w in enumerate(config.windows_h):
            win = view[:, -int(w) :]
            count = np.sum(~np.isnan(win), axis=1)
            ok = count >= math.ceil(0.75 * w)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
                mean = np.where(ok, np.nanmean(win, axis=1), np.nan)
                std = np.where(ok & (count >= 2), np.nanstd(win, axis=1, ddof=1), np.nan)
            assert_matches(H[s, :, 1 + 4 * j], mean, f"site {s} {names[1 + 4 * j]}")
            assert_matches(H[s, :, 2 + 4 * j], std, f"site {s} {names[2 + 4 * j]}")


def test_meteorology_matches_reference() -> None:
    config = FeatureConfig()
    x = uneven_panel(5, 600, 4)
    ds = panel_dataset(x)
    issues = ds.indexes["time"][[0, 40, 333, 500, 590]]
    leads = [0, 1, 6, 24, 48]
    X, index, names = build_feature_matrix(ds, issues, leads, config=config)
    assert index.attrs["met_used"] == ["blh", "tp", "stagnant"]
    assert index.attrs["met_skipped"] == ["wind_speed", "ventilation", "inversion", "rh2m"]
    p = config.resolve(1.0)
    lo = p.n_history
    hi = names.index("hour_bjt")
    met_names = names[lo:hi]
    assert met_names[:4] == ["blh", "blh_mean_6h", "blh_mean_24h", "blh_change"]
    rows = X.reshape(5, len(issues), len(leads), -1)
    for s in range(5):
        for k, t in enumerate(ds.indexes["time"].get_indexer(issues)):
            ref = reference_met(ds, s, int(t), leads, config)
            for j, name in enumerate(met_names):
                assert_matches(rows[s, k, :, lo + j], ref[:, j], f"site {s} issue {t} {name}")


STATES = [v for v in DEFAULT_MET_VARIABLES if met_kind(v) == KIND_STATE]


def met_block_names(config: FeatureConfig, met_vars: list[str]) -> list[str]:
    """The documented column order of the met block (see features.build), spelled out."""
    out: list[str] = []
    for v in met_vars:
        out.append(v)
        if v == "tp":
            out += [f"tp_sum_{h:g}h" for h in config.precip_windows_h] + ["tp_since_issue"]
        elif v == "stagnant":
            out += ["stagnant_run_h", "stagnant_h_since_issue"]
        else:
            out += [f"{v}_mean_{h:g}h" for h in config.met_windows_h]
            out += [f"{v}_change"] if config.met_change else []
    return out


@pytest.mark.parametrize("daily", [False, True])
def test_met_change_matches_reference(daily: bool) -> None:
    """Every met column, the changes since issue included, on an uneven panel with gaps."""
    config = FeatureConfig.daily() if daily else FeatureConfig.hourly()
    step = 24.0 if daily else 1.0
    n_steps = 400
    x = uneven_panel(7, n_steps, 21)
    start, freq = ("2019-12-31 16:00", "D") if daily else ("2021-10-01", "h")
    ds = weather_dataset(x, start=start, freq=freq, seed=3)
    leads_h = [0.0, 24.0, 72.0, 168.0] if daily else [0.0, 1.0, 6.0, 24.0, 48.0]
    lead_steps = [round(h / step) for h in leads_h]
    issue_steps = [0, 3, 57, 200, 333, n_steps - 5, n_steps - 1]
    # states missing at the issue time (known later), and missing at a valid time only
    for v in STATES:
        ds[v][1, 200] = np.nan
        ds[v][1, 200 + lead_steps[1] : 200 + lead_steps[-1] + 1] = 5.0
        ds[v][2, 200] = 7.0
        ds[v][2, 200 + lead_steps[2]] = np.nan
    issues = ds.indexes["time"][issue_steps]
    X, index, names = build_feature_matrix(ds, issues, leads_h, config=config)
    assert index.attrs["met_used"] == list(DEFAULT_MET_VARIABLES)
    lo = config.resolve(step).n_history
    hi = names.index("hour_bjt")
    assert names[lo:hi] == met_block_names(config, list(DEFAULT_MET_VARIABLES))
    assert names[lo : lo + 3 + len(config.met_windows_h)] == [
        "blh",
        *[f"blh_mean_{h:g}h" for h in config.met_windows_h],
        "blh_change",
        "wind_speed",
    ]
    rows = X.reshape(7, len(issues), len(leads_h), -1)
    for s in range(7):
        for k, t in enumerate(issue_steps):
            ref = reference_met(ds, s, t, lead_steps, config)
            for j, name in enumerate(names[lo:hi]):
                assert_matches(rows[s, k, :, lo + j], ref[:, j], f"site {s} issue {t} {name}")
    k200 = issue_steps.index(200)
    for v in STATES:
        c, cv = names.index(f"{v}_change"), names.index(v)
        change = rows[..., c]
        # lead 0: exactly 0 where the state is known at the issue time, NaN where it is not
        known = ~np.isnan(ds[v].values[:, issue_steps])
        assert np.array_equal(change[:, :, 0] == 0.0, known)
        assert np.isnan(change[:, :, 0][~known]).all()
        # missing at the issue time: NaN at every lead although the valid-time value is known
        assert (rows[1, k200, 1:, cv] == 5.0).all() and np.isnan(change[1, k200]).all()
        # missing at the valid time only: NaN there, the plain difference elsewhere
        assert np.isnan(change[2, k200, 2])
        assert change[2, k200, 1] == np.float32(ds[v].values[2, 200 + lead_steps[1]] - 7.0)
        # beyond the data: NaN
        assert np.isnan(change[:, -1, 1:]).all()


def test_met_change_can_be_switched_off() -> None:
    ds = weather_dataset(uneven_panel(4, 300, 22))
    issues = ds.indexes["time"][::5]
    on, _, names_on = build_feature_matrix(ds, issues, [0, 3, 24], config=FeatureConfig())
    off_config = dataclasses.replace(FeatureConfig(), met_change=False)
    off, _, names_off = build_feature_matrix(ds, issues, [0, 3, 24], config=off_config)
    added = [n for n in names_on if n not in names_off]
    assert added == [f"{v}_change" for v in STATES]
    assert names_off == [n for n in names_on if n not in added]
    assert names_off == feature_names(off_config, list(DEFAULT_MET_VARIABLES))
    keep = [names_on.index(n) for n in names_off]
    assert np.array_equal(on[:, keep], off, equal_nan=True)
    assert not np.isnan(on[:, [names_on.index(n) for n in added]]).all()


def test_met_change_for_any_state_variable() -> None:
    """A variable outside the default list (as models may pass) is a state with a change."""
    ds = weather_dataset(uneven_panel(3, 200, 23))
    ds["t2m"] = ds["inversion"] + 265.0
    config = dataclasses.replace(FeatureConfig(), met_vars=("t2m", "tp"))
    issue_steps = [30, 100, 190]
    X, _, names = build_feature_matrix(
        ds, ds.indexes["time"][issue_steps], [0, 2, 12], config=config
    )
    lo = config.resolve(1.0).n_history
    hi = names.index("hour_bjt")
    assert names[lo:hi] == [
        "t2m", "t2m_mean_6h", "t2m_mean_24h", "t2m_change",
        "tp", "tp_sum_24h", "tp_sum_72h", "tp_since_issue",
    ]  # fmt: skip
    rows = X.reshape(3, len(issue_steps), 3, -1)
    for s in range(3):
        for k, t in enumerate(issue_steps):
            ref = reference_met(ds, s, t, [0, 2, 12], config)
            for j, name in enumerate(names[lo:hi]):
                assert_matches(rows[s, k, :, lo + j], ref[:, j], f"site {s} issue {t} {name}")


def test_met_change_in_the_catalogue() -> None:
    for config in (FeatureConfig(), FeatureConfig.hourly(), FeatureConfig.daily()):
        assert config.met_change
        cat = {f.name: f for f in catalogue(config)}
        for v in DEFAULT_MET_VARIABLES:
            if met_kind(v) != KIND_STATE:
                assert f"{v}_change" not in cat
                continue
            f = cat[f"{v}_change"]
            assert (f.unit, f.family) == (cat[v].unit, cat[v].family)
            assert f.source == "met_change" and f.sees == "valid time (forecast met)"
            assert f"{v}(tv) − {v}(t0)" in f.formula
    off = dataclasses.replace(FeatureConfig(), met_change=False)
    assert not [f for f in catalogue(off) if f.source == "met_change"]


def test_index_layout_and_lead_column() -> None:
    x = uneven_panel(3, 100, 5)
    ds = panel_dataset(x)
    issues = ds.indexes["time"][[10, 20]]
    X, index, names = build_feature_matrix(ds, issues, [3, 1])
    assert X.dtype == np.float32 and X.flags.c_contiguous and X.shape == (3 * 2 * 2, len(names))
    assert list(index.columns) == ["site", "issue_time", "lead_h", "valid_time"]
    assert index["site"].tolist() == ["S000"] * 4 + ["S001"] * 4 + ["S002"] * 4
    assert index["lead_h"].tolist() == [1.0, 3.0] * 6
    assert (
        index["valid_time"] == index["issue_time"] + pd.to_timedelta(index["lead_h"], "h")
    ).all()
    assert X[:, names.index("lead_h")].tolist() == [1.0, 3.0] * 6
    # history features repeat over the leads of an issue; lag 1 h is the value an hour before
    lag1 = X[:, names.index("pm25_lag_1h")]
    assert np.array_equal(lag1[0::2], lag1[1::2], equal_nan=True)
    expected = np.repeat(x[:, [9, 19]].astype(np.float32).ravel(), 2)
    assert np.array_equal(lag1, expected, equal_nan=True)


def test_output_buffer_is_reused_and_checked() -> None:
    ds = panel_dataset(uneven_panel(3, 200, 6))
    X1, _, names = build_feature_matrix(ds, None, [0, 1])
    buf = np.full_like(X1, 123.0)
    X2, _, _ = build_feature_matrix(ds, None, [0, 1], out=buf)
    assert X2 is buf
    assert np.array_equal(X1, X2, equal_nan=True)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        build_feature_matrix(ds, None, [0, 1], out=np.empty((len(X1), len(names)), np.float64))
    with pytest.raises(ValueError, match="C-contiguous float32"):
        build_feature_matrix(ds, None, [0, 1], out=np.empty((len(names), len(X1)), np.float32).T)


def test_float32_input_gives_the_same_features() -> None:
    x = uneven_panel(4, 400, 8).astype(np.float32).astype(np.float64)
    p = FeatureConfig().resolve(1.0)
    out64 = np.empty((4 * 400, p.n_history), np.float32)
    out32 = np.empty_like(out64)
    issue = np.arange(400, dtype=np.int64)
    kernels.pm25_history(x, 0, issue, 1, out64, 0, *p.history_args())
    kernels.pm25_history(x.astype(np.float32), 0, issue, 1, out32, 0, *p.history_args())
    assert np.array_equal(out64, out32, equal_nan=True)


def test_future_data_is_never_seen() -> None:
    """Changing PM2.5 after the issue time, or meteorology after the valid time, changes nothing."""
    x = uneven_panel(4, 500, 9)
    ds = panel_dataset(x)
    t0 = 300
    issue = ds.indexes["time"][[t0]]
    X, _, names = build_feature_matrix(ds, issue, [0, 6, 24])
    later = ds.copy(deep=True)
    later["pm25"][:, t0 + 1 :] = 9999.0
    later["blh"][:, t0 + 25 :] = -1.0
    later["tp"][:, t0 + 25 :] = 50.0
    later["stagnant"][:, t0 + 25 :] = np.nan
    X2, _, _ = build_feature_matrix(later, issue, [0, 6, 24])
    assert np.array_equal(X, X2, equal_nan=True)
    # and meteorology at the valid time is seen: blh at lead 24 changes with blh[t0 + 24]
    later["blh"][:, t0 + 24] = -2.0
    X3, _, _ = build_feature_matrix(later, issue, [0, 6, 24])
    assert (X3[2::3, names.index("blh")] == -2.0).all()
    # the change since issue sees blh at t0 and at tv only: -2 − blh(t0) at lead 24
    change = X3[2::3, names.index("blh_change")]
    assert np.array_equal(
        change, (-2.0 - ds["blh"].values[:, t0]).astype(np.float32), equal_nan=True
    )
    later["blh"][:, t0] = 100.0
    X4, _, _ = build_feature_matrix(later, issue, [0, 6, 24])
    assert np.array_equal(X4[2::3, names.index("blh_change")], np.full(4, -102.0, np.float32))
    assert (X4[0::3, names.index("blh_change")] == 0.0).all()


def test_daily_series_windows_in_hours() -> None:
    config = FeatureConfig.daily()
    rng = np.random.default_rng(11)
    x = rng.gamma(2.0, 50.0, (3, 400))
    x[rng.random(x.shape) < 0.1] = np.nan
    ds = panel_dataset(x, start="2019-12-31 16:00", freq="D")
    assert time_step_hours(ds) == 24.0
    X, index, names = build_feature_matrix(ds, None, [0, 24, 48], config=config)
    assert "pm25_mean_168h" in names and "pm25_lag_24h" in names
    n_hist = config.resolve(24.0).n_history
    H = X[::3, :n_hist].reshape(3, 400, n_hist)
    for s in range(3):
        ref = reference_history(x[s], config, 24.0)
        for j, col in enumerate(ref.columns):
            assert_matches(H[s, :, j], ref[col].to_numpy(), f"daily site {s} {names[j]}")
    # a daily value stamped 16:00 UTC is 00:00 of its Beijing day
    assert (X[:, names.index("hour_bjt")] == 0.0).all()
    assert index["lead_h"].tolist()[:3] == [0.0, 24.0, 48.0]


def test_window_not_a_whole_number_of_steps_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"rolling window 36 h.*time steps of 24 h"):
        FeatureConfig.daily().__class__(windows_h=(36,), lags_h=(24,)).resolve(24.0)
    with pytest.raises(ValueError, match=r"lag 1 h.*24 h"):
        FeatureConfig().resolve(24.0)
    assert to_steps(72, 24, "x") == 3
    x = np.ones((1, 10))
    ds = panel_dataset(x, start="2020-01-01", freq="D", met=False)
    with pytest.raises(ValueError, match="lead 12 h"):
        build_feature_matrix(ds, None, [12], config=FeatureConfig.daily())


def test_irregular_axis_and_unknown_issue_time_are_errors() -> None:
    ds = panel_dataset(np.ones((2, 50)), met=False)
    holey = ds.isel(time=[*range(10), *range(11, 50)])
    with pytest.raises(ValueError, match="not regular"):
        build_feature_matrix(holey, None, [0])
    with pytest.raises(ValueError, match="not on the data's time axis"):
        build_feature_matrix(ds, [pd.Timestamp("2030-01-01")], [0])


def test_calendar_in_beijing_time() -> None:
    utc = pd.DatetimeIndex(
        [
            "2024-01-06 00:00",  # Saturday 08:00 Beijing
            "2024-01-07 16:00",  # Monday 00:00 Beijing (Sunday in UTC)
            "2023-10-09 15:00",  # 9 Oct 23:00 Beijing: before the heating season
            "2023-10-09 16:00",  # 10 Oct 00:00 Beijing: heating season starts
            "2024-04-10 15:00",  # 10 Apr 23:00 Beijing: last heating day
            "2024-04-10 16:00",  # 11 Apr 00:00 Beijing: over
            "2024-02-02 16:00",  # 3 Feb Beijing: 7 days before the Spring Festival (10 Feb)
            "2024-02-01 16:00",  # 2 Feb Beijing: 8 days before
            "2024-02-25 15:59",  # 25 Feb 23:59 Beijing: 15 days after
            "2009-02-01 00:00",  # outside the table
            "2023-12-31 16:00",  # 1 Jan 2024 Beijing: day of year 1 (angle 0)
        ]
    )
    table = calendar_table(utc)
    hour, doy_sin, doy_cos, heating, weekend, festival = table.T
    assert hour.tolist()[:2] == [8.0, 0.0]
    assert weekend.tolist()[:2] == [1.0, 0.0]
    assert heating.tolist()[2:6] == [0.0, 1.0, 1.0, 0.0]
    assert festival.tolist()[6:9] == [1.0, 0.0, 1.0]
    assert np.isnan(festival[9])
    assert doy_sin[10] == 0.0 and doy_cos[10] == 1.0
    assert SPRING_FESTIVAL[2026].isoformat() == "2026-02-17"
    assert sorted(SPRING_FESTIVAL) == list(range(2010, 2036))


def test_catalogue_is_documented_and_in_sync() -> None:
    cat = catalogue(FeatureConfig())
    assert len({f.name for f in cat}) == len(cat)
    assert all(f.unit is not None and f.formula for f in cat)
    history = [f for f in cat if f.source == "pm25_history"]
    assert history and all(f.sees == "≤ issue time" for f in history)
    assert all(f.sees == "valid time (forecast met)" for f in cat if f.source.startswith("met"))
    assert len(CATALOGUE_VERSION) == 12
    assert CATALOGUE_PATH.read_text(encoding="utf-8") == render_markdown(), (
        "features/CATALOGUE.md is out of date: run `python -m features.catalogue`"
    )
    ds = panel_dataset(uneven_panel(2, 50, 1))
    _, _, names = build_feature_matrix(ds, None, [0])
    assert names == feature_names(FeatureConfig(), ["blh", "tp", "stagnant"])


def test_dask_site_chunks_equal_in_memory() -> None:
    pytest.importorskip("dask")
    x = uneven_panel(21, 300, 12)
    ds = panel_dataset(x)
    issues = ds.indexes["time"][::7]
    X, _, names = build_feature_matrix(ds, issues, [0, 3])
    lazy = feature_dataarray(ds.chunk({"site": 5}), issues, [0, 3])
    assert lazy.chunks is not None and len(lazy.chunks[0]) == 5
    got = lazy.compute().values.reshape(-1, len(names))
    assert np.array_equal(got, X, equal_nan=True)
    assert lazy["feature"].values.tolist() == names


def test_absolute_step_alignment() -> None:
    assert absolute_step(pd.Timestamp("1970-01-01 05:00"), 1.0) == 5
    assert absolute_step(pd.Timestamp("1970-01-03 16:00"), 24.0) == 2


def test_numba_cache_directory_is_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from features import numba_cache

    monkeypatch.setenv("WCS_NUMBA_CACHE_DIR", str(tmp_path / "nc"))
    assert numba_cache.default_cache_dir() == tmp_path / "nc"
    assert numba_cache.resolve_cache_dir() == (tmp_path / "nc").resolve()
    monkeypatch.delenv("WCS_NUMBA_CACHE_DIR")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert numba_cache.default_cache_dir() == tmp_path / "xdg" / "wcs-forecast" / "numba"
    assert Path(numba_cache.CACHE_DIR).is_dir()


def test_lightgbm_takes_the_matrix_without_a_copy() -> None:
    lgb = pytest.importorskip("lightgbm")
    from lightgbm.basic import _np2d_to_np1d  # what Dataset and predict use on a 2-D array

    ds = panel_dataset(uneven_panel(4, 300, 13))
    X, _, names = build_feature_matrix(ds, None, [0, 1])
    flat, _ = _np2d_to_np1d(X)
    assert np.shares_memory(flat, X), "LightGBM would copy the feature matrix"
    label = np.nan_to_num(X[:, names.index("pm25_lag_1h")])
    data = lgb.Dataset(X, label=label, feature_name=names, free_raw_data=False).construct()
    assert data.num_feature() == len(names)
