"""Warning rule sets (docs/domain.md §2): every row of both tables at and just below its
thresholds and durations, episodes, lead time, the 2024 dust exemption, rolling 24-h windows
and rule sets read from plain data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.obs.aggregate import daily_mean
from forecast.timeutil import beijing_to_utc
from forecast.warnings import (
    RuleSet,
    RuleSetError,
    builtin_rule_sets,
    daily_aqi_from_hourly,
    evaluate_daily,
    evaluate_hourly,
    find_episodes,
    get_rule_set,
    load_rule_sets,
    rule_set_from_config,
    rule_set_from_dict,
)
from forecast.warnings.rules import Condition, whole_days

START = "2026-01-10"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def level(
    seq: list[float],
    rules: str | RuleSet = "2024",
    *,
    blue: bool | None = None,
    orange_300: bool | None = None,
    **kwargs: object,
) -> str:
    rule_set = (
        rules
        if isinstance(rules, RuleSet)
        else get_rule_set(rules, blue_level=blue, orange_requires_300=orange_300)
    )
    return evaluate_daily(seq, START, rules=rule_set, **kwargs).level  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# the tables as data


def test_builtin_rule_sets_are_package_data_and_round_trip() -> None:
    sets = builtin_rule_sets()
    assert list(sets) == ["2018", "2024"]
    for rule_set in sets.values():
        assert rule_set_from_dict(rule_set.to_dict()) == rule_set
    assert [r.level for r in sets["2018"].levels] == ["red", "orange", "yellow", "blue"]
    assert [r.level for r in sets["2024"].levels] == ["red", "orange", "yellow"]
    assert sets["2018"].options == {"blue_level": False, "orange_requires_300": True}
    assert sets["2024"].advice_only == {"pm10": "dust", "o3": "ozone"}
    assert sets["2018"].advice_only == {}


def test_rule_texts_read_like_the_table() -> None:
    text_2024 = {r.level: r.describe() for r in get_rule_set("2024").levels}
    assert text_2024 == {
        "red": "AQI > 200 for ≥ 72 h and AQI > 300",
        "orange": "AQI > 200 for ≥ 48 h, or AQI > 150 for ≥ 72 h",
        "yellow": "AQI > 200, or AQI > 150 for ≥ 48 h",
    }
    r2018 = get_rule_set("2018")
    text_2018 = {r.level: r.describe(r2018.options) for r in r2018.levels}
    assert text_2018["red"] == "AQI > 200 for ≥ 96 h and AQI > 300 for ≥ 48 h, or AQI ≥ 500"
    assert text_2018["orange"] == "AQI > 200 for ≥ 72 h and AQI > 300 on ≥ 1 day"
    assert text_2018["yellow"] == "AQI > 200 for ≥ 48 h"


def test_rule_set_from_config(config: object) -> None:
    rule_set = rule_set_from_config(config)  # type: ignore[arg-type]
    assert rule_set.name == "2024"
    assert [r.level for r in rule_set.active_levels()] == ["red", "orange", "yellow"]


# --------------------------------------------------------------------------------------------
# 2024 (current national guidance)


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        # yellow: AQI > 200 (a single day)
        ([201], "yellow"),
        ([200], "none"),
        ([100, 201, 100], "yellow"),
        # yellow: AQI > 150 for >= 48 h
        ([151, 151], "yellow"),
        ([151, 150], "none"),
        ([150, 151], "none"),
        ([151], "none"),  # 24 h < 48 h
        ([151, 100, 151], "none"),  # not consecutive: two 1-day runs merged, each none
        # orange: AQI > 200 for 48 h
        ([201, 201], "orange"),
        ([201, 200], "yellow"),
        ([200, 201], "yellow"),
        # orange: AQI > 150 for >= 72 h
        ([151, 151, 151], "orange"),
        ([151, 151, 150], "yellow"),
        ([160, 180, 190, 199], "orange"),
        # red: AQI > 200 for 72 h and > 300 for >= 24 h
        ([201, 201, 301], "red"),
        ([201, 201, 300], "orange"),
        ([201, 201, 201, 300], "orange"),
        ([200, 201, 301], "orange"),  # > 200 only 48 h
        ([201, 201, 200, 301], "orange"),  # the > 200 run is broken by 200
        ([301, 301], "orange"),  # > 300 but only 48 h > 200
        ([500], "yellow"),  # no "AQI 500" rule in 2024
    ],
)
def test_rules_2024(seq: list[float], expected: str) -> None:
    assert level(seq, "2024") == expected


def test_yellow_2024_single_day_does_not_shadow_orange_or_red() -> None:
    # "AQI > 200" alone is yellow only when the day does not already meet orange or red.
    decision = evaluate_daily([120, 210, 205, 180], START, rules="2024")
    assert decision.level == "orange"
    assert decision.rule == "2024 orange: AQI > 200 for ≥ 48 h"
    single = evaluate_daily([120, 210, 120], START, rules="2024")
    assert single.level == "yellow"
    assert single.rule == "2024 yellow: AQI > 200"
    assert "2026-01-11 AQI 210" in single.reason


def test_2024_has_no_blue_level() -> None:
    with pytest.raises(RuleSetError, match="no option 'blue_level'; valid options: none"):
        get_rule_set("2024", blue_level=True)
    assert get_rule_set("2024", blue_level=False).name == "2024"  # "off" is accepted


# --------------------------------------------------------------------------------------------
# 2018 (city plans after the 2018 national guidance)


@pytest.mark.parametrize(
    ("seq", "blue", "orange_300", "expected"),
    [
        # blue: AQI > 200 for 1 day (only if enabled)
        ([201], True, None, "blue"),
        ([201], False, None, "none"),
        ([200], True, None, "none"),
        ([151, 151, 151], True, None, "none"),  # 2018 knows no 150 conditions
        # yellow: AQI > 200 for >= 48 h
        ([201, 201], False, None, "yellow"),
        ([201, 200], False, None, "none"),
        ([201, 200], True, None, "blue"),
        # orange: > 200 for >= 72 h and > 300 on at least one day
        ([201, 201, 301], False, True, "orange"),
        ([301, 201, 201], False, True, "orange"),
        ([201, 201, 300], False, True, "yellow"),
        ([201, 201, 201], False, True, "yellow"),
        ([201, 301], False, True, "yellow"),  # > 300 but only 48 h
        # orange without the > 300 condition (local plans)
        ([201, 201, 201], False, False, "orange"),
        ([201, 201, 200], False, False, "yellow"),
        ([201, 201, 201, 201], False, False, "orange"),
        # red: > 200 for >= 96 h and > 300 for >= 48 h
        ([201, 201, 301, 301], False, True, "red"),
        ([301, 301, 201, 201], False, True, "red"),
        ([201, 201, 301, 300], False, True, "orange"),
        ([201, 301, 201, 301], False, True, "orange"),  # > 300 not for 48 h in a row
        ([201, 301, 301], False, True, "orange"),  # only 72 h > 200
        ([200, 201, 301, 301], False, True, "orange"),
        # red: AQI reaching 500
        ([500], False, True, "red"),
        ([499], False, True, "none"),
        ([499], True, True, "blue"),
        ([499, 499], False, True, "yellow"),
        ([100, 120, 500], False, True, "red"),
    ],
)
def test_rules_2018(seq: list[float], blue: bool, orange_300: bool | None, expected: str) -> None:
    assert level(seq, "2018", blue=blue, orange_300=orange_300) == expected


def test_2018_defaults_blue_off_orange_requires_300() -> None:
    assert level([201], "2018") == "none"
    assert level([201, 201, 201], "2018") == "yellow"
    assert level([201, 201, 301], "2018") == "orange"
    decision = evaluate_daily([500], START, rules="2018")
    assert decision.rule == "2018 red: AQI ≥ 500"


# --------------------------------------------------------------------------------------------
# durations: days of 24 h


@pytest.mark.parametrize(
    ("hours", "days"), [(23, 0), (24, 1), (47, 1), (48, 2), (71, 2), (72, 3), (95, 3), (96, 4)]
)
def test_whole_days(hours: int, days: int) -> None:
    assert whole_days(hours) == days


@pytest.mark.parametrize(("hours", "days"), [(24, 1), (48, 2), (72, 3), (96, 4)])
def test_for_hours_become_days(hours: int, days: int) -> None:
    rule_set = rule_set_from_dict(
        {
            "name": "t",
            "levels": [{"level": "red", "any_of": [[{"above": 200, "for_hours": hours}]]}],
        }
    )
    (condition,) = rule_set.levels[0].groups[0]
    assert condition == Condition(200, days=days)
    assert level([201] * days, rules=rule_set) == "red"
    assert level([201] * (days - 1), rules=rule_set) == "none"


def _hourly(pm25: np.ndarray, start: str = "2026-01-10 00:00") -> pd.DataFrame:
    """Rolling AQI of an hourly PM2.5 series labelled from ``start`` (Beijing time)."""
    times = beijing_to_utc(pd.date_range(start, periods=len(pm25), freq="h"))
    return daily_aqi_from_hourly(pm25, None, times)


@pytest.mark.parametrize(("heavy_hours", "expected"), [(47, "blue"), (48, "yellow")])
def test_47_hours_are_one_day_48_hours_two(heavy_hours: int, expected: str) -> None:
    # PM2.5 151 µg/m³ (AQI 201) for exactly N hours: a 24-h window is > 200 only when it lies
    # wholly inside; 47 h hold one such window but never two back to back.
    pm25 = np.zeros(24 * 6)
    pm25[30 : 30 + heavy_hours] = 151.0
    rolling = _hourly(pm25)
    assert rolling["aqi"].max() == 201
    rules = get_rule_set("2018", blue_level=True)
    decision = evaluate_hourly(rolling, rules=rules, issued_at=rolling.index[0])
    assert decision.level == expected


# --------------------------------------------------------------------------------------------
# episodes


def test_episodes_merge_across_a_one_day_gap_at_the_stricter_level() -> None:
    seq = [100, 201, 120, 201, 201, 100, 100]
    merged = evaluate_daily(seq, START, rules="2024")
    assert merged.level == "orange"  # stricter of yellow (day 1) and orange (days 3-4)
    assert merged.episode_start == pd.Timestamp("2026-01-11")
    assert merged.episode_end == pd.Timestamp("2026-01-15")
    assert "2 runs" in merged.reason
    separate = evaluate_daily(seq, START, rules="2024", merge_gap_days=0)
    assert separate.level == "orange"
    assert separate.episode_start == pd.Timestamp("2026-01-13")
    # a gap of two days does not merge by default
    two_day_gap = evaluate_daily([201, 100, 100, 201, 201], START, rules="2024")
    assert two_day_gap.episode_start == pd.Timestamp("2026-01-13")
    assert evaluate_daily(
        [201, 100, 100, 201, 201], START, rules="2024", merge_gap_days=2
    ).episode_start == pd.Timestamp("2026-01-10")


def test_durations_are_not_added_across_the_gap() -> None:
    # 151, 151 | gap | 151, 151: each run is yellow; one merged episode stays yellow.
    eps = find_episodes([151, 151, 100, 151, 151], get_rule_set("2024"))
    assert len(eps) == 1
    assert (eps[0].first, eps[0].last, eps[0].parts) == (0, 4, ((0, 1), (3, 4)))
    assert eps[0].level == "yellow"


def test_2018_episodes_use_the_200_threshold() -> None:
    eps = find_episodes([180, 201, 201, 180, 201], get_rule_set("2018"))
    assert [(e.first, e.last, e.level) for e in eps] == [(1, 4, "yellow")]


def test_missing_days_never_count() -> None:
    assert level([201, float("nan"), 201]) == "yellow"
    assert level([201, float("nan"), 201], merge_gap_days=0) == "yellow"


# --------------------------------------------------------------------------------------------
# lead time


@pytest.mark.parametrize(
    ("seq", "issued", "lead", "met"),
    [
        ([100, 100, 201], None, 48.0, True),
        ([100, 201], None, 24.0, True),
        ([100, 201], "2026-01-10 10:00", 14.0, False),
        ([100, 100, 201], "2026-01-10 16:00", 32.0, True),
        ([201, 201], None, 0.0, False),
    ],
)
def test_lead_time_is_reported_not_enforced(
    seq: list[float], issued: str | None, lead: float, met: bool
) -> None:
    decision = evaluate_daily(seq, START, rules="2024", issued_at=issued)
    assert decision.level != "none"  # a late warning is still issued
    assert decision.lead_hours == lead
    assert decision.meets_lead_time is met


def test_no_episode_no_lead_time() -> None:
    decision = evaluate_daily([80, 90, 140], START)
    assert decision.level == "none"
    assert (decision.episode_start, decision.lead_hours, decision.meets_lead_time) == (
        None,
        None,
        False,
    )
    assert "highest: 2026-01-12 AQI 140" in decision.reason


# --------------------------------------------------------------------------------------------
# dust and ozone: advice, not a colour (2024); a colour under 2018


def test_dust_episode_gets_advice_under_2024_and_a_colour_under_2018() -> None:
    seq, primary = [250, 320, 240], ["PM10", "PM10", "PM10"]
    d2024 = evaluate_daily(seq, START, rules="2024", primary=primary)
    assert (d2024.level, d2024.advice) == ("none", "dust")
    assert "would be red" in d2024.rule
    assert d2024.episode_start == pd.Timestamp("2026-01-10")
    d2018 = evaluate_daily(seq, START, rules="2018", primary=primary)
    assert (d2018.level, d2018.advice) == ("orange", None)
    # the same AQI with PM2.5 primary is red under 2024
    assert level(seq, primary=["PM2.5"] * 3) == "red"


def test_ozone_episode_gets_ozone_advice() -> None:
    decision = evaluate_daily([210, 220], START, primary=["O3_8h", "O3"])
    assert (decision.level, decision.advice) == ("none", "ozone")


def test_pm10_day_inside_a_pm25_episode_still_counts() -> None:
    # Winter smog: a PM10-primary day between PM2.5 days (most triggering days PM2.5).
    decision = evaluate_daily([210, 377, 220], START, primary=["PM2.5", "PM10", "PM2.5"])
    assert (decision.level, decision.advice) == ("red", None)


def test_dust_episode_then_pm25_episode() -> None:
    seq = [250, 260, 240, 100, 100, 210, 230]
    primary = ["PM10"] * 3 + ["PM2.5"] * 4
    decision = evaluate_daily(seq, START, primary=primary)
    assert (decision.level, decision.advice) == ("orange", "dust")
    assert decision.episode_start == pd.Timestamp("2026-01-15")
    assert np.isnan(decision.days[0].colour_aqi) and decision.days[0].aqi == 250


def test_primary_from_iaqi() -> None:
    decision = evaluate_daily(
        [368, 500, 500], START, iaqi_by={"pm25": [194, 201, 183], "pm10": [368, 500, 500]}
    )
    assert [d.primary for d in decision.days] == ["pm10", "pm10", "pm10"]
    assert (decision.level, decision.advice) == ("none", "dust")


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data folder {SHARED_DATA} not found")
def test_urumqi_spring_dust_2014_no_colour_under_2024(config: object) -> None:
    from forecast.aqi import aqi, iaqi
    from forecast.obs.dataset import import_observations
    from forecast.timeutil import utc_to_beijing

    path = SHARED_DATA / "wuchangshi" / "wuchangshi_daily_aqistudy.csv"
    ds = import_observations([path], "city-daily", config, now=pd.Timestamp("2026-06-01"))  # type: ignore[arg-type]
    urumqi = ds.dataset.sel(site="urumqi")
    days = utc_to_beijing(pd.DatetimeIndex(urumqi["time"].values))
    window = (days >= pd.Timestamp("2014-04-03")) & (days <= pd.Timestamp("2014-04-06"))
    pm25 = urumqi["pm25"].values[window]
    pm10 = urumqi["pm10"].values[window]
    np.testing.assert_array_equal(pm10, [474.3, 849.2, 646.4, 389.6])  # the dust storm
    values = aqi(pm25, pm10, "HJ633-2026")
    table = {"pm25": iaqi(pm25, "pm25", "HJ633-2026"), "pm10": iaqi(pm10, "pm10", "HJ633-2026")}
    d2024 = evaluate_daily(values, "2014-04-03", rules="2024", iaqi_by=table)
    assert (d2024.level, d2024.advice) == ("none", "dust")
    d2018 = evaluate_daily(values, "2014-04-03", rules="2018", iaqi_by=table)
    assert d2018.level == "red"  # AQI reaches 500


# --------------------------------------------------------------------------------------------
# rolling 24-h windows from hourly forecasts


def test_daily_aqi_from_hourly_is_the_trailing_24h_mean() -> None:
    pm25 = np.full(48, 160.0)
    pm10 = np.full(48, 120.0)
    times = pd.date_range("2026-01-09 16:00", periods=48, freq="h")  # naive UTC
    rolling = daily_aqi_from_hourly(pm25, pm10, times, "HJ633-2026")
    assert np.isnan(rolling["aqi"].iloc[18])  # 19 valid hours < 20
    assert rolling["aqi"].iloc[19] == 210  # 20 valid hours of 160 µg/m³
    assert rolling["iaqi_pm10"].iloc[30] == 100
    assert rolling["primary"].iloc[30] == "pm25"
    old = daily_aqi_from_hourly(pm25, pm10, times, "HJ633-2012")
    assert old["iaqi_pm10"].iloc[30] == 85


def test_rolling_window_across_midnight_exceeds_where_calendar_days_do_not() -> None:
    # 160 µg/m³ for the 24 hourly values labelled 13:00 on 10 Jan … 12:00 on 11 Jan (Beijing),
    # 20 µg/m³ otherwise: both calendar days stay lightly polluted, the window 12:00→12:00
    # holds AQI 210.
    labels = pd.date_range("2026-01-09 00:00", "2026-01-13 23:00", freq="h")
    heavy = (labels >= pd.Timestamp("2026-01-10 13:00")) & (
        labels <= pd.Timestamp("2026-01-11 12:00")
    )
    pm25 = np.where(heavy, 160.0, 20.0)
    times = beijing_to_utc(labels)

    ds = xr.Dataset(
        {"pm25": (("site", "time"), pm25[np.newaxis])},
        coords={"site": ["urumqi"], "time": times.values},
        attrs={"time_resolution": "1h"},
    )
    calendar = daily_mean(ds)["pm25"].sel(site="urumqi").to_numpy()
    from forecast.aqi import aqi

    calendar_aqi = aqi(calendar)
    assert calendar_aqi.max() <= 150  # 10 and 11 January: AQI 122 and 133
    by_calendar = evaluate_daily(calendar_aqi, "2026-01-09", rules="2024")
    assert by_calendar.level == "none"

    rolling = daily_aqi_from_hourly(pm25, None, times)
    issued = beijing_to_utc(pd.DatetimeIndex(["2026-01-10 00:00"]))[0]
    decision = evaluate_hourly(rolling, issued_at=issued, rules="2024")
    assert decision.level == "yellow"  # AQI > 200 on one 24-h window
    start = decision.days[decision.triggering_days[0]].start
    assert start.date() == pd.Timestamp("2026-01-10").date()  # the window crosses midnight
    assert (
        decision.days[decision.triggering_days[0]].end.date() == pd.Timestamp("2026-01-11").date()
    )
    assert decision.episode_start is not None and decision.lead_hours is not None
    assert decision.lead_hours == (
        decision.episode_start - pd.Timestamp("2026-01-10")
    ) / pd.Timedelta(hours=1)
    # fixed blocks from the issue time (phase 0, midnight to midnight) see nothing
    assert evaluate_hourly(rolling, issued_at=issued, rules="2024", phases=[0]).level == "none"


def test_hourly_rejects_bad_phase_and_issue_time() -> None:
    rolling = _hourly(np.full(72, 50.0))
    with pytest.raises(ValueError, match="phases must be whole hours within 0–23"):
        evaluate_hourly(rolling, phases=[24])
    with pytest.raises(ValueError, match="no complete 24-h window"):
        evaluate_hourly(rolling, issued_at=rolling.index[-1])


# --------------------------------------------------------------------------------------------
# rule sets from plain data (local plans)


LOCAL_PLAN = {
    "name": "urumqi-local",
    "description": "a stricter local plan",
    "options": {"early_blue": True},
    "advice_only": {"PM10": "dust"},
    "levels": [
        {"level": "red", "any_of": [[{"above": 300, "for_days": 2}], {"at_least": 450}]},
        {"level": "orange", "any_of": [[{"above": 200, "for_hours": 48}]]},
        {"level": "yellow", "any_of": [[{"above": 150, "on_days": 2}]]},
        {"level": "blue", "option": "early_blue", "any_of": [[{"above": 150}]]},
    ],
}


def test_custom_rule_set_from_dict() -> None:
    plan = rule_set_from_dict(LOCAL_PLAN)
    assert isinstance(plan, RuleSet) and plan.name == "urumqi-local"
    assert level([151], rules=plan) == "blue"
    assert level([151, 120, 151], rules=plan) == "blue"  # runs apart
    assert level([151, 160], rules=plan) == "yellow"
    assert level([201, 201], rules=plan) == "orange"
    assert level([450], rules=plan) == "red"
    assert level([301, 301], rules=plan) == "red"
    assert level([151], rules=plan.with_options(early_blue=False)) == "none"
    assert plan.advice_only == {"pm10": "dust"}


def test_custom_rule_set_from_yaml_file(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "rule_sets": {"local": LOCAL_PLAN}}), "utf-8")
    sets = load_rule_sets(path)
    assert list(sets) == ["local"]
    assert sets["local"].levels[0].level == "red"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["levels"][1]["any_of"][0][0].update(abov=200),
            r"rule set 'urumqi-local': levels\[1\]\.any_of\[0\]\[0\]: unknown key 'abov'; "
            r"did you mean 'above'\?",
        ),
        (lambda d: d.update(level=[]), r"unknown key 'level'; did you mean 'levels'\?"),
        (
            lambda d: d["levels"][1]["any_of"][0][0].update(for_hours=47),
            r"levels\[1\]\.any_of\[0\]\[0\]: 'for_hours' must be a multiple of 24 .* got 47",
        ),
        (
            lambda d: d["levels"][0].update(level="purple"),
            r"levels\[0\]\.level: got 'purple'; valid: blue, yellow, orange, red",
        ),
        (
            lambda d: d["levels"][1]["any_of"][0][0].update(above="high"),
            r"'above' must be a number \(AQI 0–500\), got 'high'",
        ),
        (
            lambda d: d["levels"][1]["any_of"][0][0].update(above=600),
            r"'above' must be an AQI within 0–500, got 600",
        ),
        (
            lambda d: d["levels"].reverse(),
            r"levels must be listed from the strictest down; 'yellow' comes after 'blue'",
        ),
        (
            lambda d: d["levels"][3].update(option="night_blue"),
            r"levels\[3\]\.option: 'night_blue' is not declared in 'options' \(early_blue\)",
        ),
        (
            lambda d: d["advice_only"].update(PM1="dust"),
            r"advice_only: unknown pollutant 'PM1'",
        ),
        (lambda d: d.pop("levels"), r"missing key 'levels'"),
    ],
)
def test_malformed_rule_set_names_the_key(change: object, message: str) -> None:
    import copy

    data = copy.deepcopy(LOCAL_PLAN)
    change(data)  # type: ignore[operator]
    with pytest.raises(RuleSetError, match=message):
        rule_set_from_dict(data)


def test_unknown_rule_set_and_option() -> None:
    with pytest.raises(RuleSetError, match="unknown rule set '2020'; valid: 2018, 2024"):
        get_rule_set("2020")
    with pytest.raises(RuleSetError, match="no option 'orange_300'; valid options: blue_level"):
        get_rule_set("2018").with_options(orange_300=False)


def test_bad_aqi_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"aqi\[1\] = -5 is not a valid AQI; expected 0–500"):
        evaluate_daily([100, -5], START)
    with pytest.raises(ValueError, match=r"primary: 1 values for 2 days"):
        evaluate_daily([100, 200], START, primary=["PM10"])
    with pytest.raises(ValueError, match=r"primary\[0\]: unknown pollutant 'dust'"):
        evaluate_daily([100], START, primary=["dust"])


# --------------------------------------------------------------------------------------------
# probabilities from quantile forecasts


QL = [0.1, 0.5, 0.9]


def test_cdf_through_the_quantiles_with_documented_tails() -> None:
    from forecast.warnings import cdf_from_quantiles, ppf_from_quantiles

    xs = [60.0, 100.0, 180.0]
    np.testing.assert_allclose(cdf_from_quantiles(xs, QL, xs), QL)
    assert cdf_from_quantiles(80.0, QL, xs) == pytest.approx(0.3)  # linear between p10, p50
    assert cdf_from_quantiles(30.0, QL, xs) == pytest.approx(0.05)  # linear from F(0) = 0
    assert cdf_from_quantiles(0.0, QL, xs) == 0.0
    # exponential upper tail, λ = 0.1 · 80 / 0.4 = 20 µg/m³
    assert cdf_from_quantiles(200.0, QL, xs) == pytest.approx(1 - 0.1 * np.exp(-1))
    u = np.array([0.02, 0.1, 0.3, 0.7, 0.9, 0.95, 0.999])
    np.testing.assert_allclose(cdf_from_quantiles(ppf_from_quantiles(u, QL, xs), QL, xs), u)
    with pytest.raises(ValueError, match="crossing quantiles"):
        cdf_from_quantiles(10.0, QL, [100.0, 60.0, 180.0])
    with pytest.raises(ValueError, match="increase strictly within"):
        cdf_from_quantiles(10.0, [0.5, 0.1, 0.9], xs)


def test_level_probabilities_comonotone_days() -> None:
    from forecast.warnings import level_probabilities

    # Day 2 and 3 medians at 140 µg/m³ (AQI 173 > 150): the median scenario is yellow.
    quantiles = {0.1: [40, 100, 100], 0.5: [60, 140, 140], 0.9: [80, 180, 180]}
    probs = level_probabilities(quantiles, START, rules="2024")
    assert probs.median_level == "yellow"
    # yellow needs PM2.5 > 115 on both days (comonotone: Q(u) = 115 at u = 0.1 + 0.4·15/40)
    assert probs.at_least["yellow"] == pytest.approx(0.75, abs=1e-3)
    # orange needs > 150 µg/m³ on both (AQI > 200): u = 0.5 + 0.4·10/40 = 0.6
    assert probs.at_least["orange"] == pytest.approx(0.4, abs=1e-3)
    assert probs.at_least["red"] == 0.0
    assert sum(probs.exactly.values()) == pytest.approx(1.0)
    assert probs.daily_exceedance["p_gt_150"].iloc[1] == pytest.approx(0.4)
    assert probs.exactly["yellow"] == pytest.approx(0.35, abs=2e-3)
    assert probs.most_likely() == "orange"  # 0.4 > 0.35 > 0.25


@pytest.mark.parametrize(
    ("p", "observed", "certainty"),
    [
        (0.9, True, "Observed"),
        (0.5, False, "Likely"),
        (0.49, False, "Possible"),
        (0.2, False, "Possible"),
        (0.19, False, "Unlikely"),
        (0.0, False, "Unlikely"),
    ],
)
def test_cap_certainty(p: float, observed: bool, certainty: str) -> None:
    from forecast.warnings import cap_certainty

    assert cap_certainty(p, observed=observed) == certainty


def test_cap_certainty_rejects_bad_probability() -> None:
    from forecast.warnings import cap_certainty

    with pytest.raises(ValueError, match=r"probability must be within 0–1, got 1\.5"):
        cap_certainty(1.5)
