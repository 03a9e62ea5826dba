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

Scheduled verification (``forecast.scheduler.TASKS["verify"]``, the ``verify-daily`` job of
``config.yaml``): :func:`scheduled_verify` scores the archive (``bulletins_dir/archive``) against
the complete Beijing days before the job's issue time, read from the same hourly station files
as the forecast cycle (:func:`forecast.cycle.observation_files`; else the training
observations), and writes ``<archive>/verification.json`` atomically. An empty archive is
"nothing to verify" (status 0, nothing written); bulletins without any observed day to score
them against are status 3 and the previous ``verification.json`` is kept.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.aqi import aqi
from forecast.config import Config
from forecast.io import write_json_atomic

HEAVY_AQI = 200
EXIT_OK, EXIT_NO_INPUT = 0, 3

log = logging.getLogger("forecast.verify")


def observed_daily_aqi(config: Config, obs_path: Path | None) -> pd.DataFrame:
    """Observed daily AQI (PM2.5) per Beijing date (index) and city (columns)."""
    from forecast.obs.dataset import read_netcdf
    from models.backtest import observed_daily
    from models.data import load_training_dataset
    from models.forecaster import setup_for

    if obs_path is not None:
        return _daily_aqi_of_dataset(config, read_netcdf(obs_path))
    ds = load_training_dataset(config)
    daily = observed_daily(ds, setup_for(ds, config))
    return _aqi_frame(config, daily)


def _daily_aqi_of_dataset(config: Config, ds: xr.Dataset) -> pd.DataFrame:
    """Daily AQI per Beijing date and city of a station or city (site, time) dataset."""
    from forecast.obs.cities import city_values
    from forecast.timeutil import utc_to_beijing

    if ds["kind"].values[0] == "station":
        ds = city_values(ds, config, "daily")
    daily = ds["pm25"].transpose("time", "site").to_pandas()
    daily.index = utc_to_beijing(daily.index).floor("D")
    return _aqi_frame(config, daily)


def _aqi_frame(config: Config, daily: pd.DataFrame) -> pd.DataFrame:
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
    from forecast.cli import config_from_args

    config = config_from_args(args)
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


# --------------------------------------------------------------------------------------------
# scheduler task (forecast.scheduler.TASKS["verify"]): (config, *, issue_time, alerts_enabled)


def _observed_days(
    config: Config, first: pd.Timestamp, last: pd.Timestamp, now_utc: pd.Timestamp
) -> tuple[pd.DataFrame, str] | None:
    """Observed daily AQI of the Beijing days ``first`` … ``last`` and where it came from.

    The hourly station files the forecast cycle reads (labelled 00:00 … 23:00 of those days),
    else the training observations of the configuration; None when there are neither.
    """
    from forecast.cycle import observation_files
    from forecast.obs.dataset import import_observations

    files = observation_files(config, first - pd.Timedelta(hours=1), last + pd.Timedelta(hours=23))
    if files:
        result = import_observations(files, "cnemc-hourly", config, now=now_utc)
        observed = _daily_aqi_of_dataset(config, result.dataset)
        source = f"{len(files)} hourly station files ({files[0].parent})"
    elif config.training.observations:
        observed = observed_daily_aqi(config, None)
        source = f"the training observations of {config.source}"
    else:
        return None
    observed = observed[(observed.index >= first) & (observed.index <= last)]
    return observed, source


def scheduled_verify(config: Config, *, issue_time: datetime, alerts_enabled: bool) -> int:
    """Daily verification at ``issue_time`` (aware, Beijing time): the scheduler's task.

    Scores every archived bulletin (``bulletins_dir/archive``, latest revision of each) against
    the observed daily AQI of the complete Beijing days before ``issue_time`` and replaces
    ``<archive>/verification.json`` atomically. ``alerts_enabled`` does not change what is
    verified. Returns 0 when the scores were written, and also when there is nothing to verify
    yet (no archived bulletin, or none that covers a complete day: logged, nothing written);
    3 when the bulletins' days have no observed value (the station feed is missing or late:
    logged with the days and sources, the previous ``verification.json`` is kept).
    """
    from forecast.bulletin.archive import entries
    from forecast.timeutil import as_beijing, beijing_to_utc

    archive_root = config.data.bulletins_dir / "archive"
    found = entries(archive_root)
    if not found:
        log.info("verify: nothing to verify: no archived bulletin under %s", archive_root)
        return EXIT_OK
    issue_bj = as_beijing(issue_time).tz_localize(None)
    first = min(pd.Timestamp(e.issue_time).tz_localize(None) for e in found).normalize()
    last = issue_bj.normalize() - pd.Timedelta(days=1)  # the last complete Beijing day
    if last < first:
        log.info(
            "verify: nothing to verify yet: the earliest archived bulletin (%s) covers no "
            "Beijing day completed before %s",
            min(found, key=lambda e: e.issue_time).path.name,
            f"{issue_bj:%Y-%m-%d %H:%M}",
        )
        return EXIT_OK
    days = f"{first:%Y-%m-%d} … {last:%Y-%m-%d}"
    now_utc = beijing_to_utc(pd.DatetimeIndex([issue_bj]))[0]
    got = _observed_days(config, first, last, now_utc)
    if got is None:
        log.warning(
            "verify: no observations for %s: no cnemc-hourly station files "
            "(training.observations, data.sources.observations of %s) and no "
            "training.observations; %s kept",
            days,
            config.source,
            archive_root / "verification.json",
        )
        return EXIT_NO_INPUT
    observed, source = got
    scores = verify(config, archive_root, observed)
    if not scores["cities"]:
        log.warning(
            "verify: none of the %d bulletin(s) under %s has a forecast day with an observed "
            "daily value in %s (%s); %s kept",
            scores["bulletins"],
            archive_root,
            days,
            source,
            archive_root / "verification.json",
        )
        return EXIT_NO_INPUT
    scores["observed_days"] = {"from": f"{first:%Y-%m-%d}", "to": f"{last:%Y-%m-%d}"}
    scores["observations"] = source
    out = write_json_atomic(archive_root / "verification.json", scores)
    n = sum(len(block["leads"]) for block in scores["cities"].values())
    log.info(
        "verify: %d bulletin(s), %d cities, %d city-lead scores against %s (%s) → %s",
        scores["bulletins"],
        len(scores["cities"]),
        n,
        days,
        source,
        out,
    )
    return EXIT_OK
