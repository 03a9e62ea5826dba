"""``wcs-forecast synth``: write a synthetic Wu-Chang-Shi data set (see :mod:`forecast.synth`).

Wiring into :mod:`forecast.cli`::

    from forecast.synth.cli import add_synth_parser
    add_synth_parser(sub, [common])      # sub: the top-level subparsers; common: --config

The command's function is :func:`synth_main` (set as ``func``); it returns 0 on success.
Bad arguments raise :class:`~forecast.errors.ConfigError` (exit code 2 in the CLI).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from forecast.errors import ConfigError


def add_synth_parser(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """Add the ``synth`` command to ``subparsers``; ``parents`` supply ``--config``."""
    parser = subparsers.add_parser(
        "synth",
        parents=list(parents),
        help="write a synthetic, reproducible autumn–winter data set (grids, forecasts, "
        "station files, faults, manifest)",
        description="Write a realistic synthetic Wu-Chang-Shi autumn–winter: hourly analysis "
        "grids, forecast cycles, hourly station files with faults and a manifest. "
        "Same arguments, same bytes.",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (new or empty)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    parser.add_argument(
        "--stations",
        type=int,
        default=21,
        metavar="N",
        help="stations: 21 = the real network; more adds synthetic stations",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--years", type=int, metavar="Y", help="calendar years from --start")
    length.add_argument("--days", type=int, metavar="D", help="days from --start")
    parser.add_argument(
        "--start",
        default="2021-10-01",
        metavar="DATE",
        help="first day (default 2021-10-01; default length: until 31 March)",
    )
    parser.add_argument(
        "--grid-step",
        type=float,
        default=0.5,
        choices=(0.5, 0.25),
        help="grid spacing [degrees] (default 0.5)",
    )
    parser.add_argument(
        "--obs-format",
        default="cnemc-hourly",
        choices=("cnemc-hourly", "netcdf"),
        help="hourly CSV files (default) or monthly netCDF datasets",
    )
    parser.add_argument(
        "--cycle-day",
        action="append",
        metavar="DATE",
        dest="cycle_days",
        help="forecast cycle day (00 UTC); repeat; default: last 3 days and the "
        "day before the strongest episode's peak",
    )
    parser.add_argument(
        "--chunk-days",
        type=int,
        default=31,
        metavar="N",
        help="days simulated per chunk (memory; never changes the result)",
    )
    parser.add_argument("--no-faults", action="store_true", help="inject no faults")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a synthetic data set already in DIR"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress messages")
    parser.set_defaults(func=synth_main)
    return parser


def synth_main(args: argparse.Namespace) -> int:
    from forecast.synth.core import generate

    started = time.perf_counter()
    progress = (
        None
        if getattr(args, "quiet", False)
        else (lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
    )
    try:
        manifest = generate(
            args.out,
            seed=args.seed,
            n_stations=args.stations,
            start=args.start,
            days=args.days,
            years=args.years,
            grid_step=args.grid_step,
            obs_format=args.obs_format,
            cycle_days=args.cycle_days,
            chunk_days=args.chunk_days,
            config=getattr(args, "config", None),
            faults=not args.no_faults,
            overwrite=args.overwrite,
            progress=progress,
        )
    except (ValueError, FileExistsError) as exc:
        raise ConfigError(str(exc)) from None
    print(summarize(manifest, time.perf_counter() - started))
    return 0


def summarize(manifest: dict[str, Any], seconds: float | None = None) -> str:
    p, period = manifest["parameters"], manifest["period"]
    lines = [
        f"synthetic Wu-Chang-Shi data set: seed {manifest['seed']}, "
        f"{manifest['stations']['count']} stations, {p['days']} days "
        f"({period['obs_first_beijing'][:10]} – {period['obs_last_beijing'][:10]})",
        "cycles: " + ", ".join(f"{c['init_utc'][:10]} {c['status']}" for c in manifest["cycles"]),
    ]
    for city, s in manifest["summary"].items():
        lines.append(
            f"  {city:<8} mean {s['mean_pm25']} µg/m³, max daily {s['max_daily_pm25']}, "
            f"heavy days (>150) {s['heavy_days_gt150']}, >250 {s['severe_days_gt250']}, "
            f"episodes {len(manifest['episodes']['by_city'][city])}"
        )
    if seconds is not None:
        lines.append(f"done in {seconds:.1f} s")
    return "\n".join(lines)
