"""Heavy-pollution warnings (重污染天气预警): rule sets as data, evaluation, lifecycle,
probabilities. See ``docs/domain.md`` §2 and the notes at the top of each module.

* :mod:`forecast.warnings.rules` — :class:`RuleSet` tables (built-in ``"2018"``, ``"2024"``;
  local plans from a dict or YAML).
* :mod:`forecast.warnings.evaluate` — :func:`evaluate_daily`, :func:`evaluate_hourly`,
  :func:`daily_aqi_from_hourly` → :class:`WarningDecision`.
* :mod:`forecast.warnings.lifecycle` — :func:`advance` (issue / upgrade / downgrade / maintain /
  lift / none) per city and :func:`advance_regional` for Wu-Chang-Shi.
* :mod:`forecast.warnings.probability` — level probabilities from PM2.5 quantiles, CAP
  certainty.
"""

from __future__ import annotations

from forecast.warnings.evaluate import (
    Episode,
    ForecastDay,
    WarningDecision,
    daily_aqi_from_hourly,
    evaluate_daily,
    evaluate_hourly,
    find_episodes,
)
from forecast.warnings.lifecycle import (
    ADJACENCY,
    LifecycleStep,
    WarningState,
    advance,
    advance_regional,
    contiguous_groups,
    lift_condition_met,
    regional_level,
)
from forecast.warnings.probability import (
    LevelProbabilities,
    cap_certainty,
    cdf_from_quantiles,
    level_probabilities,
    ppf_from_quantiles,
)
from forecast.warnings.rules import (
    LEVELS,
    Condition,
    LevelRule,
    RuleSet,
    RuleSetError,
    builtin_rule_sets,
    get_rule_set,
    level_rank,
    load_rule_sets,
    rule_set_from_config,
    rule_set_from_dict,
)

__all__ = [
    "ADJACENCY",
    "LEVELS",
    "Condition",
    "Episode",
    "ForecastDay",
    "LevelProbabilities",
    "LevelRule",
    "LifecycleStep",
    "RuleSet",
    "RuleSetError",
    "WarningDecision",
    "WarningState",
    "advance",
    "advance_regional",
    "builtin_rule_sets",
    "cap_certainty",
    "cdf_from_quantiles",
    "contiguous_groups",
    "daily_aqi_from_hourly",
    "evaluate_daily",
    "evaluate_hourly",
    "find_episodes",
    "get_rule_set",
    "level_probabilities",
    "level_rank",
    "lift_condition_met",
    "load_rule_sets",
    "ppf_from_quantiles",
    "regional_level",
    "rule_set_from_config",
    "rule_set_from_dict",
]
