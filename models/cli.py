"""``wcs-forecast train`` and ``wcs-forecast backtest``: thin commands over models.*."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from typing import Any


def format_backtest(result: dict[str, Any]) -> str:
    lines = [f"back-test {result['from']} – {result['to']} ({result['resolution']} data)"]
    if result.get("perfect_prog"):
        lines.append(f"NOTE: {result['note']}")
    header = (
        f"{'city':<9}{'lead':>5}{'n':>5}  {'RMSE model/pers/clim':>24}  "
        f"{'CSI150 model/pers/clim':>24}  {'POD150':>6} {'FAR150':>6}"
    )
    lines += [header, "-" * len(header)]

    def f(v: Any) -> str:
        return "   —" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:6.1f}"

    def c(v: Any) -> str:
        return "   —" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:6.2f}"

    for city, block in result["cities"].items():
        for lead, s in block["leads"].items():
            m, p, cl = s["model"], s["persistence"], s["climatology"]
            lines.append(
                f"{city:<9}{lead:>5}{m['n']:>5}  {f(m['rmse'])}/{f(p['rmse'])}/{f(cl['rmse'])}  "
                f"  {c(m['csi_150'])}/{c(p['csi_150'])}/{c(cl['csi_150'])}  "
                f"{c(m['pod_150'])} {c(m['far_150'])}"
            )
    return "\n".join(lines)


def cmd_backtest(args: argparse.Namespace) -> int:
    from forecast.cli import config_from_args
    from forecast.io import strict_json
    from forecast.progress import Progress
    from models.backtest import run_backtest

    config = config_from_args(args)  # --config, else $WCS_CONFIG, else ./config.yaml
    # Progress on standard error (a bar on a terminal, a line per step otherwise); none with
    # --json.
    with Progress(label="backtest", enabled=not args.json) as progress:
        result = run_backtest(config, args.date_from, args.date_to, progress=progress)
    if args.json:
        print(strict_json(result, digits=4), end="")
    else:
        print(format_backtest(result))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from forecast.cli import config_from_args
    from forecast.progress import Progress
    from models.training import train_and_register

    config = config_from_args(args)  # --config, else $WCS_CONFIG, else ./config.yaml
    with Progress(label="train") as progress:
        for line in train_and_register(config, city=args.city, progress=progress):
            progress.clear()  # the report line goes to stdout, not into the bar
            print(line, flush=True)
    return 0


def add_model_parsers(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    train = subparsers.add_parser(
        "train", parents=list(parents), help="train the per-city models and register a new version"
    )
    train.add_argument("--city", help="one city id (default: every city in the data)")
    train.set_defaults(func=cmd_train)
    back = subparsers.add_parser(
        "backtest",
        parents=list(parents),
        help="train before --from, forecast every issue in [--from, --to], score vs baselines",
    )
    back.add_argument("--from", dest="date_from", required=True, metavar="DATE")
    back.add_argument("--to", dest="date_to", required=True, metavar="DATE")
    back.add_argument("--json", action="store_true", help="print the scores as JSON")
    back.set_defaults(func=cmd_backtest)
