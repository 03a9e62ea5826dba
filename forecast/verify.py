"""Verification of past bulletins against what was observed: running scores per city.

``wcs-forecast verify --config C [--obs OBS.nc] [--archive DIR]`` reads every archived bulletin
(the latest revision of each id), takes each city's forecast daily AQI for each Beijing day it
covers, and compares with the observed daily AQI of that day (PM2.5 24-hour means by the
national method, the AQI standard of the configuration). Scores per city and lead day (days
after the issue day; lead 0 is the issue day itself): CSI, POD and FAR of heavy days (AQI > 200
⇔ PM2.5 > 150 µg/m³), the AQI-category accuracy, and how often the warning level issued equals
the level the observed AQI of the following days triggers (the warning-level hit rate). The
scores are written to ``<archive>/verification.json`` (replaced atomically) and printed.

Observations: ``--obs`` (a station or city dataset written by ``obs import``), or else the
training observations of the configuration.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.aqi import aqi
from forecast.config import Config
from forecast.io import write_json_atomic

HEAVY_AQI = 200


def observed_daily_aqi(config: Config, obs_path: Path | None) -> pd.DataFrame:
    """Observed daily AQI (PM2.5) per Beijing date (index) and city (columns)."""
    from forecast.obs.cities import city_values
    from forecast.obs.dataset import read_netcdf
    from models.backtest import observed_daily
    from models.data import load_training_dataset
    from models.forecaster import setup_for

    if obs_path is not None:
        ds = read_netcdf(obs_path)
        if ds["kind"].values[0] == "station":
            ds = city_values(ds, config, "daily")
        daily = ds["pm25"].transpose("time", "site").to_pandas()
        from forecast.timeutil import utc_to_beijing

        daily.index = utc_to_beijing(daily.index).floor("D")
    else:
        ds = load_training_dataset(config)
        daily = observed_daily(ds, setup_for(ds, config))
    values = aqi(daily.to_numpy(), standard=config.aqi.standard)
    return pd.DataFrame(
        values,
        index=pd.DatetimeIndex(daily.index).normalize(),
        columns=[str(c) for c in daily.columns],
    )


def _latest_revisions(archive_root: Path) -> list[Path]:
    from forecast.bulletin.archive import entries

    latest: dict[str, Any] = {}
    for entry in entries(archive_root):
        latest[entry.id] = entry  # entries are sorted: the last revision wins
    return [e.path for e in sorted(latest.values(), key=lambda e: e.issue_time)]


def verify(config: Config, archive_root: Path, observed: pd.DataFrame) -> dict[str, Any]:
    """Running scores of every archived bulletin against ``observed`` daily AQI."""
    from forecast.bulletin.json_io import load_bulletin
    from forecast.warnings.evaluate import evaluate_daily
    from forecast.warnings.rules import rule_set_from_config
    from models.metrics import contingency, csi, far, pod, warning_level_hit_rate

    rules = rule_set_from_config(config)
    pairs: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    levels: dict[str, list[tuple[str, str]]] = defaultdict(list)
    paths = _latest_revisions(archive_root)
    horizon = config.model.horizon_days
    for path in paths:
        bulletin = load_bulletin(path)
        issue_day = pd.Timestamp(bulletin.issue_time).tz_localize(None).normalize()
        for city in bulletin.cities:
            if city.city_id not in observed.columns or not city.daily:
                continue
            truth = observed[city.city_id]
            for d in city.daily:
                day = pd.Timestamp(d.date)
                lead = int((day - issue_day) / pd.Timedelta(days=1))
                if 0 <= lead <= horizon and day in truth.index and np.isfinite(truth[day]):
                    pairs[(city.city_id, lead)].append((float(truth[day]), float(d.aqi)))
            coming = truth.reindex(
                pd.date_range(issue_day + pd.Timedelta(days=1), periods=horizon, freq="D")
            )
            if city.warning is not None and coming.notna().all():
                seen = evaluate_daily(list(coming.to_numpy()), coming.index[0], rules=rules)
                levels[city.city_id].append((seen.level, city.warning.level))
    cities: dict[str, Any] = {}
    for (cid, lead), values in sorted(pairs.items()):
        o = np.array([v[0] for v in values])
        f = np.array([v[1] for v in values])
        table = contingency(o, f, HEAVY_AQI)
        categories = np.digitize(o, [50.5, 100.5, 150.5, 200.5, 300.5])
        forecast_categories = np.digitize(f, [50.5, 100.5, 150.5, 200.5, 300.5])
        cities.setdefault(cid, {"leads": {}})["leads"][str(lead)] = {
            "n": len(values),
            "csi_200": csi(table),
            "pod_200": pod(table),
            "far_200": far(table),
            "category_accuracy": float(np.mean(categories == forecast_categories)),
        }
    for cid, pairs_ in levels.items():
        seen_l, issued_l = [p[0] for p in pairs_], [p[1] for p in pairs_]
        cities.setdefault(cid, {"leads": {}})["warning_level_hit_rate"] = warning_level_hit_rate(
            seen_l, issued_l
        )
        cities[cid]["warning_days"] = len(pairs_)
    return {
        "bulletins": len(paths),
        "archive": str(archive_root),
        "aqi_standard": config.aqi.standard,
        "cities": cities,
    }


def _number(value: float) -> str:
    return "   —" if value != value else f"{value:4.2f}"  # noqa: PLR0124 - NaN check


def format_scores(scores: dict[str, Any]) -> str:
    lines = [
        f"verification of {scores['bulletins']} bulletin(s) in {scores['archive']}",
        f"{'city':<9}{'lead':>5}{'n':>5}  {'CSI200':>6} {'POD200':>6} {'FAR200':>6} "
        f"{'category':>8}",
    ]
    for cid, block in scores["cities"].items():
        for lead, s in block["leads"].items():
            lines.append(
                f"{cid:<9}{lead:>5}{s['n']:>5}  {_number(s['csi_200']):>6} "
                f"{_number(s['pod_200']):>6} {_number(s['far_200']):>6} "
                f"{_number(s['category_accuracy']):>8}"
            )
        if "warning_level_hit_rate" in block:
            lines.append(
                f"{'':<9}warning level hit rate "
                f"{_number(block['warning_level_hit_rate']).strip()} "
                f"({block['warning_days']} bulletins)"
            )
    return "\n".join(lines)


def cmd_verify(args: Any) -> int:
    from forecast.cli import _load

    config = _load(args)
    archive_root = Path(args.archive) if args.archive else config.data.bulletins_dir / "archive"
    observed = observed_daily_aqi(config, Path(args.obs) if args.obs else None)
    scores = verify(config, archive_root, observed)
    print(format_scores(scores))
    write_json_atomic(archive_root / "verification.json", scores)
    return 0


def add_verify_parser(subparsers: Any, parents: Any) -> None:
    p = subparsers.add_parser(
        "verify", parents=list(parents), help="score past bulletins against what was observed"
    )
    p.add_argument("--obs", metavar="OBS.nc", help="observations (default: the training data)")
    p.add_argument("--archive", metavar="DIR", help="bulletin archive (default: from config)")
    p.set_defaults(func=cmd_verify)
