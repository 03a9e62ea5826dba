"""The feature catalogue: every predictor's name, unit, formula and the data it may see.

One :class:`Feature` per column of the feature matrix, in column order. The catalogue is the
single source of the column names used by :mod:`features.build` and by the models, and of the
human documentation in ``features/CATALOGUE.md`` (rendered by :func:`render_markdown`; a test
checks that the file is up to date: regenerate it with ``python -m features.catalogue``).

What a feature may see (``sees``):

- ``"≤ issue time"``: observations at or before the issue time only (all PM2.5 history);
- ``"valid time (forecast met)"``: meteorology at the valid time or in a window ending at it
  (for ``<var>_change``, at the issue time and at the valid time), i.e. forecast meteorology
  after the issue time (analyses before it); nothing later than the valid time;
- ``"valid time (calendar)"``: the calendar at the valid time (no data);
- ``"none (lead)"``: the lead time itself.

Times are UTC inside the engine; calendar features use Beijing local time (UTC+8) through
:mod:`forecast.timeutil`. :data:`CATALOGUE_VERSION` is a hash of the default hourly and daily
catalogues (names, units, formulas), so a model can record which definitions it was trained on.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from features.config import KIND_AMOUNT, KIND_FLAG, FeatureConfig, met_kind

Source = Literal["pm25_history", "met_valid_time", "met_window", "met_change", "calendar", "lead"]
Sees = Literal["≤ issue time", "valid time (forecast met)", "valid time (calendar)", "none (lead)"]

ISSUE: Sees = "≤ issue time"
FORECAST_MET: Sees = "valid time (forecast met)"
CALENDAR: Sees = "valid time (calendar)"
LEAD: Sees = "none (lead)"

CATALOGUE_PATH = Path(__file__).with_name("CATALOGUE.md")

#: Units of the meteorological variables (canonical units, :mod:`forecast.met.variables`).
MET_UNITS: dict[str, str] = {
    "blh": "m",
    "wind_speed": "m/s",
    "ventilation": "m2/s",
    "inversion": "K",
    "rh2m": "%",
    "tp": "mm",
    "stagnant": "1",
}
MET_WORDS: dict[str, str] = {
    "blh": "boundary-layer height",
    "wind_speed": "10 m wind speed",
    "ventilation": "ventilation index (BLH × 10 m wind speed)",
    "inversion": "inversion strength (T850 − T2m)",
    "rh2m": "2 m relative humidity",
    "tp": "precipitation in the step ending at the valid time",
    "stagnant": "stagnation flag (1 stagnant, 0 not)",
}


@dataclass(frozen=True)
class Feature:
    """One column of the feature matrix."""

    name: str
    unit: str
    formula: str
    family: str
    source: Source
    sees: Sees


def _h(hours: float) -> str:
    return f"{hours:g}h"


def pm25_history_features(config: FeatureConfig) -> list[Feature]:
    """The PM2.5 history family, in the kernel's column order."""
    c = config
    frac = f"{c.min_valid_fraction:.0%}"
    fam = "pm25_history"
    src: Source = "pm25_history"
    out: list[Feature] = []
    for h in c.lags_h:
        out.append(
            Feature(
                f"pm25_lag_{_h(h)}",
                "µg/m³",
                f"PM2.5 at t0 − {h:g} h (t0 = issue time; NaN if missing)",
                fam,
                src,
                ISSUE,
            )
        )
    words = {
        "mean": "mean",
        "std": "standard deviation (ddof = 1)",
        "min": "minimum",
        "max": "maximum",
    }
    for w in c.windows_h:
        for stat in ("mean", "std", "min", "max"):
            out.append(
                Feature(
                    f"pm25_{stat}_{_h(w)}",
                    "µg/m³",
                    f"{words[stat]} of the valid PM2.5 values in (t0 − {w:g} h, t0]; "
                    f"NaN if fewer than {frac} of the steps are valid",
                    fam,
                    src,
                    ISSUE,
                )
            )
    for hl in c.ewm_halflives_h:
        out.append(
            Feature(
                f"pm25_ewm_hl{_h(hl)}",
                "µg/m³",
                f"exponentially weighted mean of PM2.5 up to t0, half-life {hl:g} h, weights "
                "by time distance (pandas ewm adjust=True, ignore_na=False); NaN if the newest "
                f"valid value is older than {c.ewm_max_age_halflives:g} half-lives",
                fam,
                src,
                ISSUE,
            )
        )
    if c.diurnal_days:
        out.append(
            Feature(
                f"pm25_diurnal_anom_{c.diurnal_days}d",
                "µg/m³",
                f"PM2.5(t0) − mean of the valid PM2.5 at t0 − k·24 h, k = 1..{c.diurnal_days} "
                f"(same hour of day on the previous days; NaN if fewer than {frac} valid)",
                fam,
                src,
                ISSUE,
            )
        )
    if c.rise_h:
        out.append(
            Feature(
                f"pm25_rise_{_h(c.rise_h)}",
                "µg/m³/h",
                f"(PM2.5(t0) − PM2.5(t0 − {c.rise_h:g} h)) / {c.rise_h:g} h",
                fam,
                src,
                ISSUE,
            )
        )
    for thr in c.exceedance_thresholds:
        out.append(
            Feature(
                f"pm25_hours_since_gt{thr:g}",
                "h",
                f"t0 − the newest time ≤ t0 with PM2.5 > {thr:g} µg/m³ (0 if PM2.5(t0) > "
                f"{thr:g}; missing values are not exceedances); NaN if none within "
                f"{c.lookback_h:g} h",
                fam,
                src,
                ISSUE,
            )
        )
    if c.episode_threshold is not None:
        thr = c.episode_threshold
        out.append(
            Feature(
                f"pm25_episode_h_gt{thr:g}",
                "h",
                f"length of the run of consecutive steps ending at t0 with PM2.5 > {thr:g} "
                f"µg/m³ (a missing value ends it; 0 if PM2.5(t0) ≤ {thr:g}; NaN if PM2.5(t0) "
                f"is missing), capped at {c.lookback_h:g} h",
                fam,
                src,
                ISSUE,
            )
        )
    return out


