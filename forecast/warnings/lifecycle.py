"""Warning lifecycle: issue, upgrade, downgrade, maintain, lift — per city and for the region.

City bulletins (:func:`advance`)
    From the state of the previous bulletin (:class:`WarningState`) and the new
    :class:`~forecast.warnings.evaluate.WarningDecision`:

    ==========  ==========================================================================
    issue       no warning in force, the decision is a colour
    upgrade     the decision is stricter than the level in force
    downgrade   the decision is a milder colour
    maintain    the same colour; or the decision is "none" but the lift condition is not
                met yet (the level in force is kept, with a note)
    lift        a warning is in force and the forecast AQI stays below ``lift_below_aqi``
                (150) for at least ``lift_after_hours`` (36 h) from the start of the forecast
                (解除), and either the decision is "none" or the warned episode has already
                started (its start ≤ the issue time) and the colour belongs to a separate,
                later episode (the note names it; the next bulletin issues it afresh). The
                warned episode is the one of the decision that last issued, upgraded or
                downgraded the warning, so a warning issued (or re-targeted) ahead of its
                episode is never lifted before that episode starts.
    none        no warning in force and none needed
    ==========  ==========================================================================

    The lift condition counts consecutive values below the threshold from the first forecast
    value, each daily value standing for 24 h (hourly values for 1 h): with daily forecasts,
    36 h means two days. It uses the full AQI (a dust day of AQI ≥ 150 delays a lift).

Regional (Wu-Chang-Shi) warning (:func:`advance_regional`)
    The regional level is consolidated from the member cities' levels in force after their own
    bulletins: by default the **strictest level reached by at least** ``min_cities`` (2) member
    cities (``method="nth_highest"``; ``"highest"`` takes the strictest city level once
    ``min_cities`` cities are warned). Transitions follow the city table, except lifting,
    which follows the Xinjiang rule: three or more **contiguous** member cities, spanning more
    than one prefecture-level unit, are each forecast below AQI 150 for ≥ 36 h (each city's
    ``below_hours`` from its own bulletin). The regional warning is lifted when its
    consolidated level has fallen to "none" and that condition holds, and maintained (with a
    note) when it has fallen to "none" without it. While the consolidated level is a colour
    (cities still warned, possibly for a coming episode) it is never lifted.

Adjacency (:data:`ADJACENCY`) of the four members with national stations, from the map:
Changji (昌吉州, the prefecture: Changji city, Hutubi, Manas, Fukang …) borders Urumqi to the
east, surrounds Wujiaqu (Changji city to its west, Fukang to its east) and borders Shihezi to
the west (Manas county); Wujiaqu borders Urumqi's Midong district to the south; Shihezi
(surrounded by Manas county and Shawan) touches neither Urumqi nor Wujiaqu. Every member is a
different prefecture-level unit (Urumqi; Changji prefecture; Shihezi and Wujiaqu, XPCC
divisions 8 and 6, directly administered by the region), so any three cities span prefectures.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecast.warnings.evaluate import WarningDecision
from forecast.warnings.rules import LEVELS, Level, level_rank

Action = Literal["issue", "upgrade", "downgrade", "maintain", "lift", "none"]
ACTIONS: Final[tuple[Action, ...]] = ("issue", "upgrade", "downgrade", "maintain", "lift", "none")

#: Default lift condition (config ``warnings.lift_below_aqi`` / ``lift_after_hours``).
DEFAULT_LIFT_BELOW_AQI: Final = 150.0
DEFAULT_LIFT_AFTER_HOURS: Final = 36.0

#: Which member cities share a border (symmetric; see the module notes).
ADJACENCY: Final[Mapping[str, frozenset[str]]] = {
    "urumqi": frozenset({"changji", "wujiaqu"}),
    "changji": frozenset({"urumqi", "wujiaqu", "shihezi"}),
    "wujiaqu": frozenset({"urumqi", "changji"}),
    "shihezi": frozenset({"changji"}),
}
#: The prefecture-level unit of each member city.
PREFECTURES: Final[Mapping[str, str]] = {
    "urumqi": "乌鲁木齐市",
    "changji": "昌吉回族自治州",
    "shihezi": "石河子市 (兵团第八师)",
    "wujiaqu": "五家渠市 (兵团第六师)",
}


@dataclass(frozen=True)
class WarningState:
    """The warning in force for one area after a bulletin (Beijing times)."""

    level: Level = "none"
    #: when the level in force was set (issue, upgrade or downgrade) or the warning lifted.
    since: pd.Timestamp | None = None
    #: when the warning was first issued.
    issued: pd.Timestamp | None = None
    episode_start: pd.Timestamp | None = None
    episode_end: pd.Timestamp | None = None
    rule: str = ""

    @property
    def active(self) -> bool:
        return self.level != "none"


NO_WARNING: Final = WarningState()


@dataclass(frozen=True)
class LifecycleStep:
    """One bulletin's outcome for one area."""

    action: Action
    #: the level in force after this bulletin.
    level: Level
    previous_level: Level
    state: WarningState
    rule: str
    note: str
    #: consecutive forecast hours below the lift threshold from the start of the forecast.
    below_hours: float
    issued_at: pd.Timestamp | None
    decision: WarningDecision | None = None
    area: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "issued_at": None if self.issued_at is None else self.issued_at.isoformat(),
            "action": self.action,
            "level": self.level,
            "previous_level": self.previous_level,
            "rule": self.rule,
            "note": self.note,
            "below_hours": self.below_hours,
        }


