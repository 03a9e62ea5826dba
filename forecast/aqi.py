"""Air quality index by HJ 633 (2012 and 2026 editions), vectorised over arrays.

IAQI is the piecewise-linear interpolation of a 24-hour mean concentration between the
breakpoints of the standard, rounded **up** to an integer; AQI is the maximum IAQI over the
pollutants; the primary pollutant is the one with the highest IAQI and is reported only when
AQI > 50. Above the top breakpoint (PM2.5 500 µg/m³, PM10 600 µg/m³) the IAQI is **capped at
500** and :func:`beyond_range` tells which values were capped ("beyond range" in bulletins).
NaN concentrations give NaN IAQI; an AQI is NaN only when every pollutant is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Standard = Literal["HJ633-2012", "HJ633-2026"]
STANDARDS: tuple[Standard, ...] = ("HJ633-2012", "HJ633-2026")
DEFAULT_STANDARD: Standard = "HJ633-2026"

#: IAQI breakpoints shared by every pollutant table.
IAQI_BREAKPOINTS = np.array([0, 50, 100, 150, 200, 300, 400, 500], dtype=np.float64)

#: 24-hour mean concentration breakpoints [µg/m³] per standard and pollutant.
CONCENTRATION_BREAKPOINTS: dict[Standard, dict[str, npt.NDArray[np.float64]]] = {
    "HJ633-2012": {
        "pm25": np.array([0, 35, 75, 115, 150, 250, 350, 500], dtype=np.float64),
        "pm10": np.array([0, 50, 150, 250, 350, 420, 500, 600], dtype=np.float64),
    },
    "HJ633-2026": {
        "pm25": np.array([0, 35, 60, 115, 150, 250, 350, 500], dtype=np.float64),
        "pm10": np.array([0, 50, 120, 250, 350, 420, 500, 600], dtype=np.float64),
    },
}


@dataclass(frozen=True)
class Category:
    level: str
    name_zh: str
    name_en: str
    colour: str
    aqi_min: int
    aqi_max: int


CATEGORIES: tuple[Category, ...] = (
    Category("I", "优", "Excellent", "#00E400", 0, 50),
    Category("II", "良", "Good", "#FFFF00", 51, 100),
    Category("III", "轻度污染", "Lightly polluted", "#FF7E00", 101, 150),
    Category("IV", "中度污染", "Moderately polluted", "#FF0000", 151, 200),
    Category("V", "重度污染", "Heavily polluted", "#99004C", 201, 300),
    Category("VI", "严重污染", "Severely polluted", "#7E0023", 301, 500),
)


def _table(pollutant: str, standard: Standard) -> npt.NDArray[np.float64]:
    try:
        by_pollutant = CONCENTRATION_BREAKPOINTS[standard]
    except KeyError:
        raise ValueError(
            f"unknown AQI standard {standard!r}; valid: {', '.join(STANDARDS)}"
        ) from None
    try:
        return by_pollutant[pollutant]
    except KeyError:
        raise ValueError(
            f"no breakpoints for {pollutant!r}; valid: {', '.join(by_pollutant)}"
        ) from None


def iaqi(
    concentration: npt.ArrayLike, pollutant: str = "pm25", standard: Standard = DEFAULT_STANDARD
) -> npt.NDArray[np.float64]:
    """Individual AQI of 24-hour mean concentrations [µg/m³] → integer-valued float (NaN kept).

    IAQI = ceil((I_hi − I_lo) / (C_hi − C_lo) × (C − C_lo) + I_lo) within the segment holding
    C; capped at 500 above the top breakpoint. Negative concentrations are an error.
    """
    c = np.asarray(concentration, dtype=np.float64)
    if np.any(c < 0):
        raise ValueError(f"negative {pollutant} concentration: {c[c < 0].ravel()[0]} µg/m³")
    bp = _table(pollutant, standard)
    # Segment k holds C in (bp[k], bp[k+1]]; C = 0 falls in the first segment.
    k = np.clip(np.searchsorted(bp, c, side="left") - 1, 0, len(bp) - 2)
    lo, hi = bp[k], bp[k + 1]
    ilo, ihi = IAQI_BREAKPOINTS[k], IAQI_BREAKPOINTS[k + 1]
    raw = (ihi - ilo) / (hi - lo) * (c - lo) + ilo
    # Round the interpolation to 1e-9 first so that exact breakpoints do not ceil upward
    # through floating-point noise (e.g. 49.999999999 + 1 ulp).
    out = np.ceil(np.round(raw, 9))
    out = np.where(c > bp[-1], 500.0, out)
    return np.where(np.isnan(c), np.nan, out)


def beyond_range(
    concentration: npt.ArrayLike, pollutant: str = "pm25", standard: Standard = DEFAULT_STANDARD
) -> npt.NDArray[np.bool_]:
    """True where the concentration is above the top breakpoint (IAQI capped at 500)."""
    return np.asarray(concentration, dtype=np.float64) > _table(pollutant, standard)[-1]


def aqi(
    pm25: npt.ArrayLike, pm10: npt.ArrayLike | None = None, standard: Standard = DEFAULT_STANDARD
) -> npt.NDArray[np.float64]:
    """AQI = max IAQI over PM2.5 and (optionally) PM10 24-hour means [µg/m³]; NaN-skipping."""
    parts = [iaqi(pm25, "pm25", standard)]
    if pm10 is not None:
        parts.append(iaqi(pm10, "pm10", standard))
    stacked = np.stack(np.broadcast_arrays(*parts))
    all_nan = np.all(np.isnan(stacked), axis=0)
    filled = np.where(np.isnan(stacked), -np.inf, stacked)
    return np.where(all_nan, np.nan, filled.max(axis=0))


def category(aqi_value: float) -> Category:
    """The AQI category (level, names, colour) of one AQI value."""
    if not np.isfinite(aqi_value) or aqi_value < 0:
        raise ValueError(f"AQI must be a finite number ≥ 0, got {aqi_value}")
    for cat in CATEGORIES:
        if aqi_value <= cat.aqi_max:
            return cat
    return CATEGORIES[-1]
