"""Heavy-pollution warning rule sets as data (``docs/domain.md`` §2).

A :class:`RuleSet` is a named list of :class:`LevelRule` s from the strictest level down. A level
fires when **any** of its groups holds; a group holds when **all** of its :class:`Condition` s
hold within one episode. A condition compares the forecast daily AQI (a 24-hour mean, possibly
a rolling window crossing calendar days) with a threshold:

* ``AQI > T`` (``above``) or ``AQI ≥ T`` (``at_least``),
* on ``days`` **consecutive** days (``for_hours: H`` with H a multiple of 24, or ``for_days``),
  or on at least ``days`` days of the episode, not necessarily consecutive (``on_days``),
* optionally gated by a rule-set option (``option``): the condition applies only while that
  option is true. A whole level can be gated the same way (the 2018 blue level).

Durations are whole days of 24 h: "≥ 48 h" is two days. An exceedance lasting 47 h is one
complete day (:func:`whole_days`), so it does not meet "≥ 48 h".

The two built-in rule sets (``"2018"`` and ``"2024"``) live in the package data file
``forecast/data/warnings/rulesets.yaml`` and are read with :func:`builtin_rule_sets`; a local
plan is written in the same structure and read with :func:`rule_set_from_dict` or
:func:`load_rule_sets`, which reject malformed input with a message naming the key path, the
bad value and the valid choices.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import yaml

from forecast.errors import ConfigError

if TYPE_CHECKING:
    from forecast.config import Config

Level = Literal["none", "blue", "yellow", "orange", "red"]
#: Warning levels from the mildest ("none") to the strictest.
LEVELS: Final[tuple[Level, ...]] = ("none", "blue", "yellow", "orange", "red")
#: Colour levels a rule set may define.
COLOUR_LEVELS: Final[tuple[Level, ...]] = ("blue", "yellow", "orange", "red")
#: Hours in one "day" of the warning rules.
DAY_HOURS: Final = 24
#: Pollutants by canonical name → display name.
POLLUTANTS: Final[dict[str, str]] = {
    "pm25": "PM2.5",
    "pm10": "PM10",
    "o3": "O3",
    "so2": "SO2",
    "no2": "NO2",
    "co": "CO",
}
_POLLUTANT_ALIASES: Final = {"o38h": "o3", "o31h": "o3"}
#: Keys of the YAML/dict structures (for validation messages).
CONDITION_KEYS: Final = ("above", "at_least", "for_hours", "for_days", "on_days", "option")
LEVEL_KEYS: Final = ("level", "any_of", "option", "text")
RULE_SET_KEYS: Final = ("name", "description", "options", "advice_only", "levels")
FILE_KEYS: Final = ("version", "rule_sets")
BUILTIN_RESOURCE: Final = ("data", "warnings", "rulesets.yaml")


class RuleSetError(ConfigError, ValueError):
    """A rule set (built-in, file or dict) is malformed or asked for an unknown option."""


def level_rank(level: str) -> int:
    """0 for "none" … 4 for "red"; raises for an unknown level, listing the valid ones."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown warning level {level!r}; valid: {', '.join(LEVELS)}") from None


def stricter(a: Level, b: Level) -> Level:
    """The stricter of two levels."""
    return a if level_rank(a) >= level_rank(b) else b


