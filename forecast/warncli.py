"""``wcs-forecast aqi`` and ``wcs-forecast warn``: the AQI of concentrations, the warning level
of a daily AQI sequence.

Wiring into :mod:`forecast.cli`::

    from forecast.warncli import add_aqi_warn_parsers
    add_aqi_warn_parsers(sub, [common])     # sub: top-level subparsers; common: --config

Both commands are pure look-ups: they need no data files. Defaults for the AQI standard and the
warning rule set come from the configuration when one is found (``--config``, ``$WCS_CONFIG``
or ``./config.yaml``), else from the built-ins (HJ633-2026, rule set 2024).

The command functions return an exit code and never call ``sys.exit``: 0 on success, 2 for
bad input (the message names the value and what was expected).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from forecast.config import Config

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
DEFAULT_CONFIG: Final = "config.yaml"

#: AQI category colours by hex code → English name.
COLOUR_NAMES: Final = {
    "#00E400": "green",
    "#FFFF00": "yellow",
    "#FF7E00": "orange",
    "#FF0000": "red",
    "#99004C": "purple",
    "#7E0023": "maroon",
}
STANDARD_CHOICES: Final = {
    "2012": "HJ633-2012",
    "2026": "HJ633-2026",
    "HJ633-2012": "HJ633-2012",
    "HJ633-2026": "HJ633-2026",
}
LEVEL_NAMES_ZH: Final = {
    "none": "无预警",
    "blue": "蓝色预警",
    "yellow": "黄色预警",
    "orange": "橙色预警",
    "red": "红色预警",
}


class UsageError(ValueError):
    """A command-line value is unusable (exit code 2)."""


# --------------------------------------------------------------------------------------------
# parsing helpers (each error names the value and what was expected)


def _concentration(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(
            f"{option}: {text!r} is not a number; expected a 24-hour mean concentration "
            "in µg/m³ (≥ 0), e.g. 160"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(
            f"{option}: {text!r} is not a valid concentration; expected a finite number ≥ 0 (µg/m³)"
        )
    return value


def parse_aqi_list(text: str) -> list[float]:
    """``"210,230,180"`` → [210.0, 230.0, 180.0]; each value a daily AQI within 0–500."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(t == "" for t in items):
        raise UsageError(
            f"--aqi: {text!r} has an empty value; expected comma-separated daily AQI values "
            "0–500, e.g. 210,230,180"
        )
    values = []
    for i, item in enumerate(items, 1):
        try:
            value = float(item)
        except ValueError:
            raise UsageError(
                f"--aqi: value {i} {item!r} is not a number; expected comma-separated daily "
                "AQI values 0–500, e.g. 210,230,180"
            ) from None
        if not math.isfinite(value) or not 0 <= value <= 500:
            raise UsageError(
                f"--aqi: value {i} {item!r} is not a valid AQI; expected a number within 0–500"
            )
        values.append(value)
    return values


def parse_primary_list(text: str, n_days: int) -> list[str | None]:
    """``"PM2.5,PM10,"`` → canonical names per day (empty = no primary pollutant)."""
    from forecast.warnings.rules import normalize_pollutant

    items = [t.strip() for t in text.split(",")]
    if len(items) != n_days:
        raise UsageError(
            f"--primary: {len(items)} value(s) {text!r} for {n_days} day(s) of --aqi; expected "
            "one primary pollutant per day (PM2.5, PM10, O3, SO2, NO2, CO or empty)"
        )
    out = []
    for i, item in enumerate(items, 1):
        try:
            out.append(normalize_pollutant(item))
        except ValueError as exc:
            raise UsageError(f"--primary: value {i}: {exc}") from None
    return out


def _date(option: str, text: str) -> Any:
    import pandas as pd

    try:
        value = pd.Timestamp(text)
    except (TypeError, ValueError):
        value = pd.NaT
    if value is pd.NaT:
        raise UsageError(f"{option}: {text!r} is not a date; expected YYYY-MM-DD (Beijing time)")
    return value


def _config(args: argparse.Namespace) -> Config | None:
    """The configuration if one is named or ./config.yaml exists, else None."""
    from forecast.config import load_config

    named = getattr(args, "config", None) or os.environ.get("WCS_CONFIG")
    if named:
        return load_config(named)
    if Path(DEFAULT_CONFIG).is_file():
        return load_config(DEFAULT_CONFIG)
    return None


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


# --------------------------------------------------------------------------------------------
# wcs-forecast aqi


