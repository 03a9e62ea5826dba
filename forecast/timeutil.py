"""Time zones in exactly one place.

Station data and bulletins are in Beijing time (``Asia/Shanghai``, UTC+8, no DST since 1991);
NWP grids are in UTC. Inside the engine every time axis is UTC, stored as naive
``datetime64[ns]`` values. Conversion happens only through these functions.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

BEIJING: Final = "Asia/Shanghai"
#: Zones that look right for Xinjiang but are wrong for station and bulletin times.
FORBIDDEN_ZONES: Final = frozenset({"Asia/Urumqi", "Asia/Kashgar"})


def beijing_to_utc(local: pd.DatetimeIndex | pd.Series | np.ndarray) -> pd.DatetimeIndex:
    """Naive Beijing wall-clock times → naive UTC times.

    An hour labelled 08:00 Beijing time is 00:00 UTC.
    """
    idx = pd.DatetimeIndex(local)
    if idx.tz is not None:
        return idx.tz_convert("UTC").tz_localize(None)
    return idx.tz_localize(BEIJING).tz_convert("UTC").tz_localize(None)


def utc_to_beijing(utc: pd.DatetimeIndex | pd.Series | np.ndarray) -> pd.DatetimeIndex:
    """Naive UTC times → naive Beijing wall-clock times."""
    idx = pd.DatetimeIndex(utc)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.tz_localize("UTC").tz_convert(BEIJING).tz_localize(None)


def as_beijing(t: object) -> pd.Timestamp:
    """A Beijing wall-clock time (naive) or any aware time → an aware Beijing timestamp."""
    ts = pd.Timestamp(t)
    return (ts.tz_localize(BEIJING) if ts.tzinfo is None else ts).tz_convert(BEIJING)


def as_naive_utc(times: object) -> pd.DatetimeIndex:
    """Any datetime-like values → naive UTC ``datetime64[ns]`` (aware values are converted)."""
    idx = pd.DatetimeIndex(
        np.atleast_1d(np.asarray(times))
        if not isinstance(times, pd.DatetimeIndex | pd.Series)
        else times
    )
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.as_unit("ns")


def now_utc() -> pd.Timestamp:
    """The current time as a naive UTC timestamp (patched in tests for a controllable clock)."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