def whole_days(hours: float) -> int:
    """Complete days of 24 h in an exceedance lasting ``hours`` (47 h → 1, 48 h → 2)."""
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number ≥ 0, got {hours}")
    return int(hours // DAY_HOURS)


def normalize_pollutant(name: str | None) -> str | None:
    """Canonical pollutant name (``"PM2.5"`` → ``"pm25"``, ``"O3_8h"`` → ``"o3"``).

    ``None``, ``""``, ``"-"`` and ``"none"`` mean "no primary pollutant" (AQI ≤ 50) → None.
    """
    if name is None:
        return None
    key = str(name).strip().lower().replace(".", "").replace("_", "").replace(" ", "")
    if key in ("", "-", "none", "null", "nan"):
        return None
    key = _POLLUTANT_ALIASES.get(key, key)
    if key not in POLLUTANTS:
        raise ValueError(
            f"unknown pollutant {name!r}; valid: {', '.join(POLLUTANTS.values())} "
            "(or empty for none)"
        )
    return key


# --------------------------------------------------------------------------------------------
# the data model


@dataclass(frozen=True)
class Condition:
    """One condition on the daily AQI of an episode.

    ``AQI > threshold`` (``inclusive=False``) or ``AQI ≥ threshold`` (``inclusive=True``) on
    ``days`` consecutive days (``consecutive=True``) or on at least ``days`` days of the episode
    (``consecutive=False``). ``option`` names the rule-set option that switches it on.
    """

    threshold: float
    inclusive: bool = False
    days: int = 1
    consecutive: bool = True
    option: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold) or not 0 <= self.threshold <= 500:
            raise ValueError(f"AQI threshold must be within 0–500, got {self.threshold}")
        if self.days < 1:
            raise ValueError(f"a condition needs at least 1 day, got {self.days}")

    def holds(self, value: float) -> bool:
        """Whether one day's AQI passes the threshold (NaN never does)."""
        if math.isnan(value):
            return False
        return value >= self.threshold if self.inclusive else value > self.threshold

    def satisfied_by(self, values: Sequence[float]) -> tuple[int, ...] | None:
        """Indices (into ``values``) of the days that meet this condition, or None.

        Consecutive: the first run of at least ``days`` passing days (all of that run);
        otherwise every passing day, when there are at least ``days`` of them.
        """
        passing = [self.holds(v) for v in values]
        if not self.consecutive:
            hits = tuple(i for i, ok in enumerate(passing) if ok)
            return hits if len(hits) >= self.days else None
        start = None
        for i, ok in enumerate([*passing, False]):
            if ok and start is None:
                start = i
            elif not ok and start is not None:
                if i - start >= self.days:
                    return tuple(range(start, i))
                start = None
        return None

    def describe(self) -> str:
        op = "≥" if self.inclusive else ">"
        text = f"AQI {op} {self.threshold:g}"
        if not self.consecutive:
            return f"{text} on ≥ {self.days} day{'s' if self.days > 1 else ''}"
        if self.days == 1:
            return text
        return f"{text} for ≥ {self.days * DAY_HOURS} h"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at_least" if self.inclusive else "above": self.threshold}
        if not self.consecutive:
            out["on_days"] = self.days
        elif self.days > 1:
            out["for_hours"] = self.days * DAY_HOURS
        if self.option is not None:
            out["option"] = self.option
        return out


Group = tuple[Condition, ...]


@dataclass(frozen=True)
class LevelRule:
    """The conditions of one warning level: ``groups`` joined by OR, each an AND of conditions."""

    level: Level
    groups: tuple[Group, ...]
    option: str | None = None
    text: str | None = None

    def describe(self, options: Mapping[str, bool] | None = None) -> str:
        """The level's rule in words, e.g. "AQI > 200 for ≥ 48 h, or AQI > 150 for ≥ 72 h"."""
        if self.text:
            return self.text
        return ", or ".join(describe_group(g, options) for g in self.groups)


def describe_group(group: Group, options: Mapping[str, bool] | None = None) -> str:
    """A group in words (conditions gated off by ``options`` left out)."""
    active = [c for c in group if c.option is None or options is None or options.get(c.option)]
    return " and ".join(c.describe() for c in active)


