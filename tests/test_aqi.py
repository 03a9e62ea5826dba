"""AQI by HJ 633: at and between every breakpoint of both editions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecast.aqi import (
    CATEGORIES,
    CONCENTRATION_BREAKPOINTS,
    IAQI_BREAKPOINTS,
    STANDARDS,
    aqi,
    beyond_range,
    category,
    iaqi,
)


def _by_hand(c: float, table: list[float]) -> int:
    """Slow, obvious HJ 633 formula: find the segment, interpolate, round up."""
    iaqis = [0, 50, 100, 150, 200, 300, 400, 500]
    if c > table[-1]:
        return 500
    for k in range(len(table) - 1):
        if table[k] <= c <= table[k + 1]:
            value = (iaqis[k + 1] - iaqis[k]) / (table[k + 1] - table[k]) * (c - table[k])
            return math.ceil(round(value + iaqis[k], 9))
    raise AssertionError(c)


@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("pollutant", ["pm25", "pm10"])
def test_iaqi_at_and_between_breakpoints(standard: str, pollutant: str) -> None:
    table = CONCENTRATION_BREAKPOINTS[standard][pollutant]  # type: ignore[index]
    assert iaqi(table, pollutant, standard).tolist() == IAQI_BREAKPOINTS.tolist()  # type: ignore[arg-type]
    mids = (table[:-1] + table[1:]) / 2
    just_above = table[:-1] + 0.1
    for c in [*mids, *just_above]:
        assert iaqi(c, pollutant, standard) == _by_hand(float(c), list(table)), c  # type: ignore[arg-type]


def test_the_2026_edition_tightens_the_good_band() -> None:
    # 60 µg/m³ is IAQI 100 under HJ 633-2026 but 82 under HJ 633-2012.
    assert iaqi(60, "pm25", "HJ633-2026") == 100
    assert iaqi(60, "pm25", "HJ633-2012") == 82
    assert iaqi(120, "pm10", "HJ633-2026") == 100
    assert iaqi(120, "pm10", "HJ633-2012") == 85


def test_aqi_is_the_maximum_and_nan_aware() -> None:
    result = aqi([100.0, np.nan, np.nan], [300.0, 80.0, np.nan], "HJ633-2012")
    assert result[0] == 175  # PM10 IAQI 175 beats PM2.5 IAQI 132
    assert result[1] == 65
    assert np.isnan(result[2])


def test_above_the_top_breakpoint_is_capped_at_500() -> None:
    assert iaqi(501, "pm25").item() == 500
    assert iaqi(900, "pm10").item() == 500
    assert beyond_range([500, 500.1]).tolist() == [False, True]


def test_aqi_200_boundary_is_pm25_150() -> None:
    assert iaqi(150.0, "pm25") == 200
    assert iaqi(150.1, "pm25") == 201
    assert iaqi(250.0, "pm25") == 300
    assert iaqi(250.1, "pm25") == 301


def test_categories() -> None:
    assert [
        category(v).name_en for v in (0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500)
    ] == [
        "Excellent",
        "Excellent",
        "Good",
        "Good",
        "Lightly polluted",
        "Lightly polluted",
        "Moderately polluted",
        "Moderately polluted",
        "Heavily polluted",
        "Heavily polluted",
        "Severely polluted",
        "Severely polluted",
    ]
    assert category(250).colour == "#99004C"
    assert len(CATEGORIES) == 6
    with pytest.raises(ValueError, match="finite"):
        category(float("nan"))


def test_bad_inputs_are_errors() -> None:
    with pytest.raises(ValueError, match="negative"):
        iaqi(-1.0)
    with pytest.raises(ValueError, match="valid: HJ633-2012, HJ633-2026"):
        iaqi(10.0, "pm25", "HJ633-2099")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no breakpoints for 'o3'"):
        iaqi(10.0, "o3")
