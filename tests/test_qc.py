"""Tests of observation quality control (forecast.obs.qc)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pydantic import ValidationError

from forecast.obs.flags import FLAG_MASKS, FLAG_MEANINGS, QC
from forecast.obs.qc import (
    QCParams,
    apply_qc,
    format_qc_report,
    spike_mask,
    stuck_mask,
)
from forecast.obs.variables import VARIABLES

NAN = math.nan
P = QCParams()


def make_ds(
    data: Mapping[str, Any],
    *,
    resolution: str = "1h",
    qc: dict[str, np.ndarray] | None = None,
    sites: list[str] | None = None,
) -> xr.Dataset:
    """A small (site, time) observation dataset with the reader's coordinates."""
    first = np.asarray(next(iter(data.values())), dtype=np.float64)
    nsite, ntime = first.shape
    sites = sites or [f"{1490 + i}A" for i in range(nsite)]
    freq = "h" if resolution == "1h" else "D"
    time = pd.date_range("2024-01-01", periods=ntime, freq=freq).values.astype("datetime64[ns]")
    ds = xr.Dataset(
        {k: (("site", "time"), np.asarray(v, dtype=np.float64)) for k, v in data.items()},
        coords={
            "site": sites,
            "time": time,
            "name": ("site", [f"监测站{i}" for i in range(nsite)]),
            "city": ("site", ["乌鲁木齐"] * nsite),
            "lon": ("site", np.linspace(87.5, 87.7, nsite)),
            "lat": ("site", np.linspace(43.7, 43.9, nsite)),
            "reference_site": ("site", [True] + [False] * (nsite - 1)),
        },
        attrs={"time_resolution": resolution},
    )
    for k, v in (qc or {}).items():
        ds[f"{k}_qc"] = (("site", "time"), np.asarray(v, dtype=np.uint16))
    return ds


def flags(out: xr.Dataset, var: str) -> np.ndarray:
    return out[f"{var}_qc"].values


def has(out: xr.Dataset, var: str, bit: QC) -> np.ndarray:
    return (flags(out, var) & int(bit)) != 0


# ------------------------------------------------------------------ rules one by one


def test_sentinels_invalidated_and_flagged_but_998_kept() -> None:
    row = [-99999, -9999, -999, -99, 9999, 99999, 998, 50]
    out, report = apply_qc(make_ds({"pm10": [row]}), P)
    sentinel = [True] * 6 + [False, False]
    assert has(out, "pm10", QC.SENTINEL)[0].tolist() == sentinel
    assert np.isnan(out["pm10"].values[0, :6]).all()
    assert out["pm10"].values[0, 6:].tolist() == [998, 50]
    # sentinels are invalidated, not "missing"; -99 is a sentinel before it is a negative
    assert not has(out, "pm10", QC.MISSING).any()
    assert not has(out, "pm10", QC.NEGATIVE).any()
    assert not has(out, "pm10", QC.IMPOSSIBLE).any()
    assert report.loc["1490A", "pm10_sentinel"] == 6


def test_custom_sentinels_and_param_validation() -> None:
    out, _ = apply_qc(make_ds({"pm25": [[998, 999, 40]]}), QCParams(sentinels=(998,)))
    assert has(out, "pm25", QC.SENTINEL)[0].tolist() == [True, False, False]
    with pytest.raises(ValidationError):
        QCParams(stuck_hour=8)  # type: ignore[call-arg]  # typo: extra="forbid"
    with pytest.raises(ValidationError):
        QCParams(sentinels=(math.nan,))
    with pytest.raises(ValidationError):
        QCParams(stuck_hours=1)
    with pytest.raises(ValidationError):
        P.stuck_hours = 3  # type: ignore[misc]  # frozen


def test_negatives_invalidated_zero_kept() -> None:
    out, report = apply_qc(make_ds({"so2": [[-1, -0.5, 0, 3]]}), P)
    assert has(out, "so2", QC.NEGATIVE)[0].tolist() == [True, True, False, False]
    np.testing.assert_array_equal(out["so2"].values[0], [NAN, NAN, 0, 3])
    assert report.loc["1490A", "so2_negative"] == 2


@pytest.mark.parametrize("var", sorted(VARIABLES))
def test_impossible_uses_the_limit_of_each_variable(var: str) -> None:
    limit = VARIABLES[var].max_valid
    row = [limit, limit + 1, limit + 0.5, 1.0]
    out, report = apply_qc(make_ds({var: [row]}), P)
    assert has(out, var, QC.IMPOSSIBLE)[0].tolist() == [False, True, True, False]
    assert out[var].values[0, 0] == limit
    assert np.isnan(out[var].values[0, 1:3]).all()
    assert report.loc["1490A", f"{var}_impossible"] == 2