@dataclass(frozen=True)
class RuleSet:
    """A named, ordered (strictest first) table of warning levels plus its options."""

    name: str
    levels: tuple[LevelRule, ...]
    description: str = ""
    options: Mapping[str, bool] = field(default_factory=dict)
    #: canonical primary pollutant → advice given instead of a colour (e.g. pm10 → "dust").
    advice_only: Mapping[str, str] = field(default_factory=dict)

    def with_options(self, **overrides: bool | None) -> RuleSet:
        """A copy with some options set (``None`` values are ignored).

        An option the rule set does not declare is an error naming the valid options.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise RuleSetError(
                f"rule set {self.name!r} has no option {unknown[0]!r}; valid options: {valid}"
            )
        for key, value in given.items():
            if not isinstance(value, bool):
                raise RuleSetError(f"option {key!r} must be true or false, got {value!r}")
        return replace(self, options={**self.options, **given})

    def active_levels(self) -> tuple[LevelRule, ...]:
        """The levels and conditions in force under the current options (strictest first)."""
        out = []
        for rule in self.levels:
            if rule.option is not None and not self.options.get(rule.option, False):
                continue
            groups = tuple(
                tuple(c for c in g if c.option is None or self.options.get(c.option, False))
                for g in rule.groups
            )
            out.append(replace(rule, groups=groups))
        return tuple(out)

    def active_conditions(self) -> tuple[Condition, ...]:
        return tuple(c for rule in self.active_levels() for g in rule.groups for c in g)

    def in_episode(self, value: float) -> bool:
        """Whether a day belongs to an episode: it passes the lowest threshold in force."""
        return any(c.holds(value) for c in self.active_conditions())

    def lowest_threshold(self) -> float | None:
        conditions = self.active_conditions()
        return min(c.threshold for c in conditions) if conditions else None

    def describe(self) -> str:
        """The whole table in words, one level per line."""
        lines = [f"rule set {self.name}" + (f": {self.description}" if self.description else "")]
        for rule in self.levels:
            gate = f" [option {rule.option}]" if rule.option else ""
            lines.append(f"  {rule.level:<6}{gate} {rule.describe(self.options)}")
        if self.options:
            lines.append("  options: " + ", ".join(f"{k}={v}" for k, v in self.options.items()))
        if self.advice_only:
            lines.append(
                "  advice instead of a colour: "
                + ", ".join(f"{POLLUTANTS[p]}-primary → {a}" for p, a in self.advice_only.items())
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The plain structure :func:`rule_set_from_dict` reads back."""
        levels = []
        for rule in self.levels:
            item: dict[str, Any] = {
                "level": rule.level,
                "any_of": [[c.to_dict() for c in g] for g in rule.groups],
            }
            if rule.option is not None:
                item["option"] = rule.option
            if rule.text is not None:
                item["text"] = rule.text
            levels.append(item)
        return {
            "name": self.name,
            "description": self.description,
            "options": dict(self.options),
            "advice_only": dict(self.advice_only),
            "levels": levels,
        }


# --------------------------------------------------------------------------------------------
# reading rule sets from plain data


def _fail(where: str, message: str) -> RuleSetError:
    return RuleSetError(f"{where}: {message}")


def _check_keys(where: str, data: Mapping[str, Any], valid: Sequence[str]) -> None:
    for key in data:
        if key not in valid:
            hint = difflib.get_close_matches(str(key), valid, n=1)
            text = f"unknown key {key!r}"
            if hint:
                text += f"; did you mean {hint[0]!r}?"
            raise _fail(where, f"{text} Valid keys: {', '.join(valid)}")


def _number(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"{key!r} must be a number (AQI 0–500), got {value!r}")
    if not 0 <= value <= 500:
        raise _fail(where, f"{key!r} must be an AQI within 0–500, got {value!r}")
    return float(value)


def _count(where: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, f"{key!r} must be a whole number ≥ 1, got {value!r}")
    return value


def _condition(where: str, data: object, options: Mapping[str, bool]) -> Condition:
    if not isinstance(data, Mapping):
        raise _fail(where, f"a condition must be a mapping like {{above: 200}}, got {data!r}")
    _check_keys(where, data, CONDITION_KEYS)
    bounds = [k for k in ("above", "at_least") if k in data]
    if len(bounds) != 1:
        raise _fail(where, f"give exactly one of 'above' or 'at_least', got {sorted(data)}")
    threshold = _number(where, bounds[0], data[bounds[0]])
    durations = [k for k in ("for_hours", "for_days", "on_days") if k in data]
    if len(durations) > 1:
        raise _fail(
            where, f"give at most one of 'for_hours', 'for_days', 'on_days', got {durations}"
        )
    days, consecutive = 1, True
    if durations == ["for_hours"]:
        hours = _count(where, "for_hours", data["for_hours"])
        if hours % DAY_HOURS:
            raise _fail(
                where,
                f"'for_hours' must be a multiple of {DAY_HOURS} (days of 24 h), got {hours}",
            )
        days = hours // DAY_HOURS
    elif durations == ["for_days"]:
        days = _count(where, "for_days", data["for_days"])
    elif durations == ["on_days"]:
        days, consecutive = _count(where, "on_days", data["on_days"]), False
    option = data.get("option")
    if option is not None and option not in options:
        valid = ", ".join(options) or "none declared"
        raise _fail(where, f"'option' {option!r} is not declared in 'options' ({valid})")
    return Condition(threshold, bounds[0] == "at_least", days, consecutive, option)