def hours_below(values: npt.ArrayLike, threshold: float, step_hours: float = 24.0) -> float:
    """Hours from the start during which ``values`` stay below ``threshold`` (NaN stops)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not step_hours > 0:
        raise ValueError(f"step_hours must be > 0, got {step_hours}")
    ok = ~np.isnan(arr) & (arr < threshold)
    n = int(np.argmin(ok)) if not ok.all() else len(ok)
    return n * float(step_hours)


def lift_condition_met(
    values: npt.ArrayLike,
    lift_below_aqi: float = DEFAULT_LIFT_BELOW_AQI,
    lift_after_hours: float = DEFAULT_LIFT_AFTER_HOURS,
    step_hours: float = 24.0,
) -> bool:
    """Whether the forecast stays below ``lift_below_aqi`` for ``lift_after_hours`` from now."""
    return hours_below(values, lift_below_aqi, step_hours) >= lift_after_hours


def _check_lift(lift_below_aqi: float, lift_after_hours: float) -> None:
    if not 0 <= lift_below_aqi <= 500:
        raise ValueError(f"lift_below_aqi must be an AQI within 0–500, got {lift_below_aqi}")
    if not math.isfinite(lift_after_hours) or lift_after_hours < 0:
        raise ValueError(f"lift_after_hours must be ≥ 0 h, got {lift_after_hours}")


def _transition(previous: Level, new: Level, lift_ok: bool, started: bool = True) -> Action:
    if previous == "none":
        return "none" if new == "none" else "issue"
    if new == "none" or (lift_ok and started):
        return "lift" if lift_ok else "maintain"
    if new == previous:
        return "maintain"
    return "upgrade" if level_rank(new) > level_rank(previous) else "downgrade"


def advance(
    previous: WarningState | None,
    decision: WarningDecision,
    *,
    issued_at: pd.Timestamp | None = None,
    lift_below_aqi: float = DEFAULT_LIFT_BELOW_AQI,
    lift_after_hours: float = DEFAULT_LIFT_AFTER_HOURS,
    forecast_aqi: npt.ArrayLike | None = None,
    step_hours: float = 24.0,
    area: str = "",
) -> LifecycleStep:
    """The next bulletin of one city (see the module table).

    ``forecast_aqi`` (default: the AQI of ``decision.days``) and ``step_hours`` (hours per
    value, default 24) drive the lift condition; ``issued_at`` defaults to the decision's.
    """
    _check_lift(lift_below_aqi, lift_after_hours)
    prev = previous or NO_WARNING
    when = issued_at if issued_at is not None else decision.issued_at
    values = [d.aqi for d in decision.days] if forecast_aqi is None else forecast_aqi
    below = hours_below(values, lift_below_aqi, step_hours)
    lift_ok = below >= lift_after_hours
    new = decision.level
    started = prev.episode_start is None or (when is not None and prev.episode_start <= when)
    action = _transition(prev.level, new, lift_ok, started)
    notes = []
    if action == "issue":
        state = WarningState(
            new, when, when, decision.episode_start, decision.episode_end, decision.rule
        )
        if not decision.meets_lead_time:
            notes.append(
                f"lead time {decision.lead_hours:g} h < {decision.min_lead_hours:g} h: issued late"
            )
    elif action in ("upgrade", "downgrade"):
        # The warning now stands for the episode of this decision (which may be a later one).
        state = WarningState(
            new, when, prev.issued, decision.episode_start, decision.episode_end, decision.rule
        )
    elif action == "maintain" and new == "none":
        state = prev
        notes.append(
            f"forecast meets no level but stays below AQI {lift_below_aqi:g} for only "
            f"{below:g} h (< {lift_after_hours:g} h): {prev.level} warning maintained"
        )
    elif action == "maintain":
        end = decision.episode_end
        if prev.episode_end is not None and (end is None or prev.episode_end > end):
            end = prev.episode_end
        state = replace(prev, episode_end=end, rule=decision.rule)
    elif action == "lift":
        state = WarningState("none", when)
        notes.append(
            f"forecast AQI < {lift_below_aqi:g} for {below:g} h (≥ {lift_after_hours:g} h)"
        )
        if new != "none":
            notes.append(
                f"a separate {new} episode is forecast from {decision.episode_start:%Y-%m-%d %H:%M}"
                ": the next bulletin issues it"
            )
    else:
        state = prev
    if decision.advice:
        notes.append(f"{decision.advice} advice")
    rule = state.rule if action == "maintain" and new == "none" else decision.rule
    return LifecycleStep(
        action, state.level, prev.level, state, rule, "; ".join(notes), below, when, decision, area
    )


# --------------------------------------------------------------------------------------------
# regional warning


def check_adjacency(adjacency: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Validate an adjacency table (known names, symmetric, no self-borders)."""
    table = {k: frozenset(v) for k, v in adjacency.items()}
    for city, neighbours in table.items():
        for other in neighbours:
            if other == city:
                raise ValueError(f"adjacency: {city!r} borders itself")
            if other not in table:
                raise ValueError(
                    f"adjacency: {city!r} borders unknown {other!r}; valid: {', '.join(table)}"
                )
            if city not in table[other]:
                raise ValueError(f"adjacency: {city!r} borders {other!r} but not the reverse")
    return table