def met_features(config: FeatureConfig, met_vars: Iterable[str] | None = None) -> list[Feature]:
    """The meteorology family for ``met_vars`` (default: every configured variable)."""
    c = config
    names = list(c.met_vars if met_vars is None else met_vars)
    frac = f"{c.min_valid_fraction:.0%}"
    out: list[Feature] = []
    for v in names:
        unit = MET_UNITS.get(v, "")
        word = MET_WORDS.get(v, v)
        fam = f"met_{v}"
        out.append(
            Feature(v, unit, f"{word} at the valid time tv", fam, "met_valid_time", FORECAST_MET)
        )
        kind = met_kind(v)
        if kind == KIND_AMOUNT:
            for w in c.precip_windows_h:
                out.append(
                    Feature(
                        f"{v}_sum_{_h(w)}",
                        unit,
                        f"total of the valid {v} in (tv − {w:g} h, tv]; NaN if fewer than "
                        f"{frac} of the steps are valid",
                        fam,
                        "met_window",
                        FORECAST_MET,
                    )
                )
            out.append(
                Feature(
                    f"{v}_since_issue",
                    unit,
                    f"total of the valid {v} in (t0, tv] (0 at lead 0); NaN if fewer than "
                    f"{frac} of the steps are valid",
                    fam,
                    "met_window",
                    FORECAST_MET,
                )
            )
        elif kind == KIND_FLAG:
            out.append(
                Feature(
                    f"{v}_run_h",
                    "h",
                    f"consecutive hours ending at tv with {v} = 1 (a missing value ends the "
                    f"run; NaN if {v}(tv) is missing), capped at {c.stagnation_cap_h:g} h",
                    fam,
                    "met_window",
                    FORECAST_MET,
                )
            )
            out.append(
                Feature(
                    f"{v}_h_since_issue",
                    "h",
                    f"hours in (t0, tv] with {v} = 1 (0 at lead 0); NaN if fewer than {frac} "
                    "of the steps are valid",
                    fam,
                    "met_window",
                    FORECAST_MET,
                )
            )
        else:
            for w in c.met_windows_h:
                out.append(
                    Feature(
                        f"{v}_mean_{_h(w)}",
                        unit,
                        f"mean of the valid {v} in (tv − {w:g} h, tv]; NaN if fewer than "
                        f"{frac} of the steps are valid",
                        fam,
                        "met_window",
                        FORECAST_MET,
                    )
                )
            if c.met_change:
                out.append(
                    Feature(
                        f"{v}_change",
                        unit,
                        f"{v}(tv) − {v}(t0): change of the {word} since the issue time (0 at "
                        "lead 0); NaN if either value is missing",
                        fam,
                        "met_change",
                        FORECAST_MET,
                    )
                )
    return out


