"""Which warning level a forecast AQI sequence triggers, and why (``docs/domain.md`` §2).

Interpretations (documented choices where the guidance is not explicit)
-----------------------------------------------------------------------
Days
    A "day" is a 24-hour mean. :func:`evaluate_daily` takes one AQI per **Beijing calendar
    day** from the first forecast day (usually the issue day). :func:`evaluate_hourly` takes the
    rolling 24-hour AQI of an hourly forecast (:func:`daily_aqi_from_hourly`) and defines the
    days as **consecutive, non-overlapping 24-hour windows starting at the issue time shifted by
    a phase of 0–23 h**: in phase φ, day k is the window (T0 + φ + 24k h, T0 + φ + 24(k+1) h]
    whose value is the trailing 24-h AQI labelled at its end. The rules are evaluated on each
    of the 24 phase-shifted sequences and the strictest decision is kept (ties: earliest onset,
    then smallest phase). So "AQI > 200 for ≥ 48 h" means two back-to-back 24-h windows above
    200, wherever the day boundary falls — a window crossing midnight counts — while 25 h of
    heavy pollution never counts as two days (which "the maximum of the rolling AQI within
    each 24-h block" would do).
Episodes
    An episode is a run of consecutive days that pass the lowest threshold in force (any
    active condition's threshold: 150 under 2024, 200 under 2018). Runs separated by **at most**
    ``merge_gap_days`` days below it (default 1: one clean day does not end an episode; 0
    disables merging) are one episode "at the stricter level": each run is evaluated on its
    own and the episode takes the strictest of their levels; durations are not added across
    the gap. The episode spans its first to its last run. With several episodes in the
    horizon the decision reports the strictest (ties: the earliest).
Levels
    Tried from the strictest down; the first level whose conditions hold fires. So the 2024
    "yellow: AQI > 200" fires only for a day > 200 that does not already meet orange or red.
Lead time
    ``lead_hours`` = episode start − issue time (Beijing time); ``meets_lead_time`` says whether
    it is at least ``min_lead_hours`` (24 h). A late warning is still issued, never suppressed.
    :func:`evaluate_daily` assumes issue at 00:00 of the first day unless ``issued_at`` is given.
Advice instead of a colour (2024)
    An episode is an advice-only episode (dust/sand for PM10, ozone for O3: the rule set's
    ``advice_only`` table) when **most** (more than half) of the days that trigger its level
    have that primary pollutant. Such an episode gets health advice, not a colour: its
    advice-only days are left out (``colour_aqi`` NaN) and the sequence is evaluated again, so
    a PM2.5 episode elsewhere in the horizon still raises its colour; if nothing else does the
    decision is ``level="none"`` with ``advice="dust"``. Spring dust in Urumqi (PM10-primary on
    every triggering day) therefore raises no colour under 2024; under 2018 (no such table) it
    does. A winter smog episode with an odd PM10-primary day (PM2.5 itself > 250 µg/m³, coarse
    particles slightly ahead) stays a PM2.5 episode: all of its days count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from forecast.aqi import DEFAULT_STANDARD, Standard, aqi, iaqi
from forecast.obs.aggregate import MIN_VALID_HOURS, rolling_24h_mean
from forecast.timeutil import utc_to_beijing
from forecast.warnings.rules import (
    DAY_HOURS,
    POLLUTANTS,
    Condition,
    Group,
    Level,
    LevelRule,
    RuleSet,
    describe_group,
    get_rule_set,
    level_rank,
    normalize_pollutant,
)

#: Default number of below-threshold days that still joins two runs into one episode.
DEFAULT_MERGE_GAP_DAYS: Final = 1
#: Default minimum lead time [h] of a warning before the episode starts.
DEFAULT_MIN_LEAD_HOURS: Final = 24.0
_HOUR: Final = pd.Timedelta(hours=1)
_DAY: Final = pd.Timedelta(hours=DAY_HOURS)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ForecastDay:
    """One "day" (24-hour mean) of the sequence a decision was made on (Beijing time)."""

    index: int
    start: pd.Timestamp
    end: pd.Timestamp
    aqi: float
    #: the AQI that counts toward a colour (NaN: left out as a day of an advice-only episode).
    colour_aqi: float
    primary: str | None
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "aqi": _json_number(self.aqi),
            "colour_aqi": _json_number(self.colour_aqi),
            "primary": POLLUTANTS.get(self.primary) if self.primary else None,
        }


@dataclass(frozen=True)
class Episode:
    """Days ``first`` … ``last`` (indices) forming one episode, with the level they reach."""

    first: int
    last: int
    #: the runs (first, last) merged into this episode.
    parts: tuple[tuple[int, int], ...]
    level: Level
    #: the level rule and the group of conditions that fired (None for level "none").
    rule: LevelRule | None
    group: Group | None
    #: each condition of the fired group with the day indices that met it.
    triggers: tuple[tuple[Condition, tuple[int, ...]], ...]

    @property
    def triggering_days(self) -> tuple[int, ...]:
        return tuple(sorted({i for _, days in self.triggers for i in days}))


@dataclass(frozen=True)
class WarningDecision:
    """The level a forecast triggers, the rule that fired and why.

    Times are Beijing wall-clock times (naive). ``lead_hours`` and ``meets_lead_time`` refer to
    the reported episode; without an episode they are None and False.
    """

    level: Level
    rule: str
    reason: str
    episode_start: pd.Timestamp | None
    episode_end: pd.Timestamp | None
    lead_hours: float | None
    meets_lead_time: bool
    advice: str | None = None
    rule_set: str = ""
    days: tuple[ForecastDay, ...] = ()
    triggering_days: tuple[int, ...] = ()
    issued_at: pd.Timestamp | None = None
    min_lead_hours: float = DEFAULT_MIN_LEAD_HOURS
    day_definition: str = "Beijing calendar days"

    @property
    def is_warning(self) -> bool:
        return self.level != "none"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (times ISO 8601, Beijing time)."""
        return {
            "level": self.level,
            "rule": self.rule,
            "reason": self.reason,
            "advice": self.advice,
            "rule_set": self.rule_set,
            "episode_start": _iso(self.episode_start),
            "episode_end": _iso(self.episode_end),
            "lead_hours": self.lead_hours,
            "meets_lead_time": self.meets_lead_time,
            "min_lead_hours": self.min_lead_hours,
            "issued_at": _iso(self.issued_at),
            "day_definition": self.day_definition,
            "days": [d.to_dict() for d in self.days],
            "triggering_days": [self.days[i].label for i in self.triggering_days],
        }


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.isoformat()


