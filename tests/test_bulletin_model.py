"""Bulletin data model: ids, safe names, time zones and consistency checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from forecast.bulletin.examples import example_bulletin
from forecast.bulletin.model import (
    BEIJING_TZ,
    Bulletin,
    HourlyForecast,
    UnsafeNameError,
    WarningState,
    bulletin_id,
    daily_forecast,
    format_beijing,
    safe_name,
)


@pytest.fixture(scope="module")
def bulletin() -> Bulletin:
    return example_bulletin()


def test_id_uses_beijing_issue_time_and_utc_cycle() -> None:
    # 02:30 UTC on 15 Jan is 10:30 Beijing time; the cycle stays in UTC.
    issue = datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc)
    cycle = datetime(2025, 1, 14, 12)  # naive NWP time = UTC
    assert bulletin_id("wuchangshi", issue, cycle) == "wcs-wuchangshi-20250115T1030-2025011412"
    cycle_bj = datetime(2025, 1, 15, 8, tzinfo=BEIJING_TZ)  # = 00 UTC
    assert bulletin_id("wuchangshi", issue, cycle_bj).endswith("-2025011500")


def test_example_bulletin_shape(bulletin: Bulletin) -> None:
    assert bulletin.id == "wcs-wuchangshi-20250115T1000-2025011500"
    assert format_beijing(bulletin.issue_time) == "2025-01-15T10:00:00+08:00"
    assert bulletin.city_ids == ("urumqi", "changji", "shihezi", "wujiaqu")
    urumqi, changji, shihezi, wujiaqu = bulletin.cities
    assert (urumqi.warning.level, urumqi.warning.action) == ("red", "upgrade")  # type: ignore[union-attr]
    assert (changji.warning.level, changji.warning.action) == ("orange", "issue")  # type: ignore[union-attr]
    assert shihezi.warning is not None and shihezi.warning.level == "none"
    assert wujiaqu.status == "no_forecast" and wujiaqu.reason and wujiaqu.hourly is None
    assert bulletin.regional.warning.level == "orange"
    # the upgrade references the previous bulletin's Urumqi alert
    (ref,) = urumqi.warning.references  # type: ignore[union-attr]
    assert ref.identifier == "wcs-wuchangshi-20250114T1000-2025011400.urumqi"


@pytest.mark.parametrize(
    "bad", ["../evil", "a/b", "a\\b", "..", ".hidden", "wu chang", "乌昌石", "a..b", ""]
)
def test_unsafe_names_rejected(bad: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_name(bad, "region")


def test_unsafe_region_rejected_in_bulletin(bulletin: Bulletin) -> None:
    with pytest.raises(UnsafeNameError, match=r"region '\.\./x'.*path separator"):
        replace(bulletin, region="../x")
    assert safe_name("wuchangshi_2.v-1") == "wuchangshi_2.v-1"


def test_naive_issue_time_rejected(bulletin: Bulletin) -> None:
    with pytest.raises(ValueError, match="issue_time must be timezone-aware"):
        replace(bulletin, issue_time=datetime(2025, 1, 15, 10))


def test_times_converted_to_beijing(bulletin: Bulletin) -> None:
    b = replace(bulletin, issue_time=datetime(2025, 1, 15, 2, tzinfo=timezone.utc))
    assert b.issue_time.utcoffset() == timedelta(hours=8)
    assert b.issue_time.hour == 10


def test_lifecycle_consistency_checks() -> None:
    with pytest.raises(ValueError, match="lift"):
        WarningState("orange", "lift")
    with pytest.raises(ValueError, match="needs a level"):
        WarningState("none", "issue")
    with pytest.raises(ValueError, match="upgrade from 'red' to 'orange'"):
        WarningState("orange", "upgrade", previous_level="red")
    with pytest.raises(ValueError, match="purple"):
        WarningState("purple", "issue")  # type: ignore[arg-type]
    assert WarningState("red", "issue", certainty="likely").certainty == "Likely"  # type: ignore[arg-type]


def test_hourly_checks() -> None:
    t0 = datetime(2025, 1, 15, 11, tzinfo=BEIJING_TZ)
    times = [t0, t0 + timedelta(hours=1)]
    with pytest.raises(ValueError, match=r"hourly\.p10: 1 values for 2 times"):
        HourlyForecast(times, [1.0], [2.0, 3.0], [4.0, 5.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="p10 ≤ p50 ≤ p90"):
        HourlyForecast(times, [5.0, 1.0], [2.0, 3.0], [4.0, 5.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="increase strictly"):
        HourlyForecast([t0, t0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0])  # type: ignore[arg-type]
    h = HourlyForecast(times, [float("nan"), 1.0], [None, 2.0], [None, 3.0])  # type: ignore[arg-type]
    assert h.p10 == (None, 1.0)


def test_daily_forecast_follows_hj633() -> None:
    d = daily_forecast("2025-01-17", 250.0, 318.0, 409.0, standard="HJ633-2026")
    assert d.aqi == 368 and d.category.name_en == "Severely polluted"
    assert d.primary_pollutant == "pm25"
    # 70 µg/m³ is "lightly polluted" under HJ 633-2026 but "good" under HJ 633-2012
    assert daily_forecast("2025-01-17", 60, 70, 80, standard="HJ633-2026").category.level == "III"
    assert daily_forecast("2025-01-17", 60, 70, 80, standard="HJ633-2012").category.level == "II"
    dust = daily_forecast("2025-04-01", 30, 38, 50, pm10=260.0)
    assert dust.primary_pollutant == "pm10" and dust.aqi == 155
    clean = daily_forecast("2025-04-01", 10, 20, 30)
    assert clean.primary_pollutant is None  # AQI ≤ 50: no primary pollutant
