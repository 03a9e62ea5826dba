"""Replay daily forecast cycles over a real past period and verify them.

``wcs-forecast hindcast --from DATE --to DATE [--city X] [--config C]``: with the embedded real
daily data of the four cities and the regional weather (``forecast/data/daily/``, or any daily
training configuration), the models are trained on everything at least the horizon before the
period (:func:`models.backtest.run_backtest`), then every day of the period is a cycle: the
forecast daily PM2.5 quantiles of the next 7 days → AQI → warning with lifecycle against the
previous day's bulletin → a JSON bulletin archived per day. The verification summary puts the
model and persistence side by side (RMSE, heavy-day CSI per lead day) and scores the issued
warning levels against the levels the observed AQI would have triggered.

The weather is observed (perfect-prog), and the bulletins say so in their input status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.config import Config, load_config
from forecast.timeutil import as_beijing


def embedded_config(models_dir: Path) -> Config:
    """The embedded real daily configuration, writing models under ``models_dir``."""
    resource = resources.files("forecast") / "data" / "daily" / "wuchangshi_daily.yaml"
    with resources.as_file(resource) as path:
        config = load_config(path)
    return config.model_copy(
        update={"data": config.data.model_copy(update={"models_dir": models_dir})}
    )


def _stepwise_hourly(dq: list[tuple[Any, float, float, float]]) -> Any:
    """A daily model has no hours: each hour of a day carries that day's mean quantiles."""
    from forecast.bulletin.model import HourlyForecast

    times, lo, mid, hi = [], [], [], []
    for day, q10, q50, q90 in dq:
        start = as_beijing(day)
        for h in range(24):
            times.append((start + pd.Timedelta(hours=h)).to_pydatetime())
            lo.append(q10)
            mid.append(q50)
            hi.append(q90)
    return HourlyForecast(tuple(times), tuple(lo), tuple(mid), tuple(hi))


def _bulletin(
    config: Config,
    issue: pd.Timestamp,
    rows: pd.DataFrame,
    previous: Any,
    cities: list[str],
    thresholds: dict[str, float],
) -> Any:
    from forecast.bulletin.cap import link_references
    from forecast.bulletin.model import Bulletin, CityForecast, InputStatus, RegionalWarning
    from forecast.bulletin.texts import auto_texts
    from forecast.cycle import city_warning, regional_warning
    from forecast.warnings.rules import rule_set_from_config

    rules = rule_set_from_config(config)
    prev_w = {} if previous is None else {c.city_id: c.warning for c in previous.cities}
    city_fcs, steps = [], {}
    for cid in cities:
        city = config.city(cid)
        mine = rows[rows["site"] == cid].sort_values("lead_day")
        if mine.empty or mine[["q10", "q50", "q90"]].isna().any().any():
            city_fcs.append(
                CityForecast(
                    cid,
                    city.name_zh,
                    city.name_en,
                    status="no_forecast",
                    reason="no observation on the issue day",
                )
            )
            continue
        dq = [
            (pd.Timestamp(r.target_day).date(), float(r.q10), float(r.q50), float(r.q90))
            for r in mine.itertuples()
        ]
        daily, step, warning = city_warning(
            config,
            rules,
            dq,
            issue.tz_localize(None),
            prev_w.get(cid),
            cid,
            heavy_prob_threshold=thresholds.get(cid, 0.5),
        )
        steps[cid] = step
        city_fcs.append(
            CityForecast(
                cid,
                city.name_zh,
                city.name_en,
                daily=tuple(daily),
                warning=warning,
                hourly=_stepwise_hourly(dq),
            )
        )
    regional = RegionalWarning(
        config.region.name_zh,
        config.region.name_en,
        tuple(cities),
        regional_warning(config, issue, steps, previous),
    )
    headline, description, advice = auto_texts(city_fcs, regional)
    bulletin = Bulletin(
        region=config.region.id,
        issue_time=issue.to_pydatetime(),
        # Daily data: the "cycle" is the last complete day (its end, in UTC).
        cycle=(issue.normalize() - timedelta(hours=0)).tz_convert("UTC").to_pydatetime(),
        cities=tuple(city_fcs),
        regional=regional,
        headline=headline,
        description=description,
        advice=advice,
        input_status=(
            InputStatus(
                "weather",
                "degraded",
                "hindcast: observed weather stands in for the forecast (perfect-prog)",
            ),
            InputStatus(
                "models",
                "degraded",
                "daily model: each hour carries its day's mean forecast",
            ),
        ),
        aqi_standard=config.aqi.standard,
        synthetic=False,
    )
    return link_references(bulletin, previous)


def observed_levels(config: Config, obs: pd.Series) -> dict[pd.Timestamp, str]:
    """The level a perfect forecast would have issued each day (observed AQI, next 7 days)."""
    from forecast.aqi import aqi
    from forecast.warnings.evaluate import evaluate_daily
    from forecast.warnings.rules import rule_set_from_config

    rules = rule_set_from_config(config)
    values = aqi(obs.to_numpy(), standard=config.aqi.standard)
    out: dict[pd.Timestamp, str] = {}
    days = list(obs.index)
    for i, day in enumerate(days[:-1]):
        window = values[i + 1 : i + 1 + config.model.horizon_days]
        if len(window) == 0 or np.isnan(window).any():
            continue
        out[day] = evaluate_daily(list(window), pd.Timestamp(days[i + 1]), rules=rules).level
    return out


