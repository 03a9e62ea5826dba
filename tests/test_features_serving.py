"""The serving path (one issue time, the last days of data) against the training path.

The rows of :func:`features.build.latest_features` must equal the rows of
:func:`features.build.build_feature_matrix` for the same issue time: bit for bit for every
column but the exponentially weighted means, which serving starts from the first step of its
history window (within 1 float32 ulp). Serving must also read nothing before that window.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from features import kernels
from features.build import (
    build_feature_matrix,
    latest_features,
    required_history_steps,
    warmup,
)
from features.config import FeatureConfig
from features.synthetic import uneven_panel, weather_dataset


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    warmup()


def assert_same_rows(
    serving: npt.NDArray[np.float32], training: npt.NDArray[np.float32], names: list[str]
) -> None:
    assert serving.shape == training.shape
    for j, name in enumerate(names):
        a, b = serving[:, j], training[:, j]
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{name}: NaN pattern differs"
        if "_ewm_" in name:
            ok = ~np.isnan(a)
            ulps = np.abs(a[ok].view(np.int32).astype(np.int64) - b[ok].view(np.int32))
            assert ulps.max(initial=0) <= 1, f"{name}: {ulps.max()} float32 ulps apart"
        else:
            assert np.array_equal(a, b, equal_nan=True), (
                f"{name}: serving {a[a != b][:3]} vs training {b[a != b][:3]}"
            )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_serving_equals_training(seed: int) -> None:
    config = FeatureConfig()
    n_steps = 5000  # longer than the serving window (EWM 72 h: 10 + 40 half-lives)
    ds = weather_dataset(uneven_panel(18, n_steps, seed), seed=seed)
    rng = np.random.default_rng(seed)
    picks = [5, 80, *rng.integers(200, n_steps, 4).tolist(), n_steps - 1]
    # a state missing at an issue time: its changes since issue are NaN in both paths
    ds["wind_speed"][3, picks[2]] = np.nan
    issues = ds.indexes["time"][sorted(set(picks))]
    leads = [0, 1, 3, 12, 24, 48, 72]
    X, index, names = build_feature_matrix(ds, issues, leads, config=config)
    change = [j for j, name in enumerate(names) if name.endswith("_change")]
    assert [names[j] for j in change] == [
        "blh_change", "wind_speed_change", "ventilation_change", "inversion_change",
        "rh2m_change",
    ]  # fmt: skip
    assert np.isfinite(X[:, change]).any(axis=0).all()
    at_nan = (index["site"] == "S003").to_numpy() & (
        index["issue_time"] == ds.indexes["time"][picks[2]]
    ).to_numpy()
    assert at_nan.sum() == len(leads)
    assert np.isnan(X[at_nan, names.index("wind_speed_change")]).all()
    for t in issues:
        rows = (index["issue_time"] == t).to_numpy()
        Xs, idx_s, names_s = latest_features(ds, t, leads, config=config)
        assert names_s == names
        assert idx_s.reset_index(drop=True).equals(index[rows].reset_index(drop=True))
        assert_same_rows(Xs, X[rows], names)


def test_serving_reads_only_its_window() -> None:
    config = FeatureConfig()
    ds = weather_dataset(uneven_panel(5, 6000, 3))
    i = 5500
    t = ds.indexes["time"][i]
    need = required_history_steps(config, 1.0)
    assert need < i
    X, _, names = latest_features(ds, t, [0, 24], config=config)
    spoiled = ds.copy(deep=True)
    for name in ds.data_vars:
        spoiled[name][:, : i - need + 1] = 1.0e6
    X2, _, _ = latest_features(spoiled, t, [0, 24], config=config)
    assert np.array_equal(X, X2, equal_nan=True)
    # and the issue step itself is read: the changes since issue move with it
    spoiled["inversion"][:, i] = 1.0e6
    X3, _, _ = latest_features(spoiled, t, [0, 24], config=config)
    c = names.index("inversion_change")
    later = ds["inversion"].values[:, i + 24]
    expected = np.where(np.isnan(later), np.nan, later - 1.0e6).astype(np.float32)
    assert np.array_equal(X3[1::2, c], expected, equal_nan=True)
    assert np.isfinite(X3[1::2, c]).any()


def test_latest_kernel_equals_training_kernel_at_every_step() -> None:
    """Kernel level: every issue step, the serving kernel on the history up to it."""
    p = FeatureConfig().resolve(1.0)
    x = uneven_panel(17, 700, 4)
    n_sites, n_steps = x.shape
    t_abs0 = 12345  # any alignment: both kernels use it
    train = np.empty((n_sites * n_steps, p.n_history), np.float32)
    kernels.pm25_history(x, t_abs0, np.arange(n_steps), 1, train, 0, *p.history_args())
    train3 = train.reshape(n_sites, n_steps, -1)
    serve = np.empty((n_sites, p.n_history), np.float32)
    for t in range(n_steps):
        kernels.latest_pm25_history(
            np.ascontiguousarray(x[:, : t + 1]), t_abs0, t, serve, 0, *p.history_args()
        )
        assert np.array_equal(serve, train3[:, t], equal_nan=True), f"step {t}"


def test_serving_on_daily_data() -> None:
    config = FeatureConfig.daily()
    rng = np.random.default_rng(5)
    x = rng.gamma(2.0, 50.0, (4, 800))
    x[rng.random(x.shape) < 0.1] = np.nan
    ds = weather_dataset(x, start="2018-12-31 16:00", freq="D")
    t = ds.indexes["time"][750]
    X, index, names = build_feature_matrix(ds, [t], [0, 24, 72], config=config)
    Xs, _, _ = latest_features(ds, t, [0, 24, 72], config=config)
    assert_same_rows(Xs, X, names)
    assert "rh2m_change" in names and np.isfinite(X[:, names.index("rh2m_change")]).any()
    assert pd.Timestamp(index["valid_time"].iloc[-1]) == t + pd.Timedelta(hours=72)
