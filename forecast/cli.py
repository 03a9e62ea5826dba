"""``wcs-forecast``: a thin command line over the engine's pure functions.

Exit codes (stable, for schedulers and scripts):

====  ==========================================================
0     success
1     degraded success (reserved for forecast cycles)
2     bad command line or configuration
3     unusable input (the message names the file, field and expectation)
4     internal error (a bug: please report it with ``--debug`` output)
====  ==========================================================
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forecast.errors import ConfigError, WcsError

if TYPE_CHECKING:
    from forecast.config import Config

EXIT_OK, EXIT_DEGRADED, EXIT_CONFIG, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4
DEFAULT_CONFIG = "config.yaml"


def _config_path(value: str | None) -> Path:
    return Path(value or os.environ.get("WCS_CONFIG") or DEFAULT_CONFIG)


def config_from_args(args: argparse.Namespace) -> Config:
    from forecast.config import load_config

    return load_config(_config_path(getattr(args, "config", None)))


# --------------------------------------------------------------------------------------------
# commands


def cmd_config_check(args: argparse.Namespace) -> int:
    from forecast.config import load_config, summarize

    config = load_config(_config_path(args.config_file or args.config))
    print(summarize(config))
    print("configuration OK")
    return EXIT_OK


def cmd_obs_import(args: argparse.Namespace) -> int:
    from forecast.obs.dataset import import_observations, summarize_import, write_netcdf_atomic
    from forecast.obs.qc import format_qc_report

    config = config_from_args(args)
    result = import_observations(args.paths, args.format, config, city=args.city)
    print(summarize_import(result))
    print()
    print(format_qc_report(result.report, result.dataset))
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        result.report.to_csv(args.report)
    out = write_netcdf_atomic(result.dataset, args.out)
    print(f"\nwrote {out}")
    return EXIT_OK


def cmd_obs_cities(args: argparse.Namespace) -> int:
    from forecast.obs.cities import city_values, format_city_table
    from forecast.obs.dataset import read_netcdf, write_netcdf_atomic

    config = config_from_args(args)
    stations = read_netcdf(args.obs)
    cities = city_values(stations, config, args.method)
    print(format_city_table(cities))
    out = write_netcdf_atomic(cities, args.out)
    print(f"\nwrote {out}")
    return EXIT_OK


def cmd_met_import(args: argparse.Namespace) -> int:
    from forecast.met.pipeline import import_met
    from forecast.obs.dataset import write_netcdf_atomic

    config = config_from_args(args)
    result = import_met(args.paths, config, kind=args.sites)
    print(result.summary())
    out = write_netcdf_atomic(result.dataset, args.out)
    print(f"\nwrote {out}")
    return EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from forecast.merge import merge
    from forecast.obs.dataset import read_netcdf, write_netcdf_atomic

    obs = read_netcdf(args.obs)
    met = read_netcdf(args.met)
    merged = merge(obs, met, prefix=args.prefix, broadcast_sites=args.broadcast)
    print(
        f"merged {len(met.data_vars)} meteorological variable(s) into "
        f"{merged.sizes['site']} sites × {merged.sizes['time']} steps"
    )
    out = write_netcdf_atomic(merged, args.out)
    print(f"wrote {out}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    from forecast.obs.readers import FORMATS

    parser = argparse.ArgumentParser(
        prog="wcs-forecast",
        description="Heavy-pollution early warning for Urumqi–Changji–Shihezi–Wujiaqu (乌昌石).",
        epilog="Exit codes: 0 ok, 1 degraded, 2 bad usage/config, 3 unusable input, 4 bug.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="CONFIG",
        help=f"configuration file (default: $WCS_CONFIG or ./{DEFAULT_CONFIG})",
    )

    config = sub.add_parser("config", help="check the configuration")
    config_sub = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", parents=[common], help="validate and summarise")
    check.add_argument("config_file", nargs="?", metavar="CONFIG")
    check.set_defaults(func=cmd_config_check)

    obs = sub.add_parser("obs", help="station observations")
    obs_sub = obs.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = obs_sub.add_parser(
        "import",
        parents=[common],
        help="read station or city files, quality-control them and write a netCDF dataset",
    )
    imp.add_argument("paths", nargs="+", metavar="PATH", help="files or directories of CSV files")
    imp.add_argument("--format", required=True, choices=FORMATS)
    imp.add_argument("--out", required=True, metavar="OBS.nc")
    imp.add_argument("--city", help="city of a single-city table (config id or Chinese name)")
    imp.add_argument("--report", metavar="QC.csv", help="also write the QC report as CSV")
    imp.set_defaults(func=cmd_obs_import)

    cities = obs_sub.add_parser(
        "cities", parents=[common], help="city values from station observations (national method)"
    )
    cities.add_argument("obs", metavar="OBS.nc")
    cities.add_argument("--out", required=True, metavar="CITIES.nc")
    cities.add_argument("--method", choices=("hourly", "daily", "rolling-24h"), default="daily")
    cities.set_defaults(func=cmd_obs_cities)

    met = sub.add_parser("met", help="meteorological grids")
    met_sub = met.add_subparsers(dest="action", required=True, metavar="ACTION")
    met_imp = met_sub.add_parser(
        "import",
        parents=[common],
        help="read, validate and interpolate grids (netCDF, GRIB, WRF) to the configured sites",
    )
    met_imp.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="grid files, or a directory of one file per time step",
    )
    met_imp.add_argument("--out", required=True, metavar="MET.nc")
    met_imp.add_argument(
        "--sites",
        choices=("station", "city"),
        default="station",
        help="interpolate to the stations (default) or to city centres",
    )
    met_imp.set_defaults(func=cmd_met_import)

    mrg = sub.add_parser(
        "merge",
        parents=[common],
        help="merge site meteorology into observations on one UTC time axis",
    )
    mrg.add_argument("--obs", required=True, metavar="OBS.nc")
    mrg.add_argument("--met", required=True, metavar="MET.nc")
    mrg.add_argument("--out", required=True, metavar="MERGED.nc")
    mrg.add_argument("--prefix", default="", help="prefix for the meteorological variables")
    mrg.add_argument(
        "--broadcast",
        action="store_true",
        help="the meteorology is one point station standing for every site",
    )
    mrg.set_defaults(func=cmd_merge)

    from forecast.bulletincli import add_bulletin_parser
    from forecast.schedulecli import add_schedule_parser
    from forecast.synth.cli import add_synth_parser
    from forecast.warncli import add_aqi_warn_parsers

    add_synth_parser(sub, [common])
    add_aqi_warn_parsers(sub, [common])
    add_bulletin_parser(sub, [common])
    add_schedule_parser(sub, [common])
    from models.cli import add_model_parsers

    add_model_parsers(sub, [common])
    from forecast.cycle import add_cycle_parsers

    add_cycle_parsers(sub, [common])
    from forecast.hindcast import add_hindcast_parser

    add_hindcast_parser(sub, [common])
    from forecast.verify import add_verify_parser

    add_verify_parser(sub, [common])

    return parser


def dispatch(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; engine errors become a message and the documented exit code."""
    try:
        return func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (WcsError, ValueError) as exc:
        # InputError and the engine's checks on data it was given (ValueError, documented in
        # each function) are unusable input.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(
            f"internal error: {type(exc).__name__}: {exc}\n(re-run with --debug for the "
            "traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return dispatch(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