def _json_number(value: float) -> float | int | None:
    if math.isnan(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


# --------------------------------------------------------------------------------------------
# episodes


def find_runs(mask: Sequence[bool]) -> list[tuple[int, int]]:
    """Runs of consecutive True values as (first, last) index pairs (inclusive)."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, flag in enumerate([*mask, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def merge_runs(
    runs: Sequence[tuple[int, int]], merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS
) -> list[list[tuple[int, int]]]:
    """Group runs separated by at most ``merge_gap_days`` days (0: never merge)."""
    if isinstance(merge_gap_days, bool) or not isinstance(merge_gap_days, int | np.integer):
        raise ValueError(
            f"merge_gap_days must be a whole number of days ≥ 0, got {merge_gap_days!r}"
        )
    if merge_gap_days < 0:
        raise ValueError(f"merge_gap_days must be ≥ 0, got {merge_gap_days}")
    groups: list[list[tuple[int, int]]] = []
    for run in runs:
        if groups and run[0] - groups[-1][-1][1] - 1 <= merge_gap_days:
            groups[-1].append(run)
        else:
            groups.append([run])
    return groups


def evaluate_run(
    values: Sequence[float], rule_set: RuleSet
) -> tuple[Level, LevelRule | None, Group | None, tuple[tuple[Condition, tuple[int, ...]], ...]]:
    """The strictest level whose conditions hold on ``values`` (one run of an episode).

    Returns (level, level rule, fired group, ((condition, day indices into ``values``), …)).
    """
    for rule in rule_set.active_levels():
        for group in rule.groups:
            hits = [(c, c.satisfied_by(values)) for c in group]
            if all(days is not None for _, days in hits):
                return rule.level, rule, group, tuple((c, d) for c, d in hits if d is not None)
    return "none", None, None, ()


def find_episodes(
    values: Sequence[float], rule_set: RuleSet, merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS
) -> list[Episode]:
    """Episodes of a daily AQI sequence with the level each reaches (see the module notes)."""
    mask = [rule_set.in_episode(float(v)) for v in values]
    episodes = []
    for parts in merge_runs(find_runs(mask), merge_gap_days):
        best: Episode | None = None
        for first, last in parts:
            level, rule, group, triggers = evaluate_run(values[first : last + 1], rule_set)
            shifted = tuple((c, tuple(first + i for i in days)) for c, days in triggers)
            if best is None or level_rank(level) > level_rank(best.level):
                best = Episode(first, last, (), level, rule, group, shifted)
        assert best is not None
        episodes.append(
            Episode(
                parts[0][0],
                parts[-1][1],
                tuple(parts),
                best.level,
                best.rule,
                best.group,
                best.triggers,
            )
        )
    return episodes


def _strictest(episodes: Sequence[Episode]) -> Episode | None:
    best = None
    for ep in episodes:  # in time order: ties keep the earliest
        if best is None or level_rank(ep.level) > level_rank(best.level):
            best = ep
    return best


# --------------------------------------------------------------------------------------------
# input checks


def _as_rule_set(rules: RuleSet | str) -> RuleSet:
    return rules if isinstance(rules, RuleSet) else get_rule_set(str(rules))


def _aqi_values(values: npt.ArrayLike, what: str = "aqi") -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected numbers (daily AQI 0–500), got {values!r}") from None
    bad = np.flatnonzero(~np.isnan(arr) & ((arr < 0) | (arr > 500) | ~np.isfinite(arr)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{what}[{i}] = {arr[i]:g} is not a valid AQI; expected 0–500 (or NaN)")
    return arr


def _primaries(
    primary: Sequence[str | None] | None,
    iaqi_by: Mapping[str, npt.NDArray[np.float64]],
    values: npt.NDArray[np.float64],
) -> list[str | None]:
    n = len(values)
    if primary is not None:
        if len(primary) != n:
            raise ValueError(f"primary: {len(primary)} values for {n} days; expected one per day")
        out = []
        for i, p in enumerate(primary):
            try:
                out.append(normalize_pollutant(p))
            except ValueError as exc:
                raise ValueError(f"primary[{i}]: {exc}") from None
        return out
    if not iaqi_by:
        return [None] * n
    order = [p for p in POLLUTANTS if p in iaqi_by]
    stacked = np.vstack([np.where(np.isnan(iaqi_by[p]), -np.inf, iaqi_by[p]) for p in order])
    top = stacked.argmax(axis=0)  # ties: the first in POLLUTANTS order (PM2.5 first)
    return [
        order[int(top[i])] if np.isfinite(stacked[top[i], i]) and values[i] > 50 else None
        for i in range(n)
    ]


def _iaqi_table(
    table: Mapping[str, npt.ArrayLike] | None, n: int
) -> dict[str, npt.NDArray[np.float64]]:
    out: dict[str, npt.NDArray[np.float64]] = {}
    for name, values in (table or {}).items():
        key = normalize_pollutant(name)
        if key is None:
            raise ValueError(f"iaqi: empty pollutant name; valid: {', '.join(POLLUTANTS.values())}")
        arr = _aqi_values(values, f"iaqi[{name!r}]")
        if len(arr) != n:
            raise ValueError(
                f"iaqi[{name!r}]: {len(arr)} values for {n} days; expected one per day"
            )
        out[key] = arr
    return out


def _timestamp(value: pd.Timestamp | datetime | date | str, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{what}: {value!r} is not a date/time; expected e.g. 2026-01-10"
        ) from None
    if ts is pd.NaT:
        raise ValueError(f"{what}: missing date/time")
    return ts


# --------------------------------------------------------------------------------------------
# the decision


def _listing(days: Sequence[ForecastDay], idx: Iterable[int]) -> str:
    return ", ".join(f"{days[i].label} AQI {days[i].colour_aqi:g}" for i in idx)


def _describe_fired(rule_set: RuleSet, ep: Episode, days: Sequence[ForecastDay]) -> tuple[str, str]:
    assert ep.group is not None
    rule = f"{rule_set.name} {ep.level}: {describe_group(ep.group)}"
    parts = [f"{c.describe()}: {_listing(days, d)}" for c, d in ep.triggers]
    reason = "; ".join(parts)
    if len(ep.parts) > 1:
        spans = ", ".join(f"{days[a].label}–{days[b].label}" for a, b in ep.parts)
        reason += f" (one episode of {len(ep.parts)} runs separated by short gaps: {spans})"
    return rule, reason


def _decide(
    days: list[ForecastDay],
    rule_set: RuleSet,
    issued_at: pd.Timestamp,
    merge_gap_days: int,
    min_lead_hours: float,
    day_definition: str,
    advised: tuple[tuple[str, Episode, tuple[int, ...]], ...] = (),
) -> WarningDecision:
    values = [d.colour_aqi for d in days]
    best = _strictest(find_episodes(values, rule_set, merge_gap_days))

    if best is not None and best.level != "none" and rule_set.advice_only:
        trig = best.triggering_days
        exempt = [i for i in trig if days[i].primary in rule_set.advice_only]
        if 2 * len(exempt) > len(trig):
            # An advice-only episode: leave out its advice-only days and evaluate again.
            left_out = tuple(
                i
                for i in range(best.first, best.last + 1)
                if days[i].primary in rule_set.advice_only
            )
            names = dict.fromkeys(rule_set.advice_only[days[i].primary or ""] for i in exempt)
            masked = [replace(d, colour_aqi=math.nan) if d.index in left_out else d for d in days]
            return _decide(
                masked,
                rule_set,
                issued_at,
                merge_gap_days,
                min_lead_hours,
                day_definition,
                (*advised, ("/".join(names), best, left_out)),
            )

    advice = "/".join(dict.fromkeys(a for a, _, _ in advised)) or None
    common = {
        "rule_set": rule_set.name,
        "days": tuple(days),
        "issued_at": issued_at,
        "min_lead_hours": min_lead_hours,
        "day_definition": day_definition,
        "advice": advice,
    }
    advice_text = "; ".join(_advice_reason(rule_set, days, a, ep, idx) for a, ep, idx in advised)
    if best is not None and best.level != "none":
        rule, reason = _describe_fired(rule_set, best, days)
        if advice_text:
            reason += f". Also: {advice_text}"
        return _with_episode(
            best.level, rule, reason, best, days, issued_at, min_lead_hours, common
        )

    if advised:
        name, ep, _ = advised[0]
        assert ep.group is not None
        rule = (
            f"{rule_set.name}: {name} episode — health advice, no colour "
            f"(would be {ep.level}: {describe_group(ep.group)})"
        )
        return _with_episode("none", rule, advice_text, ep, days, issued_at, min_lead_hours, common)

    if best is None:
        finite = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        low = rule_set.lowest_threshold()
        if not finite:
            reason = "no valid forecast AQI"
        else:
            top, at = max(finite)
            reason = f"no day above AQI {low:g}" if low is not None else "no level in force"
            reason += f" (highest: {days[at].label} AQI {top:g})"
        return WarningDecision(
            "none", f"{rule_set.name}: no level met", reason, None, None, None, False, **common
        )
    weakest = rule_set.active_levels()[-1]
    reason = (
        f"episode {days[best.first].label}–{days[best.last].label} "
        f"({_listing(days, range(best.first, best.last + 1))}) meets no level; the mildest, "
        f"{weakest.level}, needs {weakest.describe()}"
    )
    return _with_episode(
        "none",
        f"{rule_set.name}: no level met",
        reason,
        best,
        days,
        issued_at,
        min_lead_hours,
        common,
    )


def _advice_reason(
    rule_set: RuleSet, days: Sequence[ForecastDay], advice: str, ep: Episode, left: Sequence[int]
) -> str:
    primaries = dict.fromkeys(days[i].primary for i in left)
    return (
        f"{advice} episode {days[ep.first].label}–{days[ep.last].label}: primary pollutant "
        f"{_exempt_names(rule_set, primaries)} on {_listing_full(days, left)} (would be "
        f"{ep.level}); {advice} episodes get health advice, not a colour warning, under rule "
        f"set {rule_set.name}"
    )


def _exempt_names(rule_set: RuleSet, primaries: Iterable[str | None] | None = None) -> str:
    keys = rule_set.advice_only if primaries is None else dict.fromkeys(p for p in primaries if p)
    return "/".join(POLLUTANTS[p] for p in keys)


def _listing_full(days: Sequence[ForecastDay], idx: Iterable[int]) -> str:
    return ", ".join(f"{days[i].label} AQI {days[i].aqi:g}" for i in idx)


def _with_episode(
    level: Level,
    rule: str,
    reason: str,
    ep: Episode,
    days: Sequence[ForecastDay],
    issued_at: pd.Timestamp,
    min_lead_hours: float,
    common: Mapping[str, Any],
) -> WarningDecision:
    start, end = days[ep.first].start, days[ep.last].end
    lead = (start - issued_at) / _HOUR
    return WarningDecision(
        level,
        rule,
        reason,
        start,
        end,
        float(lead),
        bool(lead >= min_lead_hours),
        triggering_days=ep.triggering_days,
        **common,
    )


def _check_common(merge_gap_days: int, min_lead_hours: float) -> None:
    merge_runs([], merge_gap_days)
    if not math.isfinite(min_lead_hours) or min_lead_hours < 0:
        raise ValueError(f"min_lead_hours must be a number of hours ≥ 0, got {min_lead_hours}")


def evaluate_daily(
    aqi_values: npt.ArrayLike,
    start: date | datetime | str | pd.Timestamp,
    *,
    rules: RuleSet | str = "2024",
    primary: Sequence[str | None] | None = None,
    iaqi_by: Mapping[str, npt.ArrayLike] | None = None,
    issued_at: datetime | str | pd.Timestamp | None = None,
    merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS,
    min_lead_hours: float = DEFAULT_MIN_LEAD_HOURS,
) -> WarningDecision:
    """The warning level a forecast of daily AQI triggers (Beijing calendar days).

    Parameters
    ----------
    aqi_values
        Daily AQI (0–500; NaN = missing, never counts) of consecutive Beijing days.
    start
        Beijing date of the first value (the issue day, or the first forecast day).
    rules
        A :class:`~forecast.warnings.rules.RuleSet` or the name of a built-in one.
    primary
        Optional primary pollutant per day (``"PM2.5"``, ``"PM10"``, …; None/"" = none).
    iaqi_by
        Optional IAQI per pollutant per day (``{"pm25": [...], "pm10": [...]}``); gives the
        primary pollutant (highest IAQI; PM2.5 first on ties) when ``primary`` is absent.
    issued_at
        Issue time, Beijing wall clock (default 00:00 on ``start``).
    merge_gap_days
        Runs separated by at most this many days are one episode (default 1; 0: never).
    min_lead_hours
        The lead time a warning should have before its episode starts [h] (default 24).
    """
    rule_set = _as_rule_set(rules)
    _check_common(merge_gap_days, min_lead_hours)
    values = _aqi_values(aqi_values)
    first = _timestamp(start, "start").normalize()
    table = _iaqi_table(iaqi_by, len(values))
    prim = _primaries(primary, table, values)
    issued = first if issued_at is None else _timestamp(issued_at, "issued_at")
    days = [
        ForecastDay(
            i,
            first + i * _DAY,
            first + (i + 1) * _DAY,
            float(values[i]),
            float(values[i]),
            prim[i],
            f"{first + i * _DAY:%Y-%m-%d}",
        )
        for i in range(len(values))
    ]
    return _decide(days, rule_set, issued, merge_gap_days, min_lead_hours, "Beijing calendar days")


# --------------------------------------------------------------------------------------------
# hourly forecasts: rolling 24-hour windows


def _utc_index(times: npt.ArrayLike | pd.DatetimeIndex) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(times)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx


def daily_aqi_from_hourly(
    pm25_hourly: npt.ArrayLike,
    pm10_hourly: npt.ArrayLike | None,
    times: npt.ArrayLike | pd.DatetimeIndex,
    standard: Standard = DEFAULT_STANDARD,
    min_valid_hours: int = MIN_VALID_HOURS,
) -> pd.DataFrame:
    """Rolling 24-hour AQI at every hour of an hourly PM2.5 (and PM10) forecast [µg/m³].

    At each hour t the trailing 24-h means over the values labelled t-23 h … t
    (:func:`forecast.obs.aggregate.rolling_24h_mean`: NaN with fewer than ``min_valid_hours``
    valid values, so prepend the last 23 observed hours to a forecast that starts at the issue
    time) give the IAQIs and the AQI (HJ 633 ``standard``).

    ``times`` are the hourly labels, naive UTC (the engine's convention) or time-zone aware
    (converted to UTC). Returns a DataFrame on the regular hourly UTC axis (index ``time``)
    with ``pm25_24h`` [, ``pm10_24h``], ``iaqi_pm25`` [, ``iaqi_pm10``], ``aqi`` and ``primary``
    (canonical name, None when AQI ≤ 50 or missing).
    """
    idx = _utc_index(times)
    series = {"pm25": np.asarray(pm25_hourly, dtype=np.float64).ravel()}
    if pm10_hourly is not None:
        series["pm10"] = np.asarray(pm10_hourly, dtype=np.float64).ravel()
    for name, arr in series.items():
        if len(arr) != len(idx):
            raise ValueError(f"{name}_hourly: {len(arr)} values for {len(idx)} times")
    ds = xr.Dataset(
        {name: (("site", "time"), arr[np.newaxis, :]) for name, arr in series.items()},
        coords={"site": ["forecast"], "time": idx.values},
        attrs={"time_resolution": "1h"},
    )
    rolled = rolling_24h_mean(ds, min_valid_hours=min_valid_hours).isel(site=0)
    out = pd.DataFrame(index=pd.DatetimeIndex(rolled.indexes["time"], name="time"))
    for name in series:
        out[f"{name}_24h"] = rolled[name].values
    for name in series:
        out[f"iaqi_{name}"] = iaqi(out[f"{name}_24h"].to_numpy(), name, standard)
    out["aqi"] = aqi(
        out["pm25_24h"].to_numpy(),
        out["pm10_24h"].to_numpy() if "pm10" in series else None,
        standard,
    )
    values = out["aqi"].to_numpy()
    table = {p: out[f"iaqi_{p}"].to_numpy() for p in series}
    out["primary"] = _primaries(None, table, values)
    out.attrs = {"standard": standard, "time_zone": "UTC", "window": "trailing 24 h"}
    return out


def _window_days(
    rolling: pd.DataFrame, issued_utc: pd.Timestamp, phase: int, rule_set: RuleSet
) -> list[ForecastDay]:
    last = rolling.index[-1]
    ends = []
    k = 0
    while (end := issued_utc + (phase + DAY_HOURS * (k + 1)) * _HOUR) <= last:
        ends.append(end)
        k += 1
    if not ends:
        return []
    at = pd.DatetimeIndex(ends)
    frame = rolling.reindex(at)
    values = frame["aqi"].to_numpy(dtype=np.float64)
    pollutants = [c.removeprefix("iaqi_") for c in frame.columns if c.startswith("iaqi_")]
    table = {p: frame[f"iaqi_{p}"].to_numpy(dtype=np.float64) for p in pollutants}
    prim = _primaries(None, table, values)
    start_bj = utc_to_beijing(at - _DAY)
    end_bj = utc_to_beijing(at)
    return [
        ForecastDay(
            i,
            start_bj[i],
            end_bj[i],
            float(values[i]),
            float(values[i]),
            prim[i],
            f"{start_bj[i]:%Y-%m-%d %H:%M}–{end_bj[i]:%m-%d %H:%M}",
        )
        for i in range(len(ends))
    ]


def evaluate_hourly(
    rolling: pd.DataFrame,
    *,
    issued_at: datetime | str | pd.Timestamp | None = None,
    rules: RuleSet | str = "2024",
    phases: Iterable[int] | None = None,
    merge_gap_days: int = DEFAULT_MERGE_GAP_DAYS,
    min_lead_hours: float = DEFAULT_MIN_LEAD_HOURS,
) -> WarningDecision:
    """The warning level of an hourly forecast, on rolling 24-hour windows (module notes).

    Parameters
    ----------
    rolling
        Output of :func:`daily_aqi_from_hourly` (hourly, naive UTC index).
    issued_at
        Issue time T0, naive UTC or time-zone aware, on a whole hour (default: the first
        time of ``rolling``). Days are the 24-h windows (T0 + φ + 24k, T0 + φ + 24(k+1)].
    phases
        Offsets φ [h] to try, each in 0–23 (default all 24; ``[0]`` = fixed 24-h blocks
        from the issue time).

    The decision's times and day labels are Beijing time; ``day_definition`` names the phase.
    """
    rule_set = _as_rule_set(rules)
    _check_common(merge_gap_days, min_lead_hours)
    if "aqi" not in rolling.columns or not isinstance(rolling.index, pd.DatetimeIndex):
        raise ValueError(
            "rolling: expected the DataFrame of daily_aqi_from_hourly (hourly time index, "
            f"column 'aqi'); got columns {list(rolling.columns)}"
        )
    if len(rolling.index) == 0:
        raise ValueError("rolling: no hourly values")
    t0 = (
        rolling.index[0]
        if issued_at is None
        else _utc_index(pd.DatetimeIndex([_timestamp(issued_at, "issued_at")]))[0]
    )
    if t0 != t0.floor("h"):
        raise ValueError(f"issued_at must be on a whole hour, got {t0}")
    chosen = list(range(DAY_HOURS)) if phases is None else list(phases)
    bad = [p for p in chosen if not isinstance(p, int | np.integer) or not 0 <= p < DAY_HOURS]
    if bad or not chosen:
        raise ValueError(f"phases must be whole hours within 0–23, got {chosen}")
    issued_bj = utc_to_beijing(pd.DatetimeIndex([t0]))[0]
    best: tuple[tuple[int, int, float], WarningDecision] | None = None
    for phase in chosen:
        days = _window_days(rolling, t0, int(phase), rule_set)
        if not days:
            continue
        definition = (
            f"24-h windows ending at {days[0].end:%H:%M} Beijing time "
            f"(issue time + {phase} h + 24 h·k)"
        )
        decision = _decide(days, rule_set, issued_bj, merge_gap_days, min_lead_hours, definition)
        onset = (
            (decision.episode_start - issued_bj) / _HOUR
            if decision.episode_start is not None
            else math.inf
        )
        key = (level_rank(decision.level), int(decision.advice is not None), -onset)
        if best is None or key > best[0]:
            best = (key, decision)
    if best is None:
        raise ValueError(
            f"rolling: no complete 24-h window after the issue time {t0} (last value "
            f"{rolling.index[-1]})"
        )
    return best[1]