def aqi_report(pm25: float, pm10: float | None, standard: str) -> dict[str, Any]:
    """The AQI of 24-hour mean concentrations as a JSON-ready mapping."""
    from forecast.aqi import aqi, beyond_range, category, iaqi
    from forecast.warnings.rules import POLLUTANTS

    conc = {"pm25": pm25} | ({"pm10": pm10} if pm10 is not None else {})
    sub = {p: int(iaqi(c, p, standard)) for p, c in conc.items()}  # type: ignore[arg-type]
    value = int(aqi(pm25, pm10, standard))  # type: ignore[arg-type]
    cat = category(value)
    primary = None
    if value > 50:
        tied = [p for p, v in sub.items() if v == value]
        primary = "/".join(POLLUTANTS[p] for p in tied)
    return {
        "aqi": value,
        "iaqi": sub,
        "concentration": conc,
        "category": {"level": cat.level, "name_zh": cat.name_zh, "name_en": cat.name_en},
        "colour": {"hex": cat.colour, "name": COLOUR_NAMES.get(cat.colour, cat.colour)},
        "primary_pollutant": primary,
        "standard": standard,
        "beyond_range": {
            p: bool(beyond_range(c, p, standard))  # type: ignore[arg-type]
            for p, c in conc.items()
        },
    }


def format_aqi_report(report: dict[str, Any]) -> str:
    from forecast.warnings.rules import POLLUTANTS

    cat = report["category"]
    lines = [
        f"AQI {report['aqi']} ({report['standard']}): level {cat['level']} {cat['name_zh']} "
        f"{cat['name_en']}, colour {report['colour']['name']} {report['colour']['hex']}",
        f"primary pollutant: {report['primary_pollutant'] or 'none (AQI ≤ 50)'}",
    ]
    for p, value in report["iaqi"].items():
        capped = " (beyond range: capped at 500)" if report["beyond_range"][p] else ""
        lines.append(
            f"IAQI {POLLUTANTS[p]}: {value} at {report['concentration'][p]:g} µg/m³{capped}"
        )
    return "\n".join(lines)


def cmd_aqi(args: argparse.Namespace) -> int:
    """``wcs-forecast aqi --pm25 X [--pm10 Y] [--standard 2012|2026] [--json]``."""
    try:
        pm25 = _concentration("--pm25", args.pm25)
        pm10 = None if args.pm10 is None else _concentration("--pm10", args.pm10)
        if args.standard is not None:
            standard = STANDARD_CHOICES[args.standard]
        else:
            config = _config(args)
            standard = config.aqi.standard if config is not None else "HJ633-2026"
    except (UsageError, ValueError) as exc:
        return _fail(str(exc))
    report = aqi_report(pm25, pm10, standard)
    print(
        json.dumps(report, ensure_ascii=False, indent=2) if args.json else format_aqi_report(report)
    )
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# wcs-forecast warn


def _rule_set(args: argparse.Namespace, config: Config | None) -> Any:
    from forecast.warnings.rules import get_rule_set, load_rule_sets

    blue = True if args.blue else None
    orange_300 = False if args.no_orange_300 else None
    if args.rules_file:
        sets = load_rule_sets(args.rules_file)
        name = args.rules or (next(iter(sets)) if len(sets) == 1 else None)
        if name not in sets:
            raise UsageError(
                f"--rules: {name!r} is not in {args.rules_file}; valid: {', '.join(sets)}"
            )
        options: dict[str, bool | None] = {}
        if blue is not None:
            options["blue_level"] = blue
        if orange_300 is not None:
            options["orange_requires_300"] = orange_300
        return sets[name].with_options(**options)
    name = args.rules or (config.warnings.rule_set if config is not None else "2024")
    if blue is None and config is not None and config.warnings.blue_level:
        blue = True
    return get_rule_set(name, blue_level=blue, orange_requires_300=orange_300)


def format_decision(decision: Any, rule_set: Any) -> str:
    level = decision.level
    head = f"{level.upper()} {LEVEL_NAMES_ZH[level]}"
    if decision.advice:
        head += f" — {decision.advice} health advice"
    options = ", ".join(f"{k}={'on' if v else 'off'}" for k, v in rule_set.options.items())
    lines = [
        f"rule set {rule_set.name}" + (f" ({options})" if options else "") + f": {head}",
        f"rule:   {decision.rule}",
        f"reason: {decision.reason}",
    ]
    if decision.episode_start is not None:
        met = "met" if decision.meets_lead_time else "NOT met"
        inside = [
            d.label
            for d in decision.days
            if d.start >= decision.episode_start and d.end <= decision.episode_end
        ]
        lines.append(
            f"episode: {inside[0]} – {inside[-1]} (Beijing time); lead {decision.lead_hours:g} h "
            f"from {decision.issued_at:%Y-%m-%d %H:%M}, ≥ {decision.min_lead_hours:g} h {met}"
        )
    lines.append("days:")
    fired = set(decision.triggering_days)
    for day in decision.days:
        prim = {"pm25": "PM2.5", "pm10": "PM10", "o3": "O3"}.get(day.primary or "", day.primary)
        mark = "  ← rule" if day.index in fired else ""
        if math.isnan(day.colour_aqi):
            colour = " (not counted for a colour)"
        elif day.colour_aqi != day.aqi:
            colour = f" (counts as {day.colour_aqi:g} for a colour)"
        else:
            colour = ""
        lines.append(f"  {day.label}  AQI {day.aqi:>3g}  {prim or '':<5}{colour}{mark}")
    return "\n".join(lines)