def test_pm25_limit_differs_from_pm10_limit() -> None:
    out, _ = apply_qc(make_ds({"pm25": [[3000.0]], "pm10": [[3000.0]]}), P)
    assert has(out, "pm25", QC.IMPOSSIBLE)[0, 0]
    assert not has(out, "pm10", QC.IMPOSSIBLE)[0, 0]


def test_stuck_run_of_exactly_stuck_hours_flagged_one_shorter_not() -> None:
    n = P.stuck_hours
    flagged = [10, 11] + [42] * n + [12, 13]
    kept = [10, 11] + [42] * (n - 1) + [12, 13, 14]
    out, report = apply_qc(make_ds({"pm25": [flagged, kept]}), P)
    stuck = has(out, "pm25", QC.STUCK)
    assert stuck[0].tolist() == [False, False] + [True] * n + [False, False]
    assert not stuck[1].any()
    assert np.isnan(out["pm25"].values[0, 2 : 2 + n]).all()
    assert out["pm25"].values[1, 2] == 42
    assert report["pm25_stuck"].tolist() == [n, 0]
    assert not has(out, "pm25", QC.MISSING).any()


def test_low_identical_values_are_not_stuck() -> None:
    n = P.stuck_hours + 5
    at_limit = [P.stuck_min_value] * n
    just_above = [P.stuck_min_value + 1] * n
    out, _ = apply_qc(make_ds({"pm25": [at_limit, just_above]}), P)
    stuck = has(out, "pm25", QC.STUCK)
    assert not stuck[0].any()
    assert stuck[1].all()


def test_nan_breaks_a_stuck_run() -> None:
    n = P.stuck_hours
    half = n // 2 + 1  # two halves of a split run are each shorter than n, together longer
    row = [30] * half + [NAN] + [30] * half
    out, _ = apply_qc(make_ds({"pm25": [row]}), P)
    assert not has(out, "pm25", QC.STUCK).any()
    assert has(out, "pm25", QC.MISSING)[0].tolist() == [False] * half + [True] + [False] * half


