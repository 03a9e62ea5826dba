"""Property tests (hypothesis) of the PM2.5 history and met kernels on arbitrary short panels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from features import kernels
from features.config import KIND_AMOUNT, KIND_STATE, FeatureConfig, KernelParams

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


MET = FeatureConfig(met_windows_h=(2, 5), precip_windows_h=(3,), stagnation_cap_h=6).resolve(1.0)
NM = len(MET.met_mean_steps)


def met_rows(
    met: npt.NDArray[np.float64],
    kinds: npt.NDArray[np.int64],
    t_abs0: int,
    issue: int,
    leads: npt.NDArray[np.int64],
    change: bool,
) -> npt.NDArray[np.float32]:
    """The met kernel's rows ``(site * lead, column)`` for one issue step."""
    n_cols = sum(
        1 + (NM + change if k == KIND_STATE else len(MET.met_total_steps) + 1) for k in kinds
    )
    out = np.full((met.shape[1] * len(leads), n_cols), -7.0, np.float32)
    kernels.met_features(
        np.ascontiguousarray(met), kinds, t_abs0, np.asarray([issue], dtype=np.int64), leads,
        out, 0, MET.met_mean_steps, MET.met_mean_min, change, MET.met_total_steps,
        MET.met_total_min, MET.stagnation_cap, MET.min_valid_fraction, MET.step_hours,
    )  # fmt: skip
    return out


@settings(max_examples=40, deadline=None)
@given(panels, st.data())
def test_met_change_is_the_difference_and_needs_no_older_data(
    x: npt.NDArray[np.float64], data: st.DataObject
) -> None:
    n_sites, n_steps = x.shape
    i = data.draw(st.integers(0, n_steps - 1))
    leads = np.asarray(
        sorted(data.draw(st.sets(st.integers(0, 40), min_size=1, max_size=5))), dtype=np.int64
    )
    # a state (the change written after its means) followed by an amount (its columns shift)
    met = np.stack([x, np.abs(x[::-1])])
    kinds = np.asarray([KIND_STATE, KIND_AMOUNT], dtype=np.int64)
    out = met_rows(met, kinds, 77, i, leads, True)
    assert not (out == -7.0).any(), "a column was left unwritten"
    vt = i + leads
    ahead = np.where(vt < n_steps, x[:, np.minimum(vt, n_steps - 1)], np.nan)
    expected = (ahead - x[:, [i]]).astype(np.float32)
    assert np.array_equal(out[:, 1 + NM].reshape(n_sites, len(leads)), expected, equal_nan=True)
    # switched off: the same columns without the change
    off = met_rows(met, kinds, 77, i, leads, False)
    assert np.array_equal(off, np.delete(out, 1 + NM, axis=1), equal_nan=True)
    # serving: the same rows from data starting anywhere up to met_history_steps before issue
    m0 = data.draw(st.integers(0, max(0, i - MET.met_history_steps() + 1)))
    short = met_rows(met[:, :, m0:], kinds, 77 + m0, i - m0, leads, True)
    assert np.array_equal(short, out, equal_nan=True)
