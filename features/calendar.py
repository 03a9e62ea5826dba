"""Calendar features at the valid time, in Beijing local time.

Valid times are UTC (naive) inside the engine; the calendar that drives emissions (working
hours, weekends, heating, the Spring Festival) is Beijing's, so every feature here is computed
on :func:`forecast.timeutil.utc_to_beijing` of the valid time — never ``Asia/Urumqi``.

- ``hour_bjt``: hour of day, 0–23;
- ``doy_sin``, ``doy_cos``: the day of year on a circle, ``2π (d − 1) / N`` with ``N`` 365 or
  366 (1 January is angle 0 every year);
- ``heating_season``: Urumqi's heating season, 10 October – 10 April inclusive
  (``/work/shared/docs/domain.md``);
- ``weekend``: Saturday or Sunday (the official make-up working days around holidays are not
  modelled);
- ``spring_festival``: within ``before`` days before to ``after`` days after the first day of
  the lunar year (default 7 and 15: the holiday week before, and up to the Lantern Festival),
  from the table :data:`SPRING_FESTIVAL` (2010–2035, checked against the ``lunardate``
  package); NaN for a year outside the table.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecast.timeutil import utc_to_beijing

#: The first day of the lunar year (春节), Gregorian date, by year.
SPRING_FESTIVAL: dict[int, dt.date] = {
    y: dt.date.fromisoformat(d)
    for y, d in (
        (2010, "2010-02-14"),
        (2011, "2011-02-03"),
        (2012, "2012-01-23"),
        (2013, "2013-02-10"),
        (2014, "2014-01-31"),
        (2015, "2015-02-19"),
        (2016, "2016-02-08"),
        (2017, "2017-01-28"),
        (2018, "2018-02-16"),
        (2019, "2019-02-05"),
        (2020, "2020-01-25"),
        (2021, "2021-02-12"),
        (2022, "2022-02-01"),
        (2023, "2023-01-22"),
        (2024, "2024-02-10"),
        (2025, "2025-01-29"),
        (2026, "2026-02-17"),
        (2027, "2027-02-06"),
        (2028, "2028-01-26"),
        (2029, "2029-02-13"),
        (2030, "2030-02-03"),
        (2031, "2031-01-23"),
        (2032, "2032-02-11"),
        (2033, "2033-01-31"),
        (2034, "2034-02-19"),
        (2035, "2035-02-08"),
    )
}
HEATING_START = (10, 10)  #: (month, day), inclusive
HEATING_END = (4, 10)  #: (month, day), inclusive

N_CALENDAR = 6


def calendar_table(
    valid_utc: pd.DatetimeIndex | npt.ArrayLike, spring_festival_days: tuple[int, int] = (7, 15)
) -> npt.NDArray[np.float64]:
    """``(n, 6)`` array: hour_bjt, doy_sin, doy_cos, heating_season, weekend, spring_festival."""
    local = utc_to_beijing(pd.DatetimeIndex(valid_utc))
    out = np.empty((len(local), N_CALENDAR), dtype=np.float64)
    if len(local) == 0:
        return out
    month = np.asarray(local.month)
    day = np.asarray(local.day)
    out[:, 0] = np.asarray(local.hour, dtype=np.float64)
    n_days = np.where(np.asarray(local.is_leap_year), 366.0, 365.0)
    angle = 2.0 * np.pi * (np.asarray(local.day_of_year, dtype=np.float64) - 1.0) / n_days
    out[:, 1] = np.sin(angle)
    out[:, 2] = np.cos(angle)
    md = month * 100 + day
    start = HEATING_START[0] * 100 + HEATING_START[1]
    end = HEATING_END[0] * 100 + HEATING_END[1]
    out[:, 3] = ((md >= start) | (md <= end)).astype(np.float64)
    out[:, 4] = (np.asarray(local.day_of_week) >= 5).astype(np.float64)
    before, after = spring_festival_days
    dates = np.asarray(local.normalize().values.astype("datetime64[D]"))
    years = np.asarray(local.year)
    sf = np.array(
        [
            np.datetime64(SPRING_FESTIVAL[y], "D") if y in SPRING_FESTIVAL else np.datetime64("NaT")
            for y in years
        ],
        dtype="datetime64[D]",
    )
    offset = (dates - sf).astype("timedelta64[D]").astype(np.float64)
    known = ~np.isnat(sf)
    flag = np.where((offset >= -before) & (offset <= after), 1.0, 0.0)
    out[:, 5] = np.where(known, flag, np.nan)
    return out