def run_hindcast(
    config: Config,
    start: str,
    end: str,
    *,
    city: str | None = None,
    out_dir: Path,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Replay every day in [start, end]; returns the verification summary (JSON-ready)."""
    from forecast.bulletin.archive import archive
    from forecast.progress import counted
    from models.backtest import run_backtest
    from models.metrics import warning_level_hit_rate

    say = progress or (lambda _m: None)
    say("training before the period and forecasting every day (back-test)")
    result = run_backtest(config, start, end, progress=say, keep_forecasts=True)
    forecasts: pd.DataFrame = result.pop("forecasts")
    cities = [c.id for c in config.cities if c.id in set(forecasts["site"])]
    if city is not None:
        cities = [config.city(city).id]
    thresholds = {c: float(result["cities"][c]["heavy_prob_threshold"]) for c in cities}  # type: ignore[index]
    archive_root = out_dir / "archive"
    previous = None
    issued: dict[str, dict[pd.Timestamp, str]] = {c: {} for c in cities}
    actions: dict[str, dict[str, int]] = {c: {} for c in cities}
    days = forecasts.groupby("issue_day")
    with counted(progress, days.ngroups, "bulletins") as step:
        for day, rows in days:
            # Daily data: the cycle runs at 10:00 of the day after the last complete day.
            issue = as_beijing(pd.Timestamp(day) + pd.Timedelta(days=1, hours=10))
            bulletin = _bulletin(config, issue, rows, previous, cities, thresholds)
            archive(bulletin, archive_root)
            for c in bulletin.cities:
                if c.warning is not None:
                    issued[c.city_id][pd.Timestamp(day)] = c.warning.level
                    actions[c.city_id][c.warning.action] = (
                        actions[c.city_id].get(c.warning.action, 0) + 1
                    )
            previous = bulletin
            step(f"issued {issue:%Y-%m-%d %H:%M}")
    say(f"archived {len(forecasts['issue_day'].unique())} bulletins under {archive_root}")
    obs = (
        forecasts.drop_duplicates(["site", "target_day"])
        .pivot(index="target_day", columns="site", values="obs")
        .sort_index()
    )
    summary: dict[str, Any] = {
        "from": start,
        "to": end,
        "note": result["note"],
        "archive": str(archive_root),
        "cities": {},
    }
    for cid in cities:
        truth = observed_levels(config, obs[cid].dropna())
        days = sorted(set(truth) & set(issued[cid]))
        hit = warning_level_hit_rate([truth[d] for d in days], [issued[cid][d] for d in days])
        leads: dict[str, Any] = result["cities"][cid]["leads"]  # type: ignore[index]
        summary["cities"][cid] = {
            "actions": actions[cid],
            "warning_level_hit_rate": hit,
            "warning_days_observed": int(sum(truth[d] != "none" for d in days)),
            "leads": {
                lead: {
                    who: {k: leads[lead][who][k] for k in ("n", "rmse", "csi_150")}
                    for who in ("model", "persistence")
                }
                for lead in leads
            },
        }
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"hindcast {summary['from']} – {summary['to']}  ({summary['note']})",
        f"{'city':<9}{'lead':>5}  {'RMSE model':>10} {'persist.':>9}  "
        f"{'CSI150 model':>12} {'persist.':>9}",
    ]
    for cid, block in summary["cities"].items():
        for lead, s in block["leads"].items():
            m, p = s["model"], s["persistence"]
            lines.append(
                f"{cid:<9}{lead:>5}  {m['rmse']:>10.1f} {p['rmse']:>9.1f}  "
                f"{m['csi_150']:>12.2f} {p['csi_150']:>9.2f}"
            )
        hit = float(block["warning_level_hit_rate"])
        lines.append(
            f"{'':<9}warnings: {block['actions']}; level hit rate "
            f"{'—' if np.isnan(hit) else f'{hit:.2f}'} over "
            f"{block['warning_days_observed']} days with an observed warning"
        )
    lines.append(f"bulletins: {summary['archive']}")
    return "\n".join(lines)


def cmd_hindcast(args: Any) -> int:
    from forecast.io import write_json_atomic
    from forecast.progress import Progress

    out = Path(args.out)
    config = load_config(args.config) if args.config else embedded_config(out / "models")
    # Progress on standard error: a bar on a terminal, a line per step otherwise.
    with Progress(label="hindcast") as progress:
        summary = run_hindcast(
            config,
            args.date_from,
            args.date_to,
            city=args.city,
            out_dir=out,
            progress=progress,
        )
    print(format_summary(summary))
    write_json_atomic(out / "verification.json", summary)
    return 0


def add_hindcast_parser(subparsers: Any, parents: Any) -> None:
    p = subparsers.add_parser(
        "hindcast",
        parents=list(parents),
        help="replay daily cycles over a real past period (embedded daily data) and verify",
    )
    p.add_argument("--from", dest="date_from", required=True, metavar="DATE")
    p.add_argument("--to", dest="date_to", required=True, metavar="DATE")
    p.add_argument("--city", help="one city id")
    p.add_argument("--out", default="hindcast-output", metavar="DIR")
    p.set_defaults(func=cmd_hindcast)
