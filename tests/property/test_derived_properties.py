"""Properties of the derived predictors that must hold for any input (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from forecast.met.derived import (
    consecutive_true_hours,
    dew_point,
    relative_humidity,
    wind_components,
    wind_direction,
    wind_speed,
)

temperatures = st.floats(min_value=220.0, max_value=320.0)
components = st.floats(min_value=-80.0, max_value=80.0, allow_subnormal=False)


@settings(deadline=None, max_examples=300)
@given(t=temperatures, depression=st.floats(min_value=0.0, max_value=60.0))
def test_rh_is_a_percentage_when_dew_point_not_above_temperature(
    t: float, depression: float
) -> None:
    rh = relative_humidity(np.array([t]), np.array([t - depression]))[0]
    assert 0.0 <= rh <= 100.0
    # ... and the dew point comes back.
    assert math.isclose(dew_point(np.array([t]), np.array([rh]))[0], t - depression, abs_tol=1e-6)


@settings(deadline=None, max_examples=300)
@given(u=components, v=components)
def test_direction_in_range_and_components_round_trip(u: float, v: float) -> None:
    speed = wind_speed(np.array([u]), np.array([v]))[0]
    direction = wind_direction(np.array([u]), np.array([v]))[0]
    if speed == 0:
        assert math.isnan(direction)
        return
    assert 0.0 <= direction < 360.0
    back_u, back_v = wind_components(np.array([speed]), np.array([direction]))
    assert math.isclose(back_u[0], u, abs_tol=1e-9 * max(1.0, speed))
    assert math.isclose(back_v[0], v, abs_tol=1e-9 * max(1.0, speed))


@settings(deadline=None, max_examples=300)
@given(
    flags=st.lists(st.sampled_from([0.0, 1.0, math.nan]), min_size=1, max_size=60),
    policy=st.sampled_from(["propagate", "reset"]),
)
def test_run_lengths_are_bounded_and_consistent(flags: list[float], policy: str) -> None:
    arr = np.array(flags)
    runs = consecutive_true_hours(arr, missing=policy)  # type: ignore[arg-type]
    assert runs.shape == arr.shape
    # NaN exactly at missing times (and, when propagating, possibly after them).
    assert np.isnan(runs[np.isnan(arr)]).all()
    assert (runs[arr == 0] == 0).all()
    known = ~np.isnan(runs)
    index = np.arange(len(arr))
    assert (runs[known] <= index[known] + 1).all()
    # A run grows by exactly one step from one known true value to the next.
    for i in range(1, len(arr)):
        if arr[i] == 1 and known[i] and known[i - 1]:
            assert runs[i] == runs[i - 1] + 1
    if policy == "reset":
        assert known[~np.isnan(arr)].all()  # reset never loses a known hour
