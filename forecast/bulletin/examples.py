"""A realistic, fully synthetic example bulletin (tests, documentation, demos).

The situation is a January heating-season episode in the Wu-Chang-Shi region, made up for
illustration (not a forecast, not observed data; the bulletin is marked ``synthetic`` so its CAP
alerts have status ``Exercise``):

- **Urumqi**: red warning, **upgraded** from the orange warning of the previous bulletin.
- **Changji**: orange warning **issued**.
- **Shihezi**: no warning; lightly polluted days and one dust day (PM10 primary, advice only).
- **Wujiaqu**: **no forecast** — both stations without valid data for 52 h.
- **Region**: orange warning, upgraded from yellow.

:func:`example_previous_bulletin` is the bulletin issued one day earlier, which the example's
``upgrade`` actions reference (CAP ``references``).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

from forecast.bulletin.cap import DEFAULT_SENDER, link_references
from forecast.bulletin.model import (
    BEIJING_TZ,
    Bulletin,
    CityForecast,
    DailyForecast,
    HourlyForecast,
    InputStatus,
    ObservedSeries,
    RegionalWarning,
    WarningState,
    daily_forecast,
)
from forecast.bulletin.texts import auto_texts

REGION = "wuchangshi"
CITIES = {
    "urumqi": ("乌鲁木齐", "Urumqi"),
    "changji": ("昌吉州", "Changji"),
    "shihezi": ("石河子", "Shihezi"),
    "wujiaqu": ("五家渠", "Wujiaqu"),
}
MODEL_VERSION = "lgbm-quantile-2025.01.2"
HORIZON_DAYS = 7
OBSERVED_HOURS = 72


def _bj(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=BEIJING_TZ)


def _diurnal(t: datetime) -> float:
    """Night-time maximum (heating, inversion) around 22:00, minimum mid-afternoon."""
    return 1.0 + 0.22 * math.cos(2 * math.pi * (t.hour - 22) / 24)


def _daily_at(t: datetime, first_day: date, means: list[float]) -> float:
    """Daily means interpolated linearly between noons."""
    x = t - datetime(first_day.year, first_day.month, first_day.day, 12, tzinfo=BEIJING_TZ)
    pos = min(max(x.total_seconds() / 86400.0, 0.0), len(means) - 1.0)
    i = min(int(pos), len(means) - 2)
    return means[i] + (means[i + 1] - means[i]) * (pos - i)


def _city(
    city_id: str,
    issue: datetime,
    means: list[float],
    *,
    warning: WarningState | None,
    dust_pm10: dict[int, float] | None = None,
) -> CityForecast:
    first = issue.date()
    times = [issue + timedelta(hours=h) for h in range(1, HORIZON_DAYS * 24 + 1)]
    p10, p50, p90 = [], [], []
    for t in times:
        mid = _daily_at(t, first, means) * _diurnal(t)
        lead = (t - issue).total_seconds() / 86400.0
        p50.append(mid)
        p10.append(mid * (0.82 - 0.035 * lead))
        p90.append(mid * (1.2 + 0.06 * lead))
    daily: list[DailyForecast] = []
    for k, mean in enumerate(means):
        spread = 0.12 + 0.05 * k
        daily.append(
            daily_forecast(
                first + timedelta(days=k),
                mean * (1 - spread),
                mean,
                mean * (1 + 1.3 * spread),
                pm10=(dust_pm10 or {}).get(k),
                standard="HJ633-2026",
            )
        )
    obs_times = [issue - timedelta(hours=h) for h in range(OBSERVED_HOURS - 1, -1, -1)]
    start = means[0] * 0.45
    obs: list[float | None] = []
    for i, t in enumerate(obs_times):
        trend = start + (means[0] - start) * i / (OBSERVED_HOURS - 1)
        obs.append(None if i in (20, 21, 47) else trend * _diurnal(t))
    name_zh, name_en = CITIES[city_id]
    return CityForecast(
        city_id,
        name_zh,
        name_en,
        hourly=HourlyForecast(tuple(times), tuple(p10), tuple(p50), tuple(p90)),
        daily=tuple(daily),
        warning=warning,
        observed=ObservedSeries(tuple(obs_times), tuple(obs)),
    )


def _no_forecast_city(city_id: str, issue: datetime, reason: str, lost: datetime) -> CityForecast:
    obs_times = [issue - timedelta(hours=h) for h in range(OBSERVED_HOURS - 1, -1, -1)]
    obs = [None if t > lost else 70.0 * _diurnal(t) for t in obs_times]
    name_zh, name_en = CITIES[city_id]
    return CityForecast(
        city_id,
        name_zh,
        name_en,
        status="no_forecast",
        reason=reason,
        warning=None,
        observed=ObservedSeries(tuple(obs_times), tuple(obs)),
    )


def _finish(
    issue: datetime,
    cycle: datetime,
    cities: list[CityForecast],
    regional: WarningState,
    input_status: list[InputStatus],
) -> Bulletin:
    reg = RegionalWarning("乌昌石区域", "Wu-Chang-Shi region", tuple(CITIES), regional)
    headline, description, advice = auto_texts(cities, reg)
    return Bulletin(
        region=REGION,
        issue_time=issue,
        cycle=cycle,
        cities=tuple(cities),
        regional=reg,
        headline=headline,
        description=description,
        advice=advice,
        model_versions=dict.fromkeys(CITIES, MODEL_VERSION),
        input_status=tuple(input_status),
        aqi_standard="HJ633-2026",
        synthetic=True,
    )


def example_previous_bulletin() -> Bulletin:
    """The bulletin of 14 January 2025 10:00: Urumqi orange and regional yellow issued."""
    issue = _bj(2025, 1, 14, 10)
    cycle = datetime(2025, 1, 14, 0, tzinfo=timezone.utc)
    cities = [
        _city(
            "urumqi",
            issue,
            [118, 142, 196, 236, 252, 210, 150],
            warning=WarningState(
                "orange",
                "issue",
                reason="forecast daily AQI > 200 from 16 to 18 January (p50)",
                rule="2024/orange: AQI > 200 for 48 h",
                valid_from=_bj(2025, 1, 16),
                valid_to=_bj(2025, 1, 19),
                probabilities={"none": 0.05, "yellow": 0.2, "orange": 0.55, "red": 0.2},
                certainty="Likely",
            ),
        ),
        _city(
            "changji",
            issue,
            [96, 120, 150, 176, 170, 140, 110],
            warning=WarningState(
                "none",
                "none",
                reason="no warning condition met",
                probabilities={"none": 0.6, "yellow": 0.3, "orange": 0.1, "red": 0.0},
                certainty="Possible",
            ),
        ),
        _city(
            "shihezi",
            issue,
            [55, 60, 70, 82, 90, 80, 60],
            warning=WarningState(
                "none",
                "none",
                reason="no warning condition met",
                probabilities={"none": 0.9, "yellow": 0.1},
                certainty="Likely",
            ),
        ),
        _city(
            "wujiaqu",
            issue,
            [80, 96, 120, 140, 150, 130, 100],
            warning=WarningState(
                "none",
                "none",
                reason="no warning condition met",
                probabilities={"none": 0.8, "yellow": 0.2},
                certainty="Likely",
            ),
        ),
    ]
    regional = WarningState(
        "yellow",
        "issue",
        reason="Urumqi orange warning; the region's cities forecast above AQI 150 from 16 January",
        rule="2024/regional: highest member level, capped one step below when only one city",
        valid_from=_bj(2025, 1, 16),
        valid_to=_bj(2025, 1, 19),
        probabilities={"none": 0.1, "yellow": 0.5, "orange": 0.3, "red": 0.1},
        certainty="Likely",
    )
    status = [
        InputStatus("observations", "ok"),
        InputStatus("nwp", "ok"),
        InputStatus("models", "ok"),
    ]
    return _finish(issue, cycle, cities, regional, status)


def example_bulletin(sender: str = DEFAULT_SENDER) -> Bulletin:
    """The bulletin of 15 January 2025 10:00 (cycle 00 UTC), linked to the previous one."""
    issue = _bj(2025, 1, 15, 10)
    cycle = datetime(2025, 1, 15, 0, tzinfo=timezone.utc)
    lost = _bj(2025, 1, 13, 6)
    cities = [
        _city(
            "urumqi",
            issue,
            [150, 228, 318, 336, 276, 188, 96],
            warning=WarningState(
                "red",
                "upgrade",
                reason="forecast daily AQI > 200 from 16 to 19 January and > 300 on 17 and "
                "18 January (p50)",
                rule="2024/red: AQI > 200 for 72 h and > 300 for ≥ 24 h",
                valid_from=_bj(2025, 1, 16),
                valid_to=_bj(2025, 1, 20),
                probabilities={"none": 0.02, "yellow": 0.05, "orange": 0.18, "red": 0.75},
                certainty="Likely",
                previous_level="orange",
            ),
        ),
        _city(
            "changji",
            issue,
            [128, 196, 232, 214, 168, 120, 80],
            warning=WarningState(
                "orange",
                "issue",
                reason="forecast daily AQI > 200 from 16 to 19 January (p50)",
                rule="2024/orange: AQI > 200 for 48 h",
                valid_from=_bj(2025, 1, 16),
                valid_to=_bj(2025, 1, 20),
                probabilities={"none": 0.05, "yellow": 0.15, "orange": 0.6, "red": 0.2},
                certainty="Likely",
            ),
        ),
        _city(
            "shihezi",
            issue,
            [62, 84, 98, 92, 75, 52, 38],
            warning=WarningState(
                "none",
                "none",
                reason="forecast daily AQI ≤ 150 on every day; 21 January is a dust day "
                "(PM10 primary): health advice only",
                probabilities={"none": 0.85, "yellow": 0.12, "orange": 0.03, "red": 0.0},
                certainty="Likely",
            ),
            dust_pm10={6: 260.0},
        ),
        _no_forecast_city(
            "wujiaqu",
            issue,
            "stations 2711A and 3441A without valid PM2.5 for 52 h (since 2025-01-13 06:00 "
            "Beijing time); the model needs the last 24 h",
            lost,
        ),
    ]
    regional = WarningState(
        "orange",
        "upgrade",
        reason="Urumqi red and Changji orange warnings: two member cities at orange or above",
        rule="2024/regional: orange when ≥ 2 member cities are orange or above",
        valid_from=_bj(2025, 1, 16),
        valid_to=_bj(2025, 1, 20),
        probabilities={"none": 0.05, "yellow": 0.15, "orange": 0.55, "red": 0.25},
        certainty="Likely",
        previous_level="yellow",
    )
    status = [
        InputStatus(
            "observations",
            "degraded",
            "wujiaqu: stations 2711A, 3441A without valid data for 52 h",
        ),
        InputStatus("nwp", "ok"),
        InputStatus("models", "degraded", "wujiaqu: no forecast (inputs missing)"),
    ]
    current = _finish(issue, cycle, cities, regional, status)
    return link_references(current, example_previous_bulletin(), sender)
