"""Derived meteorological predictors: pure functions on numpy arrays and xarray DataArrays.

Every function takes and returns arrays in the units stated in its docstring (SI apart from
hPa, % and mm, as in :data:`forecast.met.variables.MET_VARIABLES`); DataArrays stay DataArrays
(dims and coords kept, attrs dropped), anything else is converted to a float64 numpy array.
Missing values are NaN and propagate unless a function says otherwise. Nothing is modified in
place.

Conventions decided here
------------------------

- **Wind direction** is meteorological: the direction the wind blows *from*, clockwise from
  north, in [0, 360) degrees (north is 0, never 360). It is undefined for a calm wind: where the
  speed is ``<= calm_speed`` (default 0 m/s, i.e. exactly calm) the direction is **NaN**, never
  0 (0 would read as a north wind). :func:`wind_components` maps a zero speed to u = v = 0
  whatever the direction, so calm round-trips.
- **Humidity** uses the Magnus formula over water with the Alduchov & Eskridge (1996)
  coefficients (:data:`MAGNUS`), also over ice-cold air (the usual meteorological convention for
  reported RH). Supersaturation (dew point above the temperature) is clipped to 100 % only when
  it is small enough to be an artefact of independent sensors and whole-degree reporting
  (dew point at most ``supersaturation_tolerance`` K above the temperature); larger excesses are
  returned unclipped (> 100 %) so that range checks see them instead of a silently repaired 100.
- **Stagnation** flags are three-valued float arrays: 1.0 stagnant, 0.0 not stagnant, NaN
  unknown (an input is missing and the known inputs do not already rule stagnation out).

References
----------
Alduchov, O. A. and R. E. Eskridge (1996): Improved Magnus form approximation of saturation
vapor pressure. J. Appl. Meteor. 35, 601–609.
Wang, J. X. L. and J. K. Angell (1999): Air stagnation climatology for the United States
(1948–1998). NOAA/Air Resources Laboratory Atlas No. 1.
Horton, D. E., Harshvardhan and N. S. Diffenbaugh (2012): Response of air stagnation frequency
to anthropogenically enhanced radiative forcing. Environ. Res. Lett. 7, 044034.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from forecast.met.variables import MET_VARIABLES

#: Arrays the functions accept and return: a DataArray stays a DataArray.
Field = TypeVar("Field", xr.DataArray, npt.NDArray[np.float64])

ZERO_CELSIUS: Final = 273.15  #: [K]


@dataclass(frozen=True)
class MagnusCoefficients:
    """Saturation vapour pressure ``e_s(T) = c · exp(a · T / (b + T))`` with T in °C.

    ``a`` [1], ``b`` [°C], ``c`` [hPa]. Relative humidity only needs ``a`` and ``b``.
    """

    a: float
    b: float
    c: float
    source: str


#: Magnus coefficients over water (Alduchov & Eskridge 1996, their AERK fit; valid for
#: −40 °C to 50 °C with a relative error below 0.4 %).
MAGNUS: Final = MagnusCoefficients(
    a=17.625, b=243.04, c=6.1094, source="Alduchov and Eskridge (1996), over water"
)

#: Stagnation thresholds (defaults of :func:`stagnation`).
STAGNATION_MAX_WIND: Final = 2.0  #: near-surface wind speed below which air is stagnant [m/s]
STAGNATION_MAX_BLH: Final = 300.0  #: boundary-layer height below which mixing is shallow [m]
STAGNATION_MAX_PRECIP_RATE: Final = 0.1  #: precipitation rate below which it is dry [mm/h]

#: Time steps up to which :func:`add_derived` computes hourly stagnation [h].
STAGNATION_MAX_STEP_HOURS: Final = 3.0


# --------------------------------------------------------------------------------------------
# helpers


def _field(x: Any) -> Any:
    """DataArrays as they are, everything else as a float64 numpy array."""
    if isinstance(x, xr.DataArray):
        return x
    return np.asarray(x, dtype=np.float64)


def _where(cond: Any, x: Any, y: Any) -> Any:
    """``np.where`` that keeps DataArrays (xarray broadcasting and coords)."""
    if any(isinstance(a, xr.DataArray) for a in (cond, x, y)):
        return xr.where(cond, x, y)
    return np.where(cond, x, y)


# --------------------------------------------------------------------------------------------
# wind


def wind_speed(u: Field, v: Field) -> Field:
    """Horizontal wind speed from its components.

    Parameters
    ----------
    u, v : eastward and northward wind components [m/s].

    Returns
    -------
    speed [m/s], ``sqrt(u² + v²)``; NaN where either component is NaN.
    """
    result: Field = np.hypot(_field(u), _field(v))
    return result


def wind_direction(u: Field, v: Field, *, calm_speed: float = 0.0) -> Field:
    """Meteorological wind direction from the components.

    Parameters
    ----------
    u, v : eastward and northward wind components [m/s].
    calm_speed : speed at or below which the wind counts as calm [m/s] (default 0: exactly calm).

    Returns
    -------
    direction [degrees] the wind blows *from*, clockwise from north, in [0, 360): a wind from
    the north (u = 0, v < 0) is 0, from the east (u < 0, v = 0) is 90. **NaN for a calm wind**
    (speed ≤ ``calm_speed``) and where either component is NaN.
    """
    u, v = _field(u), _field(v)
    direction = np.mod(np.degrees(np.arctan2(-u, -v)), 360.0)
    # A tiny negative angle modulo 360 rounds to 360.0: north is 0.
    direction = _where(direction >= 360.0, 0.0, direction)
    result: Field = _where(np.hypot(u, v) > calm_speed, direction, np.nan)
    return result


def wind_components(speed: Field, direction: Field) -> tuple[Field, Field]:
    """Eastward and northward components from speed and meteorological direction.

    Parameters
    ----------
    speed : wind speed [m/s], ≥ 0.
    direction : direction the wind blows from, clockwise from north [degrees].

    Returns
    -------
    (u, v) [m/s]: ``u = −speed · sin(direction)``, ``v = −speed · cos(direction)``. A zero
    speed gives u = v = 0 even where the direction is NaN (calm, see :func:`wind_direction`);
    otherwise NaN in either input gives NaN.
    """
    speed, direction = _field(speed), _field(direction)
    rad = np.radians(direction)
    u = _where(speed == 0, 0.0, -speed * np.sin(rad))
    v = _where(speed == 0, 0.0, -speed * np.cos(rad))
    return u, v


# --------------------------------------------------------------------------------------------
# humidity


def _magnus_exponent(t_celsius: Any) -> Any:
    return MAGNUS.a * t_celsius / (MAGNUS.b + t_celsius)


def saturation_vapour_pressure(t: Field) -> Field:
    """Saturation vapour pressure over water (Magnus, :data:`MAGNUS`).

    Parameters
    ----------
    t : temperature [K].

    Returns
    -------
    e_s [hPa].
    """
    result: Field = MAGNUS.c * np.exp(_magnus_exponent(_field(t) - ZERO_CELSIUS))
    return result


def relative_humidity(t: Field, td: Field, *, supersaturation_tolerance: float = 1.0) -> Field:
    """Relative humidity over water from temperature and dew point (Magnus formula).

    ``RH = 100 · e_s(Td) / e_s(T)`` with :data:`MAGNUS` (Alduchov & Eskridge 1996).

    Parameters
    ----------
    t : air temperature [K].
    td : dew-point temperature [K].
    supersaturation_tolerance : largest excess of the dew point over the temperature [K] that is
        treated as a measurement or rounding artefact and clipped to 100 %. Default 1 K: tables
        that report both temperatures in whole degrees from separate sensors (e.g. the Beijing
        PRSA file) occasionally show Td = T + 1. A larger excess is returned unclipped.

    Returns
    -------
    RH [%]: in (0, 100] wherever ``td <= t + supersaturation_tolerance``; above 100 where the
    dew point exceeds the temperature by more than the tolerance (physically implausible input,
    left visible for range checks); NaN where either input is NaN.
    """
    t, td = _field(t), _field(td)
    rh = 100.0 * np.exp(_magnus_exponent(td - ZERO_CELSIUS) - _magnus_exponent(t - ZERO_CELSIUS))
    artefact = (rh > 100.0) & (td - t <= supersaturation_tolerance)
    result: Field = _where(artefact, 100.0, rh)
    return result


def dew_point(t: Field, rh: Field) -> Field:
    """Dew point from temperature and relative humidity (inverse of :func:`relative_humidity`).

    Parameters
    ----------
    t : air temperature [K].
    rh : relative humidity over water [%].

    Returns
    -------
    Td [K]; NaN where ``rh <= 0`` (no dew point exists) or either input is NaN. RH above 100 %
    gives a dew point above the temperature (the exact inverse; no clipping).
    """
    t, rh = _field(t), _field(rh)
    positive = rh > 0
    safe_rh = _where(positive, rh, np.nan)
    gamma = np.log(safe_rh / 100.0) + _magnus_exponent(t - ZERO_CELSIUS)
    result: Field = MAGNUS.b * gamma / (MAGNUS.a - gamma) + ZERO_CELSIUS
    return result


# --------------------------------------------------------------------------------------------
# mixing


def ventilation_index(blh: Field, wind_speed: Field) -> Field:
    """Ventilation index: how much air the boundary layer can carry away.

    Parameters
    ----------
    blh : boundary-layer (mixing) height [m].
    wind_speed : wind speed [m/s], normally at 10 m (a boundary-layer mean wind is better where
        available).

    Returns
    -------
    ventilation [m²/s] = ``blh · wind_speed``; NaN where either is NaN.
    """
    result: Field = _field(blh) * _field(wind_speed)
    return result


def inversion_strength(t_upper: Field, t_surface: Field) -> Field:
    """Temperature inversion strength between an upper level and the surface.

    Parameters
    ----------
    t_upper : temperature aloft [K], e.g. at 850 hPa (T850) or at an elevated station.
    t_surface : temperature near the surface [K], e.g. 2 m (T2m) in the basin.

    Returns
    -------
    ``t_upper − t_surface`` [K]; > 0 means warmer air aloft (an inversion: the stronger, the more
    stable the layer and the worse the dispersion). Not corrected for the dry-adiabatic lapse
    rate: a neutral layer 1 km deep gives about −10 K.
    """
    result: Field = _field(t_upper) - _field(t_surface)
    return result


#: ICAO standard atmosphere: sea-level pressure [hPa], temperature [K], lapse rate [K/m] and the
#: exponent R·L/g [1] of the barometric formula in the troposphere.
ISA_P0: Final = 1013.25
ISA_T0: Final = 288.15
ISA_LAPSE_RATE: Final = 0.0065
ISA_EXPONENT: Final = 0.190263


def pressure_altitude(p: Field) -> Field:
    """Altitude of a pressure level in the ICAO standard atmosphere (troposphere).

    Parameters
    ----------
    p : air pressure [hPa].

    Returns
    -------
    altitude [m] = ``T0 / L · (1 − (p / p0) ** (R·L/g))``; e.g. 808 hPa → about 1,870 m. Real
    altitudes differ with the temperature profile (a cold winter column puts a pressure level
    lower); good to about ±100 m for a station's long-term mean pressure.
    """
    result: Field = ISA_T0 / ISA_LAPSE_RATE * (1.0 - (_field(p) / ISA_P0) ** ISA_EXPONENT)
    return result


# --------------------------------------------------------------------------------------------
# time-window quantities (need a regular time axis)


def time_step_hours(times: pd.DatetimeIndex | xr.DataArray, *, what: str = "data") -> float:
    """The single step of a regular, strictly increasing time axis [h].

    Raises ``ValueError`` for fewer than two times, unsorted or irregular axes.
    """
    index = pd.DatetimeIndex(times.values if isinstance(times, xr.DataArray) else times)
    if len(index) < 2:
        raise ValueError(f"{what} needs at least two time steps to find its time step")
    steps = (index[1:] - index[:-1]).unique()
    if len(steps) != 1 or steps[0] <= pd.Timedelta(0):
        shown = ", ".join(str(s) for s in steps[:5])
        raise ValueError(
            f"{what} needs a regular, increasing time axis; found steps {shown} "
            "(reindex to a regular axis with NaN for missing times first)"
        )
    return float(steps[0] / pd.Timedelta(hours=1))


def _window_steps(window_hours: float, step_hours: float) -> int:
    steps = window_hours / step_hours
    if window_hours <= 0 or not math.isclose(steps, round(steps)) or round(steps) < 1:
        raise ValueError(
            f"a {window_hours:g} h window is not a whole number of {step_hours:g} h time steps"
        )
    return round(steps)


@overload
def precipitation_totals(
    tp: xr.DataArray, window_hours: float, *, min_valid: float = ..., dim: Hashable = ...
) -> xr.DataArray: ...


@overload
def precipitation_totals(
    tp: xr.DataArray,
    window_hours: Sequence[float],
    *,
    min_valid: float = ...,
    dim: Hashable = ...,
) -> xr.Dataset: ...


def precipitation_totals(
    tp: xr.DataArray,
    window_hours: float | Sequence[float],
    *,
    min_valid: float = 1.0,
    dim: Hashable = "time",
) -> xr.DataArray | xr.Dataset:
    """Precipitation totals over trailing windows.

    Parameters
    ----------
    tp : precipitation amount [mm] in the interval ending at each time (the interval is the time
        step), on a **regular** time axis ``dim`` (missing times as NaN, not absent).
    window_hours : window length(s) [h], each a whole number of time steps (e.g. 24 and 72 with
        hourly, 3-hourly or daily data).
    min_valid : fraction (0, 1] of the window's time steps that must hold a value. Default 1:
        any missing step makes the total NaN (a missing hour may hide the rain). With a smaller
        fraction the total is the sum of the valid steps, a lower bound.
    dim : name of the time dimension.

    Returns
    -------
    For one window: the total [mm] over the ``window_hours`` ending at each time (the first
    ``window − 1`` steps lack a full window and count those steps as missing). For a sequence:
    a Dataset with one variable ``tp_<h>h`` per window.
    """
    if not 0 < min_valid <= 1:
        raise ValueError(f"min_valid must be a fraction in (0, 1], got {min_valid}")
    step = time_step_hours(tp[dim], what="precipitation_totals")
    if isinstance(window_hours, (int, float)):
        n = _window_steps(window_hours, step)
        need = max(1, math.ceil(min_valid * n - 1e-9))
        total = tp.rolling({dim: n}, min_periods=need).sum()
        return total.assign_attrs(
            units="mm",
            long_name=f"precipitation amount in the {window_hours:g} h ending at the valid time",
            standard_name="precipitation_amount",
        )
    out = {}
    for hours in window_hours:
        out[f"tp_{hours:g}h"] = precipitation_totals(tp, hours, min_valid=min_valid, dim=dim)
    return xr.Dataset(out)


def stagnation(
    wind_speed: Field,
    blh: Field,
    precip: Field | None = None,
    *,
    precip_hours: float = 1.0,
    max_wind: float = STAGNATION_MAX_WIND,
    max_blh: float = STAGNATION_MAX_BLH,
    max_precip_rate: float = STAGNATION_MAX_PRECIP_RATE,
) -> Field:
    """Hourly stagnation flag: weak wind, shallow boundary layer and no significant precipitation.

    Adapted from the air stagnation index of Wang & Angell (1999) used by the US EPA climate
    indicators and by Horton et al. (2012, 2014): a day is stagnant when the daily-mean 10 m
    wind is below 3.2 m/s, the 500 hPa wind below 13 m/s and no precipitation falls (< 1 mm).
    For hourly forecasting in the Urumqi basin, whose episodes form under shallow winter
    inversions rather than under weak mid-tropospheric flow, the 500 hPa criterion is replaced
    by the boundary-layer height (it measures the mixing volume directly), and the thresholds
    are hourly. All thresholds are parameters; defaults:

    - ``wind_speed < max_wind`` (2 m/s, stricter than 3.2 m/s daily because hourly winds vary
      more than daily means),
    - ``blh < max_blh`` (300 m; Urumqi's mean January BLH is about 210 m),
    - ``precip / precip_hours < max_precip_rate`` (0.1 mm/h, the smallest measurable amount per
      hour; an amount or a 0/1 occurrence flag per interval both work) — skipped when ``precip``
      is None.

    Parameters
    ----------
    wind_speed : near-surface wind speed [m/s].
    blh : boundary-layer height [m].
    precip : precipitation amount in the interval ending at each time [mm], or None.
    precip_hours : length of that interval [h] (3 for 3-hourly amounts).

    Returns
    -------
    float64 flag: 1.0 stagnant, 0.0 not stagnant, NaN unknown. Three-valued logic: a condition
    that is known to fail makes the result 0 even if another input is missing; otherwise any
    missing input makes it NaN.
    """
    conditions = [_field(wind_speed) < max_wind, _field(blh) < max_blh]
    inputs = [_field(wind_speed), _field(blh)]
    if precip is not None:
        rate = _field(precip) / precip_hours
        conditions.append(rate < max_precip_rate)
        inputs.append(rate)
    known_false: Any = False
    unknown: Any = False
    for cond, x in zip(conditions, inputs, strict=True):
        missing = np.isnan(x)
        known_false = known_false | (~cond & ~missing)
        unknown = unknown | missing
    result: Field = _where(known_false, 0.0, _where(unknown, np.nan, 1.0))
    return result


MissingPolicy = Literal["propagate", "reset"]


def _run_lengths(flag: npt.NDArray[np.float64], missing: MissingPolicy) -> npt.NDArray[np.float64]:
    """Run length of consecutive true values ending at each step, along the last axis."""
    n = flag.shape[-1]
    idx = np.broadcast_to(np.arange(n, dtype=np.int64), flag.shape)
    nan = np.isnan(flag)
    false = ~nan & (flag == 0)
    before_start = np.int64(-1)
    if missing == "reset":
        last_break = np.maximum.accumulate(np.where(false | nan, idx, before_start), axis=-1)
        runs = (idx - last_break).astype(np.float64)
    else:
        last_false = np.maximum.accumulate(np.where(false, idx, before_start), axis=-1)
        last_nan = np.maximum.accumulate(np.where(nan, idx, before_start), axis=-1)
        runs = (idx - last_false).astype(np.float64)
        runs[last_nan > last_false] = np.nan
    runs[false] = 0.0
    runs[nan] = np.nan
    return runs


def consecutive_true_hours(
    flag: Field,
    *,
    step_hours: float = 1.0,
    missing: MissingPolicy = "propagate",
    dim: Hashable = "time",
) -> Field:
    """How long a condition has held: the run of consecutive true values ending at each time.

    Parameters
    ----------
    flag : booleans, or floats 1/0/NaN (NaN = unknown; any non-zero value is true), on a regular
        time axis: the last axis of a numpy array, dimension ``dim`` of a DataArray.
    step_hours : the time step [h]; the result is the run length in steps times this.
    missing : what an unknown value does to a run.

        - ``"propagate"`` (default): a run's length is unknown once it touches a missing value,
          so the result is NaN from the missing value until the next known false value.
        - ``"reset"``: a missing value breaks the run; counting restarts after it (a lower
          bound of the true run length).

        In both cases the result is NaN *at* a missing time, and 0 at a false one. The start of
        the record counts as a break: a run that began before the first time is under-counted.

    Returns
    -------
    duration [h] (float64) of the run of true values ending at each time, counting the current
    step: 0 where false; ``step_hours`` at the first true step; NaN as described above.
    """
    if missing not in ("propagate", "reset"):
        raise ValueError(f"missing must be 'propagate' or 'reset', got {missing!r}")
    if isinstance(flag, xr.DataArray):
        values = flag.astype(np.float64)
        result: Field = xr.apply_ufunc(
            lambda a: _run_lengths(a, missing) * step_hours,
            values,
            input_core_dims=[[dim]],
            output_core_dims=[[dim]],
        ).transpose(*flag.dims)
        return result
    runs: Field = _run_lengths(np.asarray(flag, dtype=np.float64), missing) * step_hours
    return runs


# --------------------------------------------------------------------------------------------
# datasets


def met_attrs(name: str, **extra: Any) -> dict[str, Any]:
    """CF attributes (units, long_name, standard_name) of a canonical variable."""
    meta = MET_VARIABLES[name]
    attrs: dict[str, Any] = {"units": meta.units, "long_name": meta.long_name}
    if meta.standard_name:
        attrs["standard_name"] = meta.standard_name
    attrs.update(extra)
    return attrs


def add_derived(ds: xr.Dataset, *, time_dim: Hashable = "time") -> xr.Dataset:
    """Add every derived predictor that the variables of ``ds`` allow; return a new Dataset.

    ``ds`` holds canonical variables (:data:`MET_VARIABLES` names and units: ``u10``, ``v10``
    [m/s], ``t2m``, ``d2m``, ``t850`` [K], ``rh2m`` [%], ``blh`` [m], ``tp`` [mm per time
    step], ``precip_flag`` [1], …) on any dims. Variables already present are never overwritten.
    Added, when their inputs are present:

    ==================== ======================= ==========================================
    variable             from                    function
    ==================== ======================= ==========================================
    ``wind_speed``       u10, v10                :func:`wind_speed`
    ``wind_dir``         u10, v10                :func:`wind_direction` (NaN when calm)
    ``rh2m``             t2m, d2m                :func:`relative_humidity`
    ``d2m``              t2m, rh2m               :func:`dew_point`
    ``ventilation``      blh, wind_speed         :func:`ventilation_index`
    ``inversion``        t850, t2m               :func:`inversion_strength`
    ``tp_24h``, tp_72h   tp (regular time axis)  :func:`precipitation_totals` (all steps valid)
    ``stagnant``         wind_speed, blh,        :func:`stagnation` (time step ≤ 3 h; tp, or
                         [tp | precip_flag]      else precip_flag, when present)
    ``stagnation_hours`` stagnant                :func:`consecutive_true_hours` (propagate)
    ==================== ======================= ==========================================

    Attributes follow :data:`MET_VARIABLES` (CF ``units``, ``long_name``, ``standard_name``); a
    ``derived_variables`` attribute lists what was added.
    """
    out = ds.copy()
    added: list[str] = []

    def has(*names: str) -> bool:
        return all(n in out.data_vars for n in names)

    def add(name: str, value: xr.DataArray, **extra: Any) -> None:
        if name in out.data_vars:
            return
        out[name] = value.astype(np.float64).assign_attrs(met_attrs(name, **extra))
        added.append(name)

    if has("u10", "v10"):
        add("wind_speed", wind_speed(out["u10"], out["v10"]))
        add("wind_dir", wind_direction(out["u10"], out["v10"]), comment="NaN when calm")
    if has("t2m", "d2m"):
        add(
            "rh2m",
            relative_humidity(out["t2m"], out["d2m"]),
            comment="Magnus formula over water (Alduchov and Eskridge 1996)",
        )
    if has("t2m", "rh2m"):
        add(
            "d2m",
            dew_point(out["t2m"], out["rh2m"]),
            comment="Magnus formula over water (Alduchov and Eskridge 1996)",
        )
    if has("blh", "wind_speed"):
        add("ventilation", ventilation_index(out["blh"], out["wind_speed"]))
    if has("t850", "t2m"):
        add("inversion", inversion_strength(out["t850"], out["t2m"]))

    step = None
    if time_dim in out.dims and out.sizes[time_dim] >= 2:
        try:
            step = time_step_hours(out[time_dim], what="add_derived")
        except ValueError:
            step = None  # irregular axis: the windowed quantities are skipped
    if step is not None and has("tp"):
        for hours in (24, 72):
            if (hours / step) % 1 == 0:
                add(f"tp_{hours}h", precipitation_totals(out["tp"], hours, dim=time_dim))
    if step is not None and step <= STAGNATION_MAX_STEP_HOURS and has("wind_speed", "blh"):
        precip = out["tp"] if has("tp") else out["precip_flag"] if has("precip_flag") else None
        flag = stagnation(out["wind_speed"], out["blh"], precip, precip_hours=step)
        add(
            "stagnant",
            flag,
            flag_values=np.array([0.0, 1.0]),
            flag_meanings="not_stagnant stagnant",
            comment=f"wind_speed < {STAGNATION_MAX_WIND} m/s and blh < {STAGNATION_MAX_BLH} m"
            + (
                f" and precipitation < {STAGNATION_MAX_PRECIP_RATE} mm/h"
                if precip is not None
                else ""
            )
            + "; NaN = unknown",
        )
        add(
            "stagnation_hours",
            consecutive_true_hours(out["stagnant"], step_hours=step, dim=time_dim),
        )
    if added:
        previous = out.attrs.get("derived_variables")
        out.attrs["derived_variables"] = " ".join(([previous] if previous else []) + added)
    return out