def contiguous_groups(
    cities: Iterable[str], adjacency: Mapping[str, Iterable[str]] = ADJACENCY
) -> list[frozenset[str]]:
    """Connected groups of ``cities`` along shared borders, largest first."""
    table = check_adjacency(adjacency)
    chosen = list(dict.fromkeys(cities))
    unknown = [c for c in chosen if c not in table]
    if unknown:
        raise ValueError(f"unknown city {unknown[0]!r}; valid: {', '.join(table)}")
    left = set(chosen)
    groups = []
    for city in chosen:
        if city not in left:
            continue
        group, todo = {city}, [city]
        left.discard(city)
        while todo:
            for other in table[todo.pop()]:
                if other in left:
                    left.discard(other)
                    group.add(other)
                    todo.append(other)
        groups.append(frozenset(group))
    return sorted(groups, key=len, reverse=True)


def regional_level(
    levels: Mapping[str, Level], min_cities: int = 2, method: str = "nth_highest"
) -> tuple[Level, str]:
    """The regional level from the member cities' levels, and a note saying how.

    ``nth_highest`` (default): the strictest level reached by at least ``min_cities`` cities.
    ``highest``: the strictest city level, once at least ``min_cities`` cities are warned.
    """
    if min_cities < 1:
        raise ValueError(f"min_cities must be ≥ 1, got {min_cities}")
    if method not in ("nth_highest", "highest"):
        raise ValueError(f"unknown method {method!r}; valid: nth_highest, highest")
    for city, level in levels.items():
        if level not in LEVELS:
            raise ValueError(f"{city}: unknown level {level!r}; valid: {', '.join(LEVELS)}")
    warned = sorted(
        ((c, lv) for c, lv in levels.items() if lv != "none"),
        key=lambda item: level_rank(item[1]),
        reverse=True,
    )
    listing = ", ".join(f"{c} {lv}" for c, lv in warned) or "no city warned"
    if len(warned) < min_cities:
        return "none", f"{len(warned)} of {len(levels)} cities warned (< {min_cities}): {listing}"
    level = warned[0][1] if method == "highest" else warned[min_cities - 1][1]
    how = "strictest city level" if method == "highest" else f"reached by ≥ {min_cities} cities"
    return level, f"{level} ({how}): {listing}"