def cmd_warn(args: argparse.Namespace) -> int:
    """``wcs-forecast warn --aqi 210,230,180 [--rules 2018|2024] [--blue] [--primary …]``."""
    import pandas as pd

    from forecast.errors import ConfigError
    from forecast.timeutil import now_utc, utc_to_beijing
    from forecast.warnings.evaluate import evaluate_daily

    try:
        values = parse_aqi_list(args.aqi)
        primary = None if args.primary is None else parse_primary_list(args.primary, len(values))
        start = (
            _date("--start", args.start)
            if args.start
            else utc_to_beijing(pd.DatetimeIndex([now_utc()]))[0].normalize()
        )
        issued = _date("--issued", args.issued) if args.issued else None
        if args.merge_gap < 0:
            raise UsageError(f"--merge-gap: {args.merge_gap} days; expected a whole number ≥ 0")
        config = _config(args)
        rule_set = _rule_set(args, config)
        lead = (
            args.min_lead_hours
            if args.min_lead_hours is not None
            else (config.warnings.min_lead_hours if config is not None else 24)
        )
        if lead < 0:
            raise UsageError(f"--min-lead-hours: {lead}; expected a number of hours ≥ 0")
        decision = evaluate_daily(
            values,
            start,
            rules=rule_set,
            primary=primary,
            issued_at=issued,
            merge_gap_days=args.merge_gap,
            min_lead_hours=float(lead),
        )
    except (UsageError, ConfigError, ValueError) as exc:
        return _fail(str(exc))
    if args.json:
        payload = decision.to_dict() | {"options": dict(rule_set.options)}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(format_decision(decision, rule_set))
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# parsers


def add_aqi_warn_parsers(
    subparsers: Any, parents: Sequence[argparse.ArgumentParser] = ()
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """Add ``aqi`` and ``warn`` to ``subparsers``; ``parents`` supply ``--config``."""
    aqi_parser = subparsers.add_parser(
        "aqi",
        parents=list(parents),
        help="AQI, IAQI, category and primary pollutant of 24-hour mean concentrations",
        description="Air quality index by HJ 633 from 24-hour mean PM2.5 (and PM10) in µg/m³. "
        "Above the top breakpoint the IAQI is capped at 500 and reported as beyond range.",
    )
    aqi_parser.add_argument("--pm25", required=True, metavar="X", help="PM2.5 [µg/m³]")
    aqi_parser.add_argument("--pm10", metavar="Y", help="PM10 [µg/m³]")
    aqi_parser.add_argument(
        "--standard",
        choices=tuple(STANDARD_CHOICES),
        help="HJ 633 edition (default: the configured one, else 2026)",
    )
    aqi_parser.add_argument("--json", action="store_true", help="print JSON")
    aqi_parser.set_defaults(func=cmd_aqi)

    warn = subparsers.add_parser(
        "warn",
        parents=list(parents),
        help="which heavy-pollution warning level a daily AQI forecast triggers, and why",
        description="Evaluate a daily AQI sequence (Beijing days from --start) against a "
        "warning rule set (docs/domain.md §2).",
    )
    warn.add_argument(
        "--aqi", required=True, metavar="A1,A2,…", help="daily AQI per day, comma-separated"
    )
    warn.add_argument(
        "--rules",
        metavar="NAME",
        help="rule set: 2018 or 2024 (default: configured, else 2024), or a name in --rules-file",
    )
    warn.add_argument("--rules-file", metavar="YAML", help="a local plan's rule set(s) as YAML")
    warn.add_argument("--blue", action="store_true", help="enable the blue level (2018 only)")
    warn.add_argument(
        "--no-orange-300",
        action="store_true",
        help="drop the 2018 orange condition '> 300 on at least one day'",
    )
    warn.add_argument(
        "--primary",
        metavar="P1,P2,…",
        help="primary pollutant per day (PM2.5, PM10, O3 … or empty)",
    )
    warn.add_argument("--start", metavar="DATE", help="date of the first value (default today)")
    warn.add_argument(
        "--issued", metavar="DATETIME", help="issue time, Beijing (default 00:00 on --start)"
    )
    warn.add_argument(
        "--merge-gap",
        type=int,
        default=1,
        metavar="DAYS",
        help="runs separated by at most this many days are one episode (default 1)",
    )
    warn.add_argument(
        "--min-lead-hours", type=float, metavar="H", help="lead time to report against (24)"
    )
    warn.add_argument("--json", action="store_true", help="print JSON")
    warn.set_defaults(func=cmd_warn)
    return aqi_parser, warn
