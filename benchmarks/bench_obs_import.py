"""Benchmark: importing a week of the network's hourly releases (``cnemc-hourly``).

The scheduled ingest job reads one national release per hour (~1,600 stations, of which the
region's 21 are kept). This times, in one run, on the same generated files:

- ``import_s``: ``import_observations`` (decode, parse, validate, assemble, QC);
- ``read_csv_floor_s``: the floor of just parsing the same files with ``pandas.read_csv``;
- ``write_s``: writing the resulting dataset with ``write_netcdf_atomic``;

and reports ``ratio_vs_read_csv`` (import / floor). Usage::

    python benchmarks/bench_obs_import.py [--files 168] [--stations 1600] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import cpu_model, emit, median_time

from forecast.config import load_config
from forecast.obs.dataset import import_observations, write_netcdf_atomic

ROOT = Path(__file__).resolve().parents[1]
HEADER = (
    "timepoint,stationcode,longitude,latitude,area,positionname,primarypollutant,aqi,pm10,"
    "pm10_24h,pm2_5,pm2_5_24h,o3,o3_24h,o3_8h,o3_8h_24h,no2,no2_24h,so2,so2_24h,co,co_24h"
)


def write_releases(folder: Path, n_files: int, n_stations: int, seed: int = 0) -> list[Path]:
    config = load_config(ROOT / "config.yaml")
    rng = np.random.default_rng(seed)
    ours = [(s.code, s.lon, s.lat, "乌鲁木齐市", s.name) for s in config.stations]
    others = [
        (f"{5000 + i}A", 100.0, 30.0, "其他市", f"站{i}")
        for i in range(max(0, n_stations - len(ours)))
    ]
    stations = ours + others
    start = pd.Timestamp("2022-01-01 00:00")
    paths = []
    for h in range(n_files):
        t = start + pd.Timedelta(hours=h)
        pm25 = rng.gamma(2.0, 40.0, len(stations)).round()
        lines = [HEADER]
        for (code, lon, lat, area, name), p in zip(stations, pm25, strict=True):
            lines.append(
                f"{t:%Y-%m-%dT%H:%M:%S},{code},{lon},{lat},{area},{name},,{int(p * 1.3)},"
                f"{int(p * 1.6)},{int(p * 1.5)},{int(p)},{int(p)},5,30,8,20,60,55,7,8,1.2,1.1"
            )
        path = folder / f"{t:%Y-%m-%dT%H}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=168)
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = load_config(ROOT / "config.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_releases(folder, args.files, args.stations)
        now = pd.Timestamp("2030-01-01")
        result = import_observations([folder], "cnemc-hourly", config, now=now)
        import_s = median_time(
            args.repeat, lambda: import_observations([folder], "cnemc-hourly", config, now=now)
        )
        floor_s = median_time(
            args.repeat, lambda: [pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths]
        )
        write_s = median_time(
            args.repeat, lambda: write_netcdf_atomic(result.dataset, folder / "o.nc")
        )
    report = {
        "files": args.files,
        "rows": args.files * args.stations,
        "import_s": round(import_s, 4),
        "read_csv_floor_s": round(floor_s, 4),
        "write_s": round(write_s, 4),
        "ratio_vs_read_csv": round(import_s / floor_s, 2),
        "cpu": cpu_model(),
        "repeat": args.repeat,
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