def regional_below_hours(
    below_hours: Mapping[str, float],
    min_contiguous: int = 3,
    adjacency: Mapping[str, Iterable[str]] = ADJACENCY,
    prefectures: Mapping[str, str] = PREFECTURES,
) -> tuple[float, frozenset[str]]:
    """The longest time H such that ≥ ``min_contiguous`` contiguous cities (over more than one
    prefecture) are each forecast below the lift threshold for ≥ H, and that group."""
    for hours in sorted(set(below_hours.values()), reverse=True):
        below = [c for c, h in below_hours.items() if h >= hours]
        for group in contiguous_groups(below, adjacency):
            spans = len({prefectures.get(c, c) for c in group}) > 1
            if len(group) >= min_contiguous and spans:
                return float(hours), group
    return 0.0, frozenset()


def advance_regional(
    previous: WarningState | None,
    city_steps: Mapping[str, LifecycleStep],
    *,
    issued_at: pd.Timestamp | None = None,
    min_cities: int = 2,
    method: str = "nth_highest",
    lift_after_hours: float = DEFAULT_LIFT_AFTER_HOURS,
    min_contiguous: int = 3,
    adjacency: Mapping[str, Iterable[str]] = ADJACENCY,
    area: str = "wuchangshi",
) -> LifecycleStep:
    """The next regional bulletin from this round's city bulletins (module notes).

    The city steps must come from :func:`advance` with the same lift threshold; their
    ``below_hours`` drive the regional lift.
    """
    table = check_adjacency(adjacency)
    unknown = [c for c in city_steps if c not in table]
    if unknown:
        raise ValueError(f"unknown member city {unknown[0]!r}; valid: {', '.join(table)}")
    prev = previous or NO_WARNING
    target, how = regional_level({c: s.level for c, s in city_steps.items()}, min_cities, method)
    below, group = regional_below_hours(
        {c: s.below_hours for c, s in city_steps.items()}, min_contiguous, table
    )
    lift_ok = below >= lift_after_hours and bool(group)
    times = [s.issued_at for s in city_steps.values() if s.issued_at is not None]
    when = issued_at if issued_at is not None else (max(times) if times else None)
    # Lifted only once the consolidated level has fallen to "none": cities still warned for a
    # coming episode keep the regional warning up (no lift-and-reissue churn).
    action = _transition(prev.level, target, lift_ok, started=False)
    warned = [s.state for s in city_steps.values() if s.level != "none"]
    starts = [s.episode_start for s in warned if s.episode_start is not None]
    ends = [s.episode_end for s in warned if s.episode_end is not None]
    notes: list[str] = []
    if action == "issue":
        state = WarningState(
            target, when, when, min(starts, default=None), max(ends, default=None), how
        )
    elif action in ("upgrade", "downgrade"):
        state = WarningState(
            target, when, prev.issued, min(starts, default=None), max(ends, default=None), how
        )
    elif action == "maintain":
        if target == "none":
            notes.append(
                f"no {min_contiguous} contiguous cities below the lift threshold for "
                f"≥ {lift_after_hours:g} h: {prev.level} regional warning maintained"
            )
            state = prev
        else:
            state = replace(prev, rule=how)
    elif action == "lift":
        state = WarningState("none", when)
        notes.append(
            f"{', '.join(sorted(group))} contiguous and below the lift threshold for ≥ {below:g} h"
        )
    else:
        state = prev
    return LifecycleStep(
        action, state.level, prev.level, state, how, "; ".join(notes), below, when, None, area
    )


def run_lifecycle(
    decisions: Sequence[WarningDecision],
    *,
    initial: WarningState | None = None,
    lift_below_aqi: float = DEFAULT_LIFT_BELOW_AQI,
    lift_after_hours: float = DEFAULT_LIFT_AFTER_HOURS,
    area: str = "",
) -> list[LifecycleStep]:
    """Run :func:`advance` over a series of daily decisions of one city (oldest first)."""
    state = initial
    steps = []
    for decision in decisions:
        step = advance(
            state,
            decision,
            lift_below_aqi=lift_below_aqi,
            lift_after_hours=lift_after_hours,
            area=area,
        )
        steps.append(step)
        state = step.state
    return steps
