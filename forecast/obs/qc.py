"""Quality control of station observations: sentinel, range, stuck-sensor, spike and PM checks.

The kernels are pure functions on numpy arrays shaped ``(..., ntime)`` (normally
``(nsite, ntime)``; time is always the last axis) that return a boolean mask of the values a
rule hits. :func:`apply_qc` runs them over an observation dataset with dims ``(site, time)`` in
a fixed order and records the result in CF flag variables ``<var>_qc`` (bits of
:class:`forecast.obs.flags.QC`); :func:`format_qc_report` renders the per-station counts.

Rules, in the order they run (each later rule sees the values left by earlier invalidations):

1. **sentinel** (invalidates): the value equals one of :attr:`QCParams.sentinels` exactly.
2. **negative** (invalidates): the value is below 0.
3. **impossible** (invalidates): the value exceeds the physical limit ``max_valid`` of the
   variable in :data:`forecast.obs.variables.VARIABLES`.
4. **stuck** (invalidates, hourly data only): the value belongs to a run of at least
   :attr:`QCParams.stuck_hours` consecutive time steps with the identical value, and that value
   is above :attr:`QCParams.stuck_min_value`. A missing value ends a run.
5. **spike** (flag only, PM2.5 and PM10): the value exceeds the larger of its two valid
   neighbours by more than :attr:`QCParams.spike_abs` *and* by more than a factor
   :attr:`QCParams.spike_ratio`.
6. **pm25_gt_pm10** (flag only, on both variables): PM2.5 > PM10 + tolerance.

``MISSING`` marks values that were NaN *before* quality control; values invalidated by a rule
carry that rule's bit instead, so the report can tell missing hours from invalidated ones.
Bits already present in an existing ``<var>_qc`` (e.g. ``DUPLICATE`` set by the reader) are kept.

Units: concentrations in µg/m³ (CO in mg/m³, AQI dimensionless), as in ``VARIABLES``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, field_validator

from forecast.obs.flags import FLAG_MASKS, FLAG_MEANINGS, QC
from forecast.obs.variables import VARIABLES

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Variables the spike rule applies to.
SPIKE_VARIABLES: tuple[str, ...] = ("pm25", "pm10")

#: Report column suffix of each flag bit, in report order (``<var>_<suffix>``).
RULE_COLUMNS: dict[QC, str] = {
    QC.MISSING: "missing",
    QC.SENTINEL: "sentinel",
    QC.NEGATIVE: "negative",
    QC.IMPOSSIBLE: "impossible",
    QC.STUCK: "stuck",
    QC.SPIKE: "spike",
    QC.DUPLICATE: "duplicate",
    QC.PM25_GT_PM10: "pm25_gt_pm10",
}

#: Rules that set the value to NaN, and rules that only flag it (see ``flags.py``).
INVALIDATING: tuple[QC, ...] = (QC.SENTINEL, QC.NEGATIVE, QC.IMPOSSIBLE, QC.STUCK)
FLAG_ONLY: tuple[QC, ...] = (QC.SPIKE, QC.DUPLICATE, QC.PM25_GT_PM10)

_RULE_LABELS: dict[QC, str] = {**RULE_COLUMNS, QC.PM25_GT_PM10: "pm25>pm10"}


class QCParams(BaseModel):
    """Thresholds of the observation quality control (config section ``observations.qc``).

    Concentrations are in µg/m³ (the spike and PM thresholds only apply to PM2.5/PM10).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sentinels: tuple[float, ...] = Field(
        default=(-99999, -9999, -999, -99, 9999, 99999),
        description=(
            "Exact values that mean 'missing' in published data [same units as the variable]. "
            "A value equal to one of them is invalidated (set to NaN) with bit SENTINEL."
        ),
    )
    stuck_hours: int = Field(
        default=8,
        ge=2,
        description=(
            "Minimum length [hours] of a run of consecutive hourly time steps holding the "
            "identical valid value for the run to be a stuck sensor (invalidated, bit STUCK). "
            "A missing hour ends a run. Hourly data only."
        ),
    )
    stuck_min_value: float = Field(
        default=5.0,
        description=(
            "Runs whose value is at or below this [µg/m³] are never stuck: clean air reported "
            "at integer resolution legitimately repeats small values for hours."
        ),
    )
    spike_abs: float = Field(
        default=150.0,
        ge=0.0,
        description=(
            "Spike rule, absolute part [µg/m³]: x_t - max(x_{t-1}, x_{t+1}) must exceed this. "
            "PM2.5 and PM10 only; flag only (bit SPIKE)."
        ),
    )
    spike_ratio: float = Field(
        default=3.0,
        ge=1.0,
        description=(
            "Spike rule, relative part [1]: x_t must exceed spike_ratio * max(x_{t-1}, x_{t+1}). "
            "Both neighbours must be valid."
        ),
    )
    pm25_pm10_tolerance: float = Field(
        default=10.0,
        ge=0.0,
        description=(
            "PM2.5 may exceed PM10 by at most this [µg/m³] (the two monitors measure "
            "independently); beyond it both values get bit PM25_GT_PM10 (flag only)."
        ),
    )

    @field_validator("sentinels")
    @classmethod
    def _finite_sentinels(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(math.isfinite(v) for v in value):
            raise ValueError("sentinels must be finite numbers (NaN is already 'missing')")
        return value


# --------------------------------------------------------------------------------------------
# Kernels: (..., ntime) float64 arrays in, boolean masks of the same shape out.


def sentinel_mask(values: FloatArray, sentinels: Sequence[float]) -> BoolArray:
    """Values exactly equal to one of ``sentinels`` (published "missing" codes).

    Parameters
    ----------
    values : array (..., ntime) of float, concentrations [µg/m³]; NaN = missing.
    sentinels : exact sentinel values [µg/m³].
    """
    values = np.asarray(values, dtype=np.float64)
    return np.isin(values, np.asarray(sentinels, dtype=np.float64))


def negative_mask(values: FloatArray) -> BoolArray:
    """Values below zero [µg/m³] (a concentration cannot be negative; NaN is never hit)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.less(values, 0.0)


def impossible_mask(values: FloatArray, max_valid: float) -> BoolArray:
    """Values strictly above the physical limit ``max_valid`` [same units as ``values``]."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.greater(values, max_valid)


def stuck_mask(values: FloatArray, min_run: int, min_value: float) -> BoolArray:
    """Members of runs of at least ``min_run`` consecutive time steps with an identical value.

    A run is a maximal stretch of consecutive time steps (along the last axis) holding exactly
    the same non-NaN value; NaN never equals anything, so a missing step ends a run. Runs whose
    value is ``<= min_value`` [µg/m³] are not hit. Every member of a qualifying run is hit,
    including its first step. Vectorised run-length encoding over all rows at once.

    Parameters
    ----------
    values : array (..., ntime) of float, concentrations [µg/m³]; NaN = missing.
    min_run : minimum run length [time steps].
    min_value : runs at or below this value [µg/m³] are ignored.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    rows = values.reshape(-1, values.shape[-1])
    same = np.zeros(rows.shape, dtype=bool)
    same[:, 1:] = rows[:, 1:] == rows[:, :-1]  # NaN != NaN: missing steps break runs
    run_id = np.cumsum(~same.ravel()) - 1  # each row starts a new run at its first column
    run_length = np.bincount(run_id)[run_id].reshape(rows.shape)
    with np.errstate(invalid="ignore"):
        hit = (run_length >= min_run) & (rows > min_value)
    return hit.reshape(values.shape)


def spike_mask(values: FloatArray, spike_abs: float, spike_ratio: float) -> BoolArray:
    """Isolated jumps far above both neighbours.

    ``x_t`` is a spike when, with ``m = max(x_{t-1}, x_{t+1})`` and both neighbours valid,
    ``x_t - m > spike_abs`` [µg/m³] and ``x_t > spike_ratio * m``. The first and last time steps
    have only one neighbour and are never spikes.

    Parameters
    ----------
    values : array (..., ntime) of float, concentrations [µg/m³]; NaN = missing.
    spike_abs : absolute excess over the larger neighbour [µg/m³].
    spike_ratio : ratio to the larger neighbour [1].
    """
    values = np.asarray(values, dtype=np.float64)
    hit = np.zeros(values.shape, dtype=bool)
    if values.shape[-1] < 3:
        return hit
    centre = values[..., 1:-1]
    with np.errstate(invalid="ignore"):
        neighbour = np.maximum(values[..., :-2], values[..., 2:])  # NaN if either is missing
        hit[..., 1:-1] = (centre - neighbour > spike_abs) & (centre > spike_ratio * neighbour)
    return hit


def pm25_gt_pm10_mask(pm25: FloatArray, pm10: FloatArray, tolerance: float) -> BoolArray:
    """Time steps where ``pm25 > pm10 + tolerance`` [µg/m³], both values valid."""
    pm25 = np.asarray(pm25, dtype=np.float64)
    pm10 = np.asarray(pm10, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.greater(pm25, pm10 + tolerance)


# --------------------------------------------------------------------------------------------
# Dataset level


def _is_hourly(ds: xr.Dataset) -> bool:
    resolution = ds.attrs.get("time_resolution")
    if resolution not in ("1h", "1D"):
        raise ValueError(
            f"dataset attribute time_resolution must be '1h' or '1D', got {resolution!r}"
        )
    if resolution == "1h" and ds.sizes.get("time", 0) > 1:
        steps = np.diff(ds["time"].values)
        if not np.all(steps == np.timedelta64(1, "h")):
            # The stuck and spike rules compare adjacent time steps; on an irregular axis
            # "adjacent" would not mean "the next hour".
            raise ValueError(
                "hourly dataset must have a regular hourly time axis (reindex missing hours "
                "to NaN before quality control)"
            )
    return bool(resolution == "1h")


def _site_time(da: xr.DataArray) -> xr.DataArray:
    if set(da.dims) != {"site", "time"}:
        raise ValueError(f"variable {da.name!r} must have dims (site, time), got {da.dims}")
    return da.transpose("site", "time")


def _qc_attrs(name: str, existing: dict[str, object] | None) -> dict[str, object]:
    attrs = dict(existing or {})
    attrs.update(
        long_name=f"quality flags of {VARIABLES[name].long_name}",
        flag_masks=np.asarray(FLAG_MASKS, dtype=np.uint16),
        flag_meanings=FLAG_MEANINGS,
    )
    return attrs


def apply_qc(ds: xr.Dataset, params: QCParams) -> tuple[xr.Dataset, pd.DataFrame]:
    """Run quality control on every observation variable of ``ds``.

    Parameters
    ----------
    ds : dataset with dims ``(site, time)``, float variables named as in ``VARIABLES``
        (concentrations [µg/m³], CO [mg/m³]; NaN = missing), optional uint16 companions
        ``<var>_qc`` and attribute ``time_resolution`` ("1h" or "1D"). Not modified.
    params : thresholds, see :class:`QCParams`.

    Returns
    -------
    qc_ds : copy of ``ds`` where invalidated values are NaN and each observation variable has a
        companion ``<var>_qc`` (uint16, CF ``flag_masks``/``flag_meanings``) holding the
        existing bits OR the bits set here.
    report : one row per site (index ``site``): ``hours`` (time steps in the dataset; days for
        daily data) and, for every observation variable, ``<var>_<rule>`` = number of time steps
        whose flags carry that bit, for rule in missing, sentinel, negative, impossible, stuck,
        spike, duplicate, pm25_gt_pm10.
    """
    hourly = _is_hourly(ds)
    names = [name for name in VARIABLES if name in ds.data_vars]
    values: dict[str, FloatArray] = {}
    flags: dict[str, npt.NDArray[np.uint16]] = {}

    def mark(name: str, hit: BoolArray, bit: QC) -> None:
        flags[name][hit] |= np.uint16(bit)
        if bit in INVALIDATING:
            values[name][hit] = np.nan

    for name in names:
        arr = np.array(_site_time(ds[name]).values, dtype=np.float64, copy=True)
        qc_name = f"{name}_qc"
        if qc_name in ds.variables:
            existing = _site_time(ds[qc_name]).fillna(0).values
            flag = np.array(existing, dtype=np.uint16, copy=True)
        else:
            flag = np.zeros(arr.shape, dtype=np.uint16)
        values[name], flags[name] = arr, flag

        mark(name, np.isnan(arr), QC.MISSING)
        mark(name, sentinel_mask(arr, params.sentinels), QC.SENTINEL)
        mark(name, negative_mask(arr), QC.NEGATIVE)
        mark(name, impossible_mask(arr, VARIABLES[name].max_valid), QC.IMPOSSIBLE)
        # Stuck sensors only on hourly data: a daily mean averages 24 readings, so identical
        # daily values on consecutive days are not a sign of a frozen instrument, and a run of
        # 8 days would need a separate threshold anyway.
        if hourly:
            mark(name, stuck_mask(arr, params.stuck_hours, params.stuck_min_value), QC.STUCK)
        if name in SPIKE_VARIABLES:
            mark(name, spike_mask(arr, params.spike_abs, params.spike_ratio), QC.SPIKE)

    if "pm25" in values and "pm10" in values:
        hit = pm25_gt_pm10_mask(values["pm25"], values["pm10"], params.pm25_pm10_tolerance)
        mark("pm25", hit, QC.PM25_GT_PM10)
        mark("pm10", hit, QC.PM25_GT_PM10)

    out = ds.copy(deep=False)
    for name in names:
        dims = ds[name].dims
        out[name] = xr.DataArray(
            values[name], dims=("site", "time"), attrs=ds[name].attrs
        ).transpose(*dims)
        qc_name = f"{name}_qc"
        old_attrs = dict(ds[qc_name].attrs) if qc_name in ds.variables else None
        out[qc_name] = xr.DataArray(
            flags[name], dims=("site", "time"), attrs=_qc_attrs(name, old_attrs)
        ).transpose(*dims)

    columns: dict[str, npt.NDArray[np.int64]] = {
        "hours": np.full(ds.sizes["site"], ds.sizes["time"], dtype=np.int64)
    }
    for name in names:
        for bit, suffix in RULE_COLUMNS.items():
            hits = (flags[name] & np.uint16(bit)) != 0
            columns[f"{name}_{suffix}"] = hits.sum(axis=1).astype(np.int64)
    report = pd.DataFrame(columns, index=pd.Index(ds["site"].values, name="site"))
    return out, report


# --------------------------------------------------------------------------------------------
# Report


def _width(text: str) -> int:
    """Display width of ``text`` in a terminal (CJK characters take two columns)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(width - _width(text), 0)
    return fill + text if right else text + fill


def _rule_list(row: pd.Series, name: str, bits: Sequence[QC]) -> str:
    counts = [(_RULE_LABELS[b], int(row.get(f"{name}_{RULE_COLUMNS[b]}", 0))) for b in bits]
    nonzero = sorted((c for c in counts if c[1] > 0), key=lambda c: -c[1])  # stable sort
    return ", ".join(f"{label} {n}" for label, n in nonzero) or "-"


def format_qc_report(
    report: pd.DataFrame,
    ds: xr.Dataset | None = None,
    variables: Sequence[str] = ("pm25", "pm10"),
) -> str:
    """Render the report of :func:`apply_qc` as a fixed-width table, one row per station.

    For each listed variable present in ``report``: *missing* = time steps without a value in
    the source (count and share of all time steps), *invalidated* = values set to NaN by QC, by
    rule (e.g. ``stuck 12, sentinel 1``), *flagged* = values kept but suspicious (spike,
    duplicate, pm25>pm10). With ``ds``, station name and city are shown from its coordinates.
    """
    names = [v for v in variables if f"{v}_missing" in report.columns]
    labels: dict[str, dict[str, str]] = {"name": {}, "city": {}}
    if ds is not None:
        for coord in labels:
            if coord in ds.coords:
                pairs = zip(ds["site"].values, ds[coord].values, strict=True)
                labels[coord] = {str(s): str(c) for s, c in pairs}

    header = ["station"]
    if ds is not None:
        header += ["name", "city"]
    header.append("steps")
    for name in names:
        header += [f"{name} missing", f"{name} invalidated", f"{name} flagged"]
    right = {"steps"} | {f"{name} missing" for name in names}

    rows: list[list[str]] = []
    for site, row in report.iterrows():
        code = str(site)
        steps = int(row["hours"])
        cells = [code]
        if ds is not None:
            cells += [labels["name"].get(code, ""), labels["city"].get(code, "")]
        cells.append(str(steps))
        for name in names:
            missing = int(row[f"{name}_missing"])
            share = f" ({100.0 * missing / steps:.1f}%)" if steps else ""
            cells += [
                f"{missing}{share}",
                _rule_list(row, name, INVALIDATING),
                _rule_list(row, name, FLAG_ONLY),
            ]
        rows.append(cells)

    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        parts = [_pad(c, w, right=header[i] in right) for i, (c, w) in pairs]
        return "  ".join(parts).rstrip()

    resolution = "time steps"
    if ds is not None and ds.attrs.get("time_resolution") in ("1h", "1D"):
        resolution = "hours" if ds.attrs["time_resolution"] == "1h" else "days"
    out = [
        f"Observation QC report: {len(rows)} stations; counts are {resolution}",
        line(header),
        line(["-" * w for w in widths]),
        *(line(r) for r in rows),
        "",
        "missing: no value published; invalidated: value removed by QC (set to NaN, not counted "
        "as missing); flagged: value kept, check it.",
    ]
    return "\n".join(out)
