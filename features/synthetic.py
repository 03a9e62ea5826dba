"""Synthetic ``(site, time)`` panels for tests and benchmarks: PM2.5-like, deliberately awkward.

:func:`uneven_panel` makes series that start and stop at different times (leading and trailing
NaN), with scattered and long gaps, constant runs (exact-zero standard deviations), integer
values as published, and a high level with a tiny spread (where a naive variance formula
cancels catastrophically); :func:`panel_dataset` wraps it (and some meteorology) in the merged
Dataset layout of :mod:`features.build`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr


def uneven_panel(n_sites: int, n_steps: int, seed: int) -> npt.NDArray[np.float64]:
    """PM2.5-like series with every awkward case, one row per site."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.5, 60.0, (n_sites, n_steps))
    # episodes: slow multiplicative swings, so thresholds 75 and 150 are crossed in runs
    x *= np.exp(np.sin(np.arange(n_steps) / rng.uniform(20, 200, (n_sites, 1))))
    for s in range(n_sites):
        start = int(rng.integers(0, n_steps // 5))
        stop = n_steps - int(rng.integers(0, n_steps // 5))
        x[s, :start] = np.nan
        x[s, stop:] = np.nan
        x[s, rng.random(n_steps) < rng.uniform(0.0, 0.2)] = np.nan  # scattered gaps
        for _ in range(3):  # long gaps
            g = int(rng.integers(0, n_steps))
            x[s, g : g + int(rng.integers(5, 120))] = np.nan
        for _ in range(4):  # constant runs (stuck-like, and exact-zero std)
            g = int(rng.integers(0, n_steps))
            x[s, g : g + int(rng.integers(3, 100))] = round(float(rng.uniform(5, 300)))
        if s % 4 == 1:
            x[s] = np.round(x[s])  # integer µg/m³ as published
        if s % 4 == 2:
            x[s] = 1500.0 + rng.normal(0.0, 0.05, n_steps) + 0.0 * x[s]  # high level, tiny spread
    return x


def panel_dataset(
    x: npt.NDArray[np.float64], start: str = "2021-10-01", freq: str = "h", met: bool = True
) -> xr.Dataset:
    n_sites, n_steps = x.shape
    times = pd.date_range(start, periods=n_steps, freq=freq)
    rng = np.random.default_rng(7)
    data = {"pm25": (("site", "time"), x)}
    if met:
        blh = rng.gamma(2.0, 150.0, x.shape)
        blh[rng.random(x.shape) < 0.05] = np.nan
        tp = np.where(rng.random(x.shape) < 0.8, 0.0, rng.exponential(0.5, x.shape))
        tp[rng.random(x.shape) < 0.05] = np.nan
        stagnant = (rng.random(x.shape) < 0.6).astype(np.float64)
        stagnant[rng.random(x.shape) < 0.05] = np.nan
        data |= {
            "blh": (("site", "time"), blh),
            "tp": (("site", "time"), tp),
            "stagnant": (("site", "time"), stagnant),
        }
    return xr.Dataset(
        data,
        coords={"site": [f"S{i:03d}" for i in range(n_sites)], "time": times},
        attrs={"time_resolution": "1h" if freq == "h" else "1D"},
    )


def pm25_panel(
    n_sites: int, n_steps: int, seed: int = 0, *, missing: float = 0.05
) -> npt.NDArray[np.float64]:
    """Realistic hourly PM2.5 [µg/m³] for benchmarks, ``(site, time)`` float64, vectorised.

    Integer values as published, a diurnal cycle, multi-day episodes (so thresholds of 75 and
    150 µg/m³ are crossed in runs), a fraction ``missing`` of scattered missing hours and a few
    long outages per site.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    level = rng.uniform(20.0, 120.0, (n_sites, 1))
    period = rng.uniform(48.0, 400.0, (n_sites, 1))
    episodes = np.exp(1.2 * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3, (n_sites, 1))))
    diurnal = 1.0 + 0.3 * np.sin(2 * np.pi * (t % 24) / 24.0)
    x = np.round(level * episodes * diurnal * rng.gamma(8.0, 1 / 8.0, (n_sites, n_steps)))
    x[rng.random((n_sites, n_steps)) < missing] = np.nan
    starts = rng.integers(0, n_steps, (n_sites, 3))
    lengths = rng.integers(6, 240, (n_sites, 3))
    for k in range(3):
        gap = (t[None, :] >= starts[:, k : k + 1]) & (
            t[None, :] < starts[:, k : k + 1] + lengths[:, k : k + 1]
        )
        x[gap] = np.nan
    return x


def _uneven(a: npt.NDArray[np.float64], rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """``a`` with per-site leading and trailing NaN, scattered and long gaps, constant runs."""
    n_sites, n_steps = a.shape
    a = a.copy()
    for s in range(n_sites):
        a[s, : int(rng.integers(0, n_steps // 5 + 1))] = np.nan
        a[s, n_steps - int(rng.integers(0, n_steps // 5 + 1)) :] = np.nan
        a[s, rng.random(n_steps) < rng.uniform(0.0, 0.1)] = np.nan
        g = int(rng.integers(0, n_steps))
        a[s, g : g + int(rng.integers(2, max(3, n_steps // 10)))] = np.nan
        g = int(rng.integers(0, n_steps))
        a[s, g : g + int(rng.integers(2, max(3, n_steps // 10)))] = a[s, g]  # a change of 0
    return a


def weather_dataset(
    x: npt.NDArray[np.float64], start: str = "2021-10-01", freq: str = "h", seed: int = 7
) -> xr.Dataset:
    """:func:`panel_dataset` with every default meteorological variable, unevenly covered.

    The state variables (``blh``, ``wind_speed``, ``ventilation``, ``inversion`` of both
    signs, ``rh2m``) vary smoothly with noise and, site by site, start and stop at different
    times, have scattered and long gaps and constant runs; ``tp`` and ``stagnant`` are those
    of :func:`panel_dataset`.
    """
    ds = panel_dataset(x, start, freq)
    rng = np.random.default_rng(seed)
    n_sites, n_steps = x.shape
    t = np.arange(n_steps)
    swing = np.sin(t / rng.uniform(5.0, 60.0, (n_sites, 1)) + rng.uniform(0.0, 6.3, (n_sites, 1)))
    noise = rng.normal(0.0, 1.0, (4, n_sites, n_steps))
    blh = np.maximum(600.0 + 450.0 * swing + 80.0 * noise[0], 30.0)
    wind = np.abs(3.0 + 2.0 * swing + 0.8 * noise[1])
    states = {
        "blh": blh,
        "wind_speed": wind,
        "ventilation": blh * wind,
        "inversion": -4.0 * swing + 1.5 * noise[2],
        "rh2m": np.clip(60.0 - 25.0 * swing + 6.0 * noise[3], 5.0, 100.0),
    }
    for name, values in states.items():
        ds[name] = (("site", "time"), _uneven(values, rng))
    return ds[["pm25", *states, "tp", "stagnant"]]