def rule_set_from_dict(data: Mapping[str, Any], name: str | None = None) -> RuleSet:
    """Build and validate a :class:`RuleSet` from a plain mapping (e.g. parsed YAML).

    Structure (see ``forecast/data/warnings/rulesets.yaml``)::

        name: my-plan                # or the ``name`` argument
        description: text            # optional
        options: {blue_level: false} # optional: declared options and their defaults
        advice_only: {pm10: dust}    # optional: primary pollutant → advice, no colour
        levels:                      # strictest first; each colour at most once
          - level: red
            option: NAME             # optional
            any_of:                  # OR of groups; a group is an AND list of conditions
              - [{above: 200, for_hours: 72}, {above: 300, for_hours: 24}]

    Raises :class:`RuleSetError` naming the key path, the bad value and what is valid.
    """
    label = name if name is not None else data.get("name") if isinstance(data, Mapping) else None
    where = f"rule set {label!r}" if label is not None else "rule set"
    if not isinstance(data, Mapping):
        raise _fail(where, f"expected a mapping with keys {', '.join(RULE_SET_KEYS)}")
    _check_keys(where, data, RULE_SET_KEYS)
    if label is None:
        raise _fail(where, "missing key 'name'")
    if not isinstance(label, str | int) or not str(label).strip():
        raise _fail(where, f"'name' must be a non-empty text, got {label!r}")
    description = data.get("description", "") or ""
    if not isinstance(description, str):
        raise _fail(f"{where}: description", f"expected text, got {description!r}")

    options_raw = data.get("options", {}) or {}
    if not isinstance(options_raw, Mapping):
        raise _fail(
            f"{where}: options", f"expected a mapping of name: true/false, got {options_raw!r}"
        )
    options: dict[str, bool] = {}
    for key, value in options_raw.items():
        if not isinstance(value, bool):
            raise _fail(f"{where}: options.{key}", f"expected true or false, got {value!r}")
        options[str(key)] = value

    advice_raw = data.get("advice_only", {}) or {}
    if not isinstance(advice_raw, Mapping):
        raise _fail(f"{where}: advice_only", f"expected pollutant: advice, got {advice_raw!r}")
    advice: dict[str, str] = {}
    for key, value in advice_raw.items():
        try:
            pollutant = normalize_pollutant(str(key))
        except ValueError as exc:
            raise _fail(f"{where}: advice_only", str(exc)) from None
        if pollutant is None or not isinstance(value, str) or not value.strip():
            raise _fail(
                f"{where}: advice_only.{key}", f"expected a pollutant and a text, got {value!r}"
            )
        advice[pollutant] = value.strip()

    if "levels" not in data:
        raise _fail(where, "missing key 'levels'")
    levels_raw = data["levels"]
    if not isinstance(levels_raw, Sequence) or isinstance(levels_raw, str) or not levels_raw:
        raise _fail(f"{where}: levels", f"expected a non-empty list of levels, got {levels_raw!r}")
    levels: list[LevelRule] = []
    for i, item in enumerate(levels_raw):
        at = f"{where}: levels[{i}]"
        if not isinstance(item, Mapping):
            raise _fail(at, f"expected a mapping with keys {', '.join(LEVEL_KEYS)}, got {item!r}")
        _check_keys(at, item, LEVEL_KEYS)
        level = item.get("level")
        if level not in COLOUR_LEVELS:
            raise _fail(f"{at}.level", f"got {level!r}; valid: {', '.join(COLOUR_LEVELS)}")
        if any(rule.level == level for rule in levels):
            raise _fail(f"{at}.level", f"{level!r} is defined twice")
        if levels and level_rank(level) >= level_rank(levels[-1].level):
            raise _fail(
                f"{at}.level",
                f"levels must be listed from the strictest down; {level!r} comes after "
                f"{levels[-1].level!r}",
            )
        option = item.get("option")
        if option is not None and option not in options:
            valid = ", ".join(options) or "none declared"
            raise _fail(f"{at}.option", f"{option!r} is not declared in 'options' ({valid})")
        text = item.get("text")
        if text is not None and not isinstance(text, str):
            raise _fail(f"{at}.text", f"expected text, got {text!r}")
        if "any_of" not in item:
            raise _fail(at, "missing key 'any_of' (a list of condition groups)")
        groups_raw = item["any_of"]
        if not isinstance(groups_raw, Sequence) or isinstance(groups_raw, str) or not groups_raw:
            raise _fail(f"{at}.any_of", f"expected a non-empty list of groups, got {groups_raw!r}")
        groups: list[Group] = []
        for j, group_raw in enumerate(groups_raw):
            gat = f"{at}.any_of[{j}]"
            # a single condition may stand for a group of one
            items = [group_raw] if isinstance(group_raw, Mapping) else group_raw
            if not isinstance(items, Sequence) or isinstance(items, str) or not items:
                raise _fail(gat, f"expected a non-empty list of conditions, got {group_raw!r}")
            group = tuple(_condition(f"{gat}[{k}]", c, options) for k, c in enumerate(items))
            if all(c.option is not None for c in group):
                raise _fail(gat, "a group needs at least one condition without 'option'")
            groups.append(group)
        levels.append(LevelRule(level, tuple(groups), option, text))
    return RuleSet(str(label), tuple(levels), description.strip(), options, advice)


