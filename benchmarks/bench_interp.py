"""Benchmark: bilinear interpolation of a 7-day forecast grid to many points.

Builds, in memory, a 7-day hourly forecast (169 valid times) on a 0.25° grid over
80–95°E × 40–48°N (33 × 61 points) and interpolates it to ``--points`` random points with

- ``ours_s``: :func:`forecast.met.interp.bilinear_to_points` (NaN-aware, renormalised weights);
- ``xarray_s``: ``DataArray.interp(lat=…, lon=…, method="linear")`` (the baseline),

in the same run, each the median of ``--repeat`` runs, and reports ``ratio`` (ours / xarray)
and ``max_abs_diff`` between the two (the field has no NaN, so they must agree). Usage::

    python benchmarks/bench_interp.py [--points 2000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import xarray as xr
from _common import cpu_model, emit, median_time

from forecast.met.interp import bilinear_to_points


def make_grid(seed: int = 0) -> xr.DataArray:
    """169 hourly valid times × 0.25° over 80–95°E × 40–48°N: a smooth field plus noise [m]."""
    rng = np.random.default_rng(seed)
    time_ = pd.date_range("2020-01-01", periods=169, freq="h")
    lat = np.round(np.arange(40.0, 48.0 + 1e-9, 0.25), 6)
    lon = np.round(np.arange(80.0, 95.0 + 1e-9, 0.25), 6)
    hours = np.arange(time_.size)[:, None, None]
    base = 400 + 300 * np.sin(2 * np.pi * hours / 24) * np.cos(np.radians(lat))[None, :, None]
    values = base + 20 * np.sin(np.radians(4 * lon))[None, None, :]
    values = values + rng.normal(0, 10, (time_.size, lat.size, lon.size))
    return xr.DataArray(
        values.astype(np.float32),
        dims=("time", "lat", "lon"),
        coords={"time": time_, "lat": lat, "lon": lon},
        name="blh",
        attrs={"units": "m"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    da = make_grid(args.seed)
    rng = np.random.default_rng(args.seed + 1)
    lon = rng.uniform(80.0, 95.0, args.points)
    lat = rng.uniform(40.0, 48.0, args.points)
    xlon = xr.DataArray(lon, dims="site")
    xlat = xr.DataArray(lat, dims="site")

    ours = bilinear_to_points(da, lon, lat)
    ref = da.interp(lat=xlat, lon=xlon, method="linear").transpose("time", "site")
    max_abs_diff = float(np.nanmax(np.abs(ours.values - ref.values)))

    ours_s = median_time(args.repeat, lambda: bilinear_to_points(da, lon, lat).values)
    xarray_s = median_time(
        args.repeat, lambda: da.interp(lat=xlat, lon=xlon, method="linear").values
    )
    report = {
        "grid": f"{da.sizes['time']}x{da.sizes['lat']}x{da.sizes['lon']}",
        "points": args.points,
        "ours_s": round(ours_s, 5),
        "xarray_s": round(xarray_s, 5),
        "ratio": round(ours_s / xarray_s, 3),
        "max_abs_diff": max_abs_diff,
        "cpu": cpu_model(),
        "repeat": args.repeat,
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