def calendar_features(config: FeatureConfig) -> list[Feature]:
    if not config.calendar:
        return []
    before, after = config.spring_festival_days
    fam = "calendar"
    return [
        Feature(
            "hour_bjt", "h", "hour of day of tv in Beijing time (0–23)", fam, "calendar", CALENDAR
        ),
        Feature(
            "doy_sin",
            "1",
            "sin(2π (d − 1) / N): d the Beijing day of year of tv, N the days in that year",
            fam,
            "calendar",
            CALENDAR,
        ),
        Feature("doy_cos", "1", "cos(2π (d − 1) / N), as doy_sin", fam, "calendar", CALENDAR),
        Feature(
            "heating_season",
            "1",
            "1 if the Beijing date of tv is in Urumqi's heating season (10 Oct – 10 Apr, "
            "inclusive), else 0",
            fam,
            "calendar",
            CALENDAR,
        ),
        Feature(
            "weekend",
            "1",
            "1 if the Beijing date of tv is a Saturday or Sunday, else 0 (official "
            "make-up working days are not modelled)",
            fam,
            "calendar",
            CALENDAR,
        ),
        Feature(
            "spring_festival",
            "1",
            f"1 if the Beijing date of tv is within {before} days before to {after} days "
            "after the Spring Festival (lunar new year, table 2010–2035), else 0; NaN "
            "outside the table",
            fam,
            "calendar",
            CALENDAR,
        ),
    ]


def lead_features() -> list[Feature]:
    return [Feature("lead_h", "h", "tv − t0, the lead time", "lead", "lead", LEAD)]


def catalogue(
    config: FeatureConfig | None = None, met_vars: Iterable[str] | None = None
) -> list[Feature]:
    """Every feature, in the column order of :func:`features.build.build_feature_matrix`."""
    c = config or FeatureConfig()
    return [
        *pm25_history_features(c),
        *met_features(c, met_vars),
        *calendar_features(c),
        *lead_features(),
    ]


def feature_names(
    config: FeatureConfig | None = None, met_vars: Iterable[str] | None = None
) -> list[str]:
    """The column names (``met_vars``: the meteorological variables present, in order)."""
    return [f.name for f in catalogue(config, met_vars)]


def _table(features: Sequence[Feature]) -> list[str]:
    lines = [
        "| # | name | unit | family | source | sees | formula |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, f in enumerate(features):
        formula = f.formula.replace("|", "\\|")
        lines.append(
            f"| {i} | `{f.name}` | {f.unit} | {f.family} | {f.source} | {f.sees} | {formula} |"
        )
    return lines


def catalogue_version() -> str:
    """A short hash of the default hourly and daily catalogues."""
    text = "\n".join(
        "\t".join((f.name, f.unit, f.formula, f.family, f.source, f.sees))
        for config in (FeatureConfig.hourly(), FeatureConfig.daily())
        for f in catalogue(config)
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


CATALOGUE_VERSION: str = catalogue_version()


def render_markdown() -> str:
    """The catalogue as Markdown (the content of ``features/CATALOGUE.md``)."""
    hourly, daily = FeatureConfig.hourly(), FeatureConfig.daily()
    lines = [
        "# Feature catalogue",
        "",
        "<!-- Generated by `python -m features.catalogue` from features/catalogue.py; "
        "do not edit by hand. -->",
        "",
        f"Catalogue version `{CATALOGUE_VERSION}`. t0 is the issue time, tv = t0 + lead the "
        "valid time; times are UTC, calendar features use Beijing time (UTC+8). One row of "
        "the feature matrix per (site, issue time, lead), in this column order. A "
        "meteorological variable absent from the merged Dataset is skipped with its columns "
        "(the build records which). PM2.5 history sees only data at or before t0; "
        "meteorology sees the valid time and the window before it (forecast meteorology); "
        "nothing sees data after tv. Each meteorological variable's columns are contiguous: "
        "its value at tv, then window means (states), totals (amounts) or the run length "
        "(flags), then what changed since t0: `<var>_change` = value at tv − value at t0 "
        "(states), the total (amounts) or flagged hours (flags) in (t0, tv].",
        "",
        "## Hourly data (default configuration)",
        "",
        *_table(catalogue(hourly)),
        "",
        "## Daily data (`FeatureConfig.daily()`)",
        "",
        "Daily values are stamped at the start of their Beijing day (16:00 UTC the day "
        "before); every window is a whole number of days.",
        "",
        *_table(catalogue(daily)),
        "",
    ]
    return "\n".join(lines)


def write_markdown(path: Path = CATALOGUE_PATH) -> Path:
    path.write_text(render_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover - a one-line script
    print(write_markdown(Path(sys.argv[1]) if len(sys.argv) > 1 else CATALOGUE_PATH))