def rule_sets_from_dict(data: Mapping[str, Any], source: str = "rule sets") -> dict[str, RuleSet]:
    """Every rule set of a file structure ``{version: 1, rule_sets: {name: {...}, …}}``."""
    if not isinstance(data, Mapping):
        raise _fail(source, "expected a mapping with keys version, rule_sets")
    _check_keys(source, data, FILE_KEYS)
    if data.get("version", 1) != 1:
        raise _fail(f"{source}.version", f"got {data.get('version')!r}; valid: 1")
    sets = data.get("rule_sets")
    if not isinstance(sets, Mapping) or not sets:
        raise _fail(
            source, f"'rule_sets' must be a non-empty mapping of name: rule set, got {sets!r}"
        )
    return {str(k): rule_set_from_dict(v, name=str(k)) for k, v in sets.items()}


def load_rule_sets(path: str | Path) -> dict[str, RuleSet]:
    """Read a YAML file of rule sets (the structure of the built-in ``rulesets.yaml``).

    A file holding a single rule set (with ``levels`` at the top) is accepted too.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise RuleSetError(f"{path}: rule set file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleSetError(f"{path}: cannot be read as YAML: {exc}") from None
    if isinstance(raw, Mapping) and "levels" in raw:
        rule_set = rule_set_from_dict(raw, name=raw.get("name") or path.stem)
        return {rule_set.name: rule_set}
    return rule_sets_from_dict(raw, source=str(path))


@lru_cache(maxsize=1)
def builtin_rule_sets() -> dict[str, RuleSet]:
    """The built-in ``"2018"`` and ``"2024"`` rule sets (package data, default options)."""
    resource = resources.files("forecast").joinpath(*BUILTIN_RESOURCE)
    raw = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return rule_sets_from_dict(raw, source="forecast/" + "/".join(BUILTIN_RESOURCE))


def get_rule_set(
    name: str = "2024",
    *,
    blue_level: bool | None = None,
    orange_requires_300: bool | None = None,
    rule_set_file: str | Path | None = None,
    **options: bool | None,
) -> RuleSet:
    """A built-in (or ``rule_set_file``-defined) rule set by name with some options set.

    ``blue_level`` and ``orange_requires_300`` exist in the 2018 set only; asking the 2024 set
    for ``blue_level=True`` is an error (it has no blue level), ``False`` is accepted.
    """
    sets = dict(builtin_rule_sets())  # a copy: the built-ins are cached
    if rule_set_file is not None:
        sets.update(load_rule_sets(rule_set_file))
    try:
        rule_set = sets[str(name)]
    except KeyError:
        raise RuleSetError(
            f"unknown rule set {name!r}; valid: {', '.join(sets)} (or a rule-set file)"
        ) from None
    wanted: dict[str, bool | None] = {**options}
    for key, value in (("blue_level", blue_level), ("orange_requires_300", orange_requires_300)):
        if value is None or (value is False and key not in rule_set.options):
            continue  # "off" is what a rule set without the option does anyway
        wanted[key] = value
    return rule_set.with_options(**wanted)


def rule_set_from_config(config: Config) -> RuleSet:
    """The rule set selected by ``config.warnings`` (``rule_set``, ``blue_level``, file)."""
    return get_rule_set(
        config.warnings.rule_set,
        blue_level=config.warnings.blue_level,
        rule_set_file=config.warnings.rule_set_file,
    )
