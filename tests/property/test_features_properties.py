"""Property tests (hypothesis) of the PM2.5 history kernel on arbitrary short panels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features import kernels
from features.config import FeatureConfig, KernelParams

CONFIG = FeatureConfig(
    lags_h=(1, 2, 3, 6),
    windows_h=(2, 3, 6, 12),
    ewm_halflives_h=(3,),
    diurnal_days=2,
    lookback_h=48,
)
P: KernelParams = CONFIG.resolve(1.0)
NL = len(P.lag_steps)
NW = len(P.win_steps)

# concentrations at a measurement resolution of 0.001 µg/m³ (a spread far below float32's
# smallest number, ~1e-19 µg/m³ in a standard deviation, would underflow to exactly 0)
values = st.one_of(
    st.just(np.nan),
    st.floats(0.0, 2000.0, allow_nan=False, width=64).map(lambda v: round(v, 3)),
    st.integers(0, 500).map(float),
    st.just(75.0),
)
panels = st.integers(1, 20).flatmap(
    lambda n_sites: st.integers(1, 120).flatmap(
        lambda n_steps: arrays(np.float64, (n_sites, n_steps), elements=values)
    )
)


def history(x: npt.NDArray[np.float64], t_abs0: int = 0) -> npt.NDArray[np.float32]:
    x = np.ascontiguousarray(x)
    n_sites, n_steps = x.shape
    out = np.empty((n_sites * n_steps, P.n_history), np.float32)
    kernels.pm25_history(x, t_abs0, np.arange(n_steps), 1, out, 0, *P.history_args())
    return out.reshape(n_sites, n_steps, P.n_history)


@settings(max_examples=60, deadline=None)
@given(panels)
def test_window_statistics_are_ordered(x: npt.NDArray[np.float64]) -> None:
    H = history(x)
    for j, w in enumerate(P.win_steps):
        mean, std, lo, hi = (H[..., NL + 4 * j + k] for k in range(4))
        defined = ~np.isnan(mean)
        assert np.array_equal(defined, ~np.isnan(lo)) and np.array_equal(defined, ~np.isnan(hi))
        assert (lo[defined] <= mean[defined]).all() and (mean[defined] <= hi[defined]).all()
        assert (std[~np.isnan(std)] >= 0).all()
        # exactly zero spread ⇔ all valid values equal
        both = ~np.isnan(std)
        assert np.array_equal(std[both] == 0, lo[both] == hi[both])
        # defined ⇔ enough valid values in the window
        padded = np.concatenate([np.full((x.shape[0], w - 1), np.nan), x], axis=1)
        count = np.lib.stride_tricks.sliding_window_view(~np.isnan(padded), w, axis=1).sum(-1)
        assert np.array_equal(defined, count >= P.win_min[j])


@settings(max_examples=60, deadline=None)
@given(panels, st.integers(1, 50))
def test_history_before_the_data_changes_nothing(x: npt.NDArray[np.float64], k: int) -> None:
    """Prepending k missing steps (same absolute times) leaves every feature bit-identical."""
    H = history(x, t_abs0=1000)
    padded = np.concatenate([np.full((x.shape[0], k), np.nan), x], axis=1)
    H2 = history(padded, t_abs0=1000 - k)
    assert np.array_equal(H, H2[:, k:], equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(panels)
def test_lags_shift(x: npt.NDArray[np.float64]) -> None:
    H = history(x)
    lags = [int(k) for k in P.lag_steps]
    n = x.shape[1]
    for a, ka in enumerate(lags):
        if ka < n:
            expected = x[:, : n - ka].astype(np.float32)
            assert np.array_equal(H[:, ka:, a], expected, equal_nan=True)
        assert np.isnan(H[:, :ka, a]).all()
        for b, kb in enumerate(lags):
            if kb < ka < n:  # lag ka at t is lag kb at t - (ka - kb)
                d = ka - kb
                assert np.array_equal(H[:, d:, a], H[:, :-d, b], equal_nan=True)


@settings(max_examples=40, deadline=None)
@given(panels, st.data())
def test_serving_kernel_equals_training(x: npt.NDArray[np.float64], data: st.DataObject) -> None:
    t = data.draw(st.integers(0, x.shape[1] - 1))
    H = history(x, t_abs0=77)
    out = np.empty((x.shape[0], P.n_history), np.float32)
    kernels.latest_pm25_history(
        np.ascontiguousarray(x[:, : t + 1]), 77, t, out, 0, *P.history_args()
    )
    assert np.array_equal(out, H[:, t], equal_nan=True)