def test_stuck_run_does_not_cross_sites() -> None:
    n = P.stuck_hours
    a = [1.0] * 3 + [70.0] * (n // 2)
    b = [70.0] * (n - n // 2) + [2.0] * (len(a) - (n - n // 2))
    out, _ = apply_qc(make_ds({"pm25": [a, b]}), P)
    assert not has(out, "pm25", QC.STUCK).any()


def test_values_invalidated_earlier_break_stuck_runs() -> None:
    n = P.stuck_hours
    row = [50] * (n - 1) + [-999] + [50] * (n - 1)
    out, _ = apply_qc(make_ds({"pm25": [row]}), P)
    assert not has(out, "pm25", QC.STUCK).any()
    assert has(out, "pm25", QC.SENTINEL).sum() == 1


def test_daily_data_skips_the_stuck_rule() -> None:
    row = [42.0] * (P.stuck_hours + 3)
    hourly, _ = apply_qc(make_ds({"pm25": [row]}, resolution="1h"), P)
    daily, report = apply_qc(make_ds({"pm25": [row]}, resolution="1D"), P)
    assert has(hourly, "pm25", QC.STUCK).all()
    assert not has(daily, "pm25", QC.STUCK).any()
    np.testing.assert_array_equal(daily["pm25"].values[0], row)
    assert report.loc["1490A", "pm25_stuck"] == 0


def test_bad_time_resolution_or_irregular_hourly_axis_rejected() -> None:
    ds = make_ds({"pm25": [[1.0, 2.0]]})
    ds.attrs["time_resolution"] = "3h"
    with pytest.raises(ValueError, match="time_resolution"):
        apply_qc(ds, P)
    gappy = make_ds({"pm25": [[1.0, 2.0, 3.0]]}).isel(time=[0, 2])
    with pytest.raises(ValueError, match="regular hourly"):
        apply_qc(gappy, P)


def test_spike_needs_both_conditions_and_both_neighbours() -> None:
    rows = [
        [20, 300, 40, 0],  # 300-40=260 > 150 and 300 > 3*40: spike
        [20, 190, 40, 0],  # 190-40=150, not > 150: no spike
        [100, 299, 90, 0],  # 299-100=199 > 150 but 299 < 3*100: no spike
        [NAN, 300, 40, 0],  # left neighbour missing: no spike
        [20, 300, NAN, 0],  # right neighbour missing: no spike
        [300, 20, 20, 300],  # first and last steps have one neighbour: never spikes
    ]
    out, report = apply_qc(make_ds({"pm25": rows}), P)
    spike = has(out, "pm25", QC.SPIKE)
    assert spike[0].tolist() == [False, True, False, False]
    assert not spike[1:].any()
    assert out["pm25"].values[0, 1] == 300  # flag only
    assert report["pm25_spike"].tolist() == [1, 0, 0, 0, 0, 0]


def test_spike_applies_to_pm10_but_not_to_gases() -> None:
    row = [[20, 300, 40]]
    out, _ = apply_qc(make_ds({"pm10": row, "no2": row}), P)
    assert has(out, "pm10", QC.SPIKE)[0, 1]
    assert not has(out, "no2", QC.SPIKE).any()


def test_spike_kernel_on_1d_and_short_arrays() -> None:
    assert spike_mask(np.array([20.0, 300.0, 40.0]), 150.0, 3.0).tolist() == [False, True, False]
    assert spike_mask(np.array([[20.0, 300.0]]), 150.0, 3.0).shape == (1, 2)
    assert not stuck_mask(np.zeros((2, 0)), 8, 5.0).any()


def test_pm25_gt_pm10_with_tolerance_edges() -> None:
    tol = P.pm25_pm10_tolerance
    pm10 = [[50, 50, 50, NAN, 50, -999]]
    pm25 = [[50 + tol, 50 + tol + 0.5, 80, 80, NAN, 80]]
    out, report = apply_qc(make_ds({"pm25": pm25, "pm10": pm10}), P)
    expected = [False, True, True, False, False, False]
    assert has(out, "pm25", QC.PM25_GT_PM10)[0].tolist() == expected
    assert has(out, "pm10", QC.PM25_GT_PM10)[0].tolist() == expected
    np.testing.assert_array_equal(out["pm25"].values[0, :4], pm25[0][:4])  # flag only
    assert report.loc["1490A", "pm25_pm25_gt_pm10"] == 2
    assert report.loc["1490A", "pm10_pm25_gt_pm10"] == 2


def test_existing_duplicate_bits_are_kept_and_ored() -> None:
    dup = np.array([[int(QC.DUPLICATE), 0, int(QC.DUPLICATE), 0]], dtype=np.uint16)
    ds = make_ds({"pm25": [[-999, 20, NAN, 30]]}, qc={"pm25": dup})
    out, report = apply_qc(ds, P)
    got = flags(out, "pm25")[0].tolist()
    assert got == [QC.DUPLICATE | QC.SENTINEL, 0, QC.DUPLICATE | QC.MISSING, 0]
    assert out["pm25_qc"].dtype == np.uint16
    assert report.loc["1490A", "pm25_duplicate"] == 2
    assert ds["pm25_qc"].values.tolist() == dup.tolist()  # input companion untouched


def test_qc_variables_created_with_cf_attributes() -> None:
    out, report = apply_qc(make_ds({"pm25": [[1.0]], "co": [[0.5]]}), P)
    for var in ("pm25", "co"):
        qc = out[f"{var}_qc"]
        assert qc.dtype == np.uint16
        assert qc.dims == ("site", "time")
        assert qc.attrs["flag_meanings"] == FLAG_MEANINGS
        assert list(qc.attrs["flag_masks"]) == FLAG_MASKS
        assert var in qc.attrs["long_name"] or VARIABLES[var].long_name in qc.attrs["long_name"]
    assert "pm10_qc" not in out
    assert "pm10_missing" not in report.columns
    assert {"co_missing", "co_stuck", "co_pm25_gt_pm10"} <= set(report.columns)


def test_missing_only_for_values_nan_before_qc() -> None:
    row = [NAN, -5, 20000, NAN, 10]
    out, report = apply_qc(make_ds({"pm25": [row]}), P)
    assert has(out, "pm25", QC.MISSING)[0].tolist() == [True, False, False, True, False]
    assert np.isnan(out["pm25"].values[0, :4]).all()
    assert report.loc["1490A", "pm25_missing"] == 2
    assert report.loc["1490A", "pm25_negative"] == 1
    assert report.loc["1490A", "pm25_impossible"] == 1


def test_input_dataset_not_modified_and_time_site_order_accepted() -> None:
    ds = make_ds({"pm25": [[-999, 50, 20]], "pm10": [[10, 60, 10000.5]]})
    before = ds.copy(deep=True)
    out, _ = apply_qc(ds, P)
    xr.testing.assert_identical(ds, before)
    assert "pm25_qc" not in ds
    assert np.isnan(out["pm25"].values[0, 0])

    transposed = ds.transpose("time", "site")
    out_t, report_t = apply_qc(transposed, P)
    assert out_t["pm25"].dims == ("time", "site")
    assert out_t["pm25_qc"].dims == ("time", "site")
    xr.testing.assert_identical(out_t.transpose("site", "time"), out)
    assert report_t.loc["1490A", "pm10_impossible"] == 1


# ------------------------------------------------------------------ reference comparison


def reference_flags(
    data: dict[str, np.ndarray], params: QCParams, hourly: bool
) -> dict[str, np.ndarray]:
    """Obvious slow implementation: Python loops over sites and time steps."""
    out: dict[str, np.ndarray] = {}
    vals: dict[str, np.ndarray] = {}
    for var, arr in data.items():
        v = arr.copy()
        f = np.zeros(v.shape, dtype=np.int64)
        nsite, ntime = v.shape
        for s in range(nsite):
            for t in range(ntime):
                x = v[s, t]
                if math.isnan(x):
                    f[s, t] |= QC.MISSING
                elif x in params.sentinels:
                    f[s, t] |= QC.SENTINEL
                    v[s, t] = NAN
                elif x < 0:
                    f[s, t] |= QC.NEGATIVE
                    v[s, t] = NAN
                elif x > VARIABLES[var].max_valid:
                    f[s, t] |= QC.IMPOSSIBLE
                    v[s, t] = NAN
            if hourly:
                t = 0
                while t < ntime:
                    end = t + 1
                    while end < ntime and not math.isnan(v[s, t]) and v[s, end] == v[s, t]:
                        end += 1
                    x = v[s, t]
                    if end - t >= params.stuck_hours and x > params.stuck_min_value:
                        for k in range(t, end):
                            f[s, k] |= QC.STUCK
                            v[s, k] = NAN
                    t = end
            if var in ("pm25", "pm10"):
                for t in range(1, ntime - 1):
                    a, x, b = v[s, t - 1], v[s, t], v[s, t + 1]
                    if math.isnan(a) or math.isnan(b) or math.isnan(x):
                        continue
                    m = max(a, b)
                    if x - m > params.spike_abs and x > params.spike_ratio * m:
                        f[s, t] |= QC.SPIKE
        out[var], vals[var] = f, v
    if "pm25" in data and "pm10" in data:
        nsite, ntime = data["pm25"].shape
        for s in range(nsite):
            for t in range(ntime):
                a, b = vals["pm25"][s, t], vals["pm10"][s, t]
                if not (math.isnan(a) or math.isnan(b)) and a > b + params.pm25_pm10_tolerance:
                    out["pm25"][s, t] |= QC.PM25_GT_PM10
                    out["pm10"][s, t] |= QC.PM25_GT_PM10
    return out


def random_panel(rng: np.random.Generator, nsite: int, ntime: int) -> dict[str, np.ndarray]:
    """Integer-resolution concentrations with every kind of defect sprinkled in."""
    data: dict[str, np.ndarray] = {}
    for var, scale in (("pm25", 60.0), ("pm10", 90.0), ("so2", 10.0), ("co", 1.0)):
        v = np.round(rng.lognormal(np.log(scale), 0.8, (nsite, ntime)))
        if var == "co":
            v = np.round(v / 10.0, 1)
        for s in range(nsite):
            for _ in range(rng.integers(0, 6)):  # stuck-like runs, some low, some short
                start, length = rng.integers(0, ntime), rng.integers(2, 12)
                v[s, start : start + length] = rng.choice([2.0, 5.0, 6.0, 80.0, 150.0])
            for _ in range(rng.integers(0, 4)):  # NaN gaps of uneven length
                start = rng.integers(0, ntime)
                v[s, start : start + rng.integers(1, 30)] = NAN
        n = nsite * ntime
        for values in (
            rng.choice([-999.0, 9999.0, -99.0, -9999.0, 998.0], n),
            -rng.integers(1, 20, n).astype(float),
            VARIABLES[var].max_valid + rng.integers(1, 500, n),
            rng.choice([500.0, 900.0, 1500.0], n),  # spike candidates
        ):
            pick = rng.random(n) < 0.02
            v.ravel()[pick] = values[pick]
        data[var] = v
    return data


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("resolution", ["1h", "1D"])
def test_matches_slow_reference_on_random_panel(seed: int, resolution: str) -> None:
    rng = np.random.default_rng(seed)
    nsite, ntime = int(rng.integers(1, 7)), int(rng.integers(40, 400))
    data = random_panel(rng, nsite, ntime)
    dup = (rng.random((nsite, ntime)) < 0.05).astype(np.uint16) * int(QC.DUPLICATE)
    ds = make_ds(data, resolution=resolution, qc={"pm25": dup})
    params = QCParams(stuck_hours=int(rng.integers(3, 9)))
    out, report = apply_qc(ds, params)

    expected = reference_flags(data, params, hourly=resolution == "1h")
    expected["pm25"] |= dup
    rules = ["missing", "sentinel", "negative", "impossible", "stuck", "spike", "duplicate"]
    bits = [QC.MISSING, QC.SENTINEL, QC.NEGATIVE, QC.IMPOSSIBLE, QC.STUCK, QC.SPIKE, QC.DUPLICATE]
    rules.append("pm25_gt_pm10")
    bits.append(QC.PM25_GT_PM10)
    for var, f in expected.items():
        np.testing.assert_array_equal(flags(out, var), f, err_msg=var)
        invalid = (f & (QC.SENTINEL | QC.NEGATIVE | QC.IMPOSSIBLE | QC.STUCK)) != 0
        np.testing.assert_array_equal(np.isnan(out[var].values), invalid | np.isnan(data[var]))
        for rule, bit in zip(rules, bits, strict=True):
            counts = ((f & bit) != 0).sum(axis=1)
            assert report[f"{var}_{rule}"].tolist() == counts.tolist(), (var, rule)
    assert (report["hours"] == ntime).all()
    assert report.index.tolist() == list(ds["site"].values)
    # the panel really exercised the rules
    total = report.sum()
    for col in ("pm25_missing", "pm25_sentinel", "pm25_negative", "pm25_impossible"):
        assert total[col] > 0, col
    if resolution == "1h" and nsite > 2:
        assert total.filter(like="_stuck").sum() > 0


# ------------------------------------------------------------------ report text


def test_format_qc_report_lists_each_station_missing_and_flagged() -> None:
    n = P.stuck_hours
    pm25 = [
        [NAN, NAN, NAN, 20, 300, 40, *[42] * n],
        [-999, 10, 12, 14, NAN, 16, *range(20, 20 + n)],
        [30.0 + t for t in range(6 + n)],  # always above PM10, never stuck
    ]
    pm10 = [[50.0] * (6 + n), [50.0] * (6 + n), [5.0] * (6 + n)]
    ds = make_ds({"pm25": pm25, "pm10": pm10}, sites=["1490A", "1491A", "3210A"])
    _, report = apply_qc(ds, P)
    text = format_qc_report(report, ds)
    lines = text.splitlines()
    rows = {
        code: next(line for line in lines if line.startswith(code)) for code in ds["site"].values
    }
    assert (
        f"3 ({300 / (6 + n):.1f}%)" in rows["1490A"]
        and f"stuck {n}" in rows["1490A"]
        and "spike 1" in rows["1490A"]
    )
    assert f" 1 ({100 / (6 + n):.1f}%)" in rows["1491A"] and "sentinel 1" in rows["1491A"]
    assert f"pm25>pm10 {6 + n}" in rows["3210A"]
    assert "监测站0" in rows["1490A"] and "乌鲁木齐" in rows["3210A"]
    for code in ds["site"].values:
        steps = str(6 + n)
        assert steps in rows[code].split()
    # header names each listed variable's columns; pm10 missing of station 1490A is 0
    assert "pm25 missing" in text and "pm10 flagged" in text and "so2" not in text
    # without ds: codes only, still one row per station
    plain = format_qc_report(report, variables=("pm25",))
    assert all(any(line.startswith(c) for line in plain.splitlines()) for c in ds["site"].values)
    assert "pm10" not in plain.splitlines()[1]


def test_format_qc_report_columns_align() -> None:
    ds = make_ds({"pm25": [[NAN, 20.0, 30.0], [-999, 20.0, 30.0]]})
    _, report = apply_qc(ds, P)
    lines = format_qc_report(report, ds).splitlines()
    header, rule = lines[1], lines[2]
    assert set(rule.replace(" ", "")) == {"-"}
    # the "pm25 missing" column is right-aligned: all cells end at the same display column
    end = header.index("pm25 missing") + len("pm25 missing")
    for line in lines[3:5]:
        ascii_line = "".join("xx" if ord(c) > 0x2E7F else c for c in line)  # CJK = 2 columns
        assert ascii_line[:end].rstrip()[-1] == ")"
        assert ascii_line[end] == " "
