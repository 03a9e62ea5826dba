"""The bulletin data model: plain, typed, immutable values.

A :class:`Bulletin` is everything one forecast cycle tells the public: per-city hourly and daily
PM2.5 forecasts (quantiles p10/p50/p90 in µg/m³), the daily AQI by HJ 633, each city's warning
(level and lifecycle action) and the regional warning, bilingual texts, the state of the inputs
and the model versions. The builder takes plain values (strings, numbers, ``datetime``); it does
not depend on the warning engine.

Times:

- ``issue_time`` and every forecast/observation time are **Beijing time** (``Asia/Shanghai``,
  +08:00). They must be timezone-aware; they are converted to Beijing time and truncated to whole
  seconds. A naive time is an error (its zone would be a guess).
- ``cycle`` (the NWP initialisation time) is **UTC**; a naive value is read as UTC (the engine's
  convention for NWP times), an aware value is converted.

Every check raises :class:`ValueError` naming the field, so that a bulletin that exists is a
bulletin that can be serialised, validated and rendered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from forecast.aqi import CATEGORIES, DEFAULT_STANDARD, STANDARDS, Standard
from forecast.timeutil import BEIJING

SCHEMA_VERSION = "1.0"
BEIJING_TZ = ZoneInfo(BEIJING)

Level = Literal["none", "blue", "yellow", "orange", "red"]
LEVELS: tuple[Level, ...] = get_args(Level)
#: Rank of each level (none 0 … red 4) for upgrade/downgrade checks.
LEVEL_RANK: dict[str, int] = {lvl: i for i, lvl in enumerate(LEVELS)}

Action = Literal["issue", "upgrade", "downgrade", "maintain", "lift", "none"]
ACTIONS: tuple[Action, ...] = get_args(Action)

ComponentState = Literal["ok", "degraded", "failed"]
COMPONENT_STATES: tuple[ComponentState, ...] = get_args(ComponentState)

CityStatus = Literal["ok", "no_forecast", "failed"]
CITY_STATUSES: tuple[CityStatus, ...] = get_args(CityStatus)

#: CAP 1.2 certainty vocabulary (used as is in the CAP output).
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
CERTAINTIES: tuple[Certainty, ...] = get_args(Certainty)

Pollutant = Literal["pm25", "pm10", "o3", "no2", "so2", "co"]
POLLUTANTS: tuple[Pollutant, ...] = get_args(Pollutant)

#: Target name of the regional warning in CAP identifiers and file names (not a city id).
REGIONAL_TARGET = "region"

_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


class UnsafeNameError(ValueError):
    """A value that becomes part of a file name is not a safe file-name component."""


def safe_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a safe file-name component, else raise :class:`UnsafeNameError`.

    Allowed: ``A-Z a-z 0-9 . _ -``; never a path separator, ``..``, or a leading dot (hidden and
    temporary files start with one).
    """
    if not isinstance(value, str) or not value:
        raise UnsafeNameError(f"{what} must be a non-empty string, got {value!r}")
    if "/" in value or "\\" in value or "\x00" in value:
        raise UnsafeNameError(
            f"{what} {value!r} contains a path separator; it becomes a file name, only "
            "letters, digits and . _ - are allowed"
        )
    if ".." in value:
        raise UnsafeNameError(f"{what} {value!r} contains '..'; it becomes a file name")
    if value.startswith("."):
        raise UnsafeNameError(f"{what} {value!r} starts with '.'; it becomes a file name")
    if not _SAFE.match(value):
        bad = sorted({c for c in value if not re.match(r"[A-Za-z0-9._-]", c)})
        raise UnsafeNameError(
            f"{what} {value!r} contains {''.join(bad)!r}; only A-Z a-z 0-9 . _ - are allowed "
            "(it becomes a file name)"
        )
    return value


# --------------------------------------------------------------------------------------------
# time helpers


def _as_datetime(value: object, what: str) -> datetime:
    to_py = getattr(value, "to_pydatetime", None)  # pandas.Timestamp
    if callable(to_py):
        value = to_py()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{what}: not an ISO 8601 date-time: {value!r}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: expected a datetime, got {type(value).__name__} {value!r}")
    return value


def to_beijing(value: object, what: str = "time") -> datetime:
    """A timezone-aware time → the same instant in Beijing time, whole seconds."""
    t = _as_datetime(value, what)
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(
            f"{what} must be timezone-aware (Beijing time, +08:00), got naive {t.isoformat()}"
        )
    return t.astimezone(BEIJING_TZ).replace(microsecond=0)


def to_utc(value: object, what: str = "time") -> datetime:
    """A time → UTC, whole seconds; a naive time is taken to be UTC (NWP convention)."""
    t = _as_datetime(value, what)
    if t.tzinfo is None or t.utcoffset() is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).replace(microsecond=0)


def format_beijing(t: datetime) -> str:
    """``2025-01-15T10:00:00+08:00``."""
    return to_beijing(t).isoformat(timespec="seconds")


def format_utc(t: datetime) -> str:
    """``2025-01-15T00:00:00Z``."""
    return to_utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_date(value: object, what: str) -> date:
    if isinstance(value, datetime):
        return to_beijing(value, what).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what}: not an ISO 8601 date: {value!r}") from None
    raise ValueError(f"{what}: expected a date, got {type(value).__name__} {value!r}")


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_choice(value: object, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        raise ValueError(f"{what}: {value!r} is not one of {', '.join(map(str, choices))}")


def _concentration(value: object, what: str, *, allow_none: bool) -> float | None:
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{what}: a concentration is required")
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{what}: not a number: {value!r}") from None
    if math.isnan(x):
        if allow_none:
            return None
        raise ValueError(f"{what}: NaN")
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{what}: expected a finite concentration ≥ 0 µg/m³, got {x}")
    return x


def _series(values: Iterable[object], what: str) -> tuple[float | None, ...]:
    return tuple(_concentration(v, f"{what}[{i}]", allow_none=True) for i, v in enumerate(values))


def _times(values: Iterable[object], what: str) -> tuple[datetime, ...]:
    times = tuple(to_beijing(t, f"{what}[{i}]") for i, t in enumerate(values))
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            raise ValueError(
                f"{what}[{i}]: times must increase strictly "
                f"({times[i - 1].isoformat()} then {times[i].isoformat()})"
            )
    return times


# --------------------------------------------------------------------------------------------
# values


@dataclass(frozen=True)
class LocalText:
    """One text in Chinese and English."""

    zh: str
    en: str

    def get(self, lang: str) -> str:
        _check_choice(lang, ("zh", "en"), "language")
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class InputStatus:
    """State of one input component (observations, NWP, a model …) for this cycle."""

    component: str
    status: ComponentState
    reason: str | None = None

    def __post_init__(self) -> None:
        if not self.component:
            raise ValueError("input_status.component must not be empty")
        _check_choice(self.status, COMPONENT_STATES, f"input_status[{self.component}].status")


@dataclass(frozen=True)
class HourlyForecast:
    """Hourly PM2.5 forecast quantiles [µg/m³] at Beijing times; ``None`` = missing."""

    times: tuple[datetime, ...]
    p10: tuple[float | None, ...]
    p50: tuple[float | None, ...]
    p90: tuple[float | None, ...]

    def __post_init__(self) -> None:
        _set(self, "times", _times(self.times, "hourly.times"))
        if not self.times:
            raise ValueError("hourly.times: at least one time is required")
        for name in ("p10", "p50", "p90"):
            values = _series(getattr(self, name), f"hourly.{name}")
            if len(values) != len(self.times):
                raise ValueError(f"hourly.{name}: {len(values)} values for {len(self.times)} times")
            _set(self, name, values)
        for i, (lo, mid, hi) in enumerate(zip(self.p10, self.p50, self.p90, strict=True)):
            present = [v for v in (lo, mid, hi) if v is not None]
            if present != sorted(present):
                raise ValueError(
                    f"hourly[{i}] ({self.times[i].isoformat()}): quantiles must satisfy "
                    f"p10 ≤ p50 ≤ p90, got {lo}, {mid}, {hi}"
                )


@dataclass(frozen=True)
class ObservedSeries:
    """Observed city PM2.5 [µg/m³] before the issue time (for plots); ``None`` = missing."""

    times: tuple[datetime, ...]
    pm25: tuple[float | None, ...]

    def __post_init__(self) -> None:
        _set(self, "times", _times(self.times, "observed.times"))
        values = _series(self.pm25, "observed.pm25")
        if len(values) != len(self.times):
            raise ValueError(f"observed.pm25: {len(values)} values for {len(self.times)} times")
        _set(self, "pm25", values)


@dataclass(frozen=True)
class AqiCategory:
    """An HJ 633 AQI category as shown to the public."""

    level: str
    name_zh: str
    name_en: str
    colour: str

    def __post_init__(self) -> None:
        known = {(c.level, c.name_zh, c.name_en, c.colour) for c in CATEGORIES}
        if (self.level, self.name_zh, self.name_en, self.colour) not in known:
            raise ValueError(
                f"category {self.level}/{self.name_zh}/{self.name_en}/{self.colour} is not an "
                "HJ 633 category (see forecast.aqi.CATEGORIES)"
            )

    @classmethod
    def of_aqi(cls, aqi_value: float) -> AqiCategory:
        from forecast.aqi import category

        cat = category(aqi_value)
        return cls(cat.level, cat.name_zh, cat.name_en, cat.colour)


@dataclass(frozen=True)
class DailyForecast:
    """Forecast 24-hour mean PM2.5 of one Beijing calendar day and its AQI."""

    date: date
    pm25_p10: float
    pm25_p50: float
    pm25_p90: float
    aqi: int
    category: AqiCategory
    primary_pollutant: Pollutant | None = None

    def __post_init__(self) -> None:
        _set(self, "date", _as_date(self.date, "daily.date"))
        what = f"daily[{self.date.isoformat()}]"
        for name in ("pm25_p10", "pm25_p50", "pm25_p90"):
            _set(
                self, name, _concentration(getattr(self, name), f"{what}.{name}", allow_none=False)
            )
        if not self.pm25_p10 <= self.pm25_p50 <= self.pm25_p90:
            raise ValueError(
                f"{what}: quantiles must satisfy p10 ≤ p50 ≤ p90, got "
                f"{self.pm25_p10}, {self.pm25_p50}, {self.pm25_p90}"
            )
        if isinstance(self.aqi, bool) or not isinstance(self.aqi, int | float):
            raise ValueError(f"{what}.aqi: expected an integer, got {self.aqi!r}")
        if self.aqi != int(self.aqi) or not 0 <= self.aqi <= 500:
            raise ValueError(f"{what}.aqi: expected an integer 0…500, got {self.aqi}")
        _set(self, "aqi", int(self.aqi))
        expected = AqiCategory.of_aqi(self.aqi)
        if self.category != expected:
            raise ValueError(
                f"{what}.category: AQI {self.aqi} is {expected.name_en}, not "
                f"{self.category.name_en}"
            )
        if self.primary_pollutant is not None:
            _check_choice(self.primary_pollutant, POLLUTANTS, f"{what}.primary_pollutant")


def daily_forecast(
    day: date | str,
    pm25_p10: float,
    pm25_p50: float,
    pm25_p90: float,
    *,
    pm10: float | None = None,
    standard: Standard = DEFAULT_STANDARD,
) -> DailyForecast:
    """A :class:`DailyForecast` whose AQI, category and primary pollutant follow HJ 633.

    The AQI is that of the median (p50) 24-hour mean PM2.5 and, when given, of the PM10 24-hour
    mean [µg/m³]; the primary pollutant is reported only when AQI > 50.
    """
    from forecast.aqi import iaqi

    p50 = _concentration(pm25_p50, f"daily[{day}].pm25_p50", allow_none=False)
    i25 = float(iaqi(float(p50 or 0.0), "pm25", standard))
    i10 = -1.0
    if pm10 is not None:
        c10 = _concentration(pm10, f"daily[{day}].pm10", allow_none=False)
        i10 = float(iaqi(float(c10 or 0.0), "pm10", standard))
    value = int(max(i25, i10))
    primary: Pollutant | None = None
    if value > 50:
        primary = "pm10" if i10 > i25 else "pm25"
    return DailyForecast(
        day,  # type: ignore[arg-type]
        pm25_p10,
        pm25_p50,
        pm25_p90,
        value,
        AqiCategory.of_aqi(value),
        primary,
    )


@dataclass(frozen=True)
class CapReference:
    """An earlier CAP message (``sender,identifier,sent`` in CAP ``references``)."""

    sender: str
    identifier: str
    sent: datetime

    def __post_init__(self) -> None:
        for name in ("sender", "identifier"):
            value = getattr(self, name)
            if not value or re.search(r"[\s,<&]", value):
                raise ValueError(
                    f"reference {name} {value!r}: CAP forbids spaces, commas, '<' and '&'"
                )
        _set(self, "sent", to_beijing(self.sent, "reference.sent"))

    def render(self) -> str:
        return f"{self.sender},{self.identifier},{format_beijing(self.sent)}"


@dataclass(frozen=True)
class WarningState:
    """The warning of a city or of the region, as decided by the warning engine.

    ``level`` is the level in force after ``action``; ``previous_level`` the one before (``None``
    when unknown). ``probabilities`` maps levels to probabilities 0…1 (as given by the engine).
    ``certainty`` uses the CAP vocabulary. ``references`` are the CAP messages this warning
    updates or cancels (see :func:`forecast.bulletin.cap.link_references`).
    """

    level: Level
    action: Action
    reason: str = ""
    rule: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    probabilities: Mapping[str, float] = field(default_factory=dict)
    certainty: Certainty = "Unknown"
    previous_level: Level | None = None
    references: tuple[CapReference, ...] = ()

    def __post_init__(self) -> None:
        _check_choice(self.level, LEVELS, "warning.level")
        _check_choice(self.action, ACTIONS, "warning.action")
        if self.previous_level is not None:
            _check_choice(self.previous_level, LEVELS, "warning.previous_level")
        cert = str(self.certainty).capitalize()
        _check_choice(cert, CERTAINTIES, "warning.certainty")
        _set(self, "certainty", cert)
        for name in ("valid_from", "valid_to"):
            value = getattr(self, name)
            if value is not None:
                _set(self, name, to_beijing(value, f"warning.{name}"))
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(
                f"warning.valid_to {self.valid_to.isoformat()} is before valid_from "
                f"{self.valid_from.isoformat()}"
            )
        probs: dict[str, float] = {}
        for key, p in sorted(self.probabilities.items(), key=lambda kv: LEVEL_RANK.get(kv[0], 9)):
            _check_choice(key, LEVELS, "warning.probabilities key")
            x = float(p)
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"warning.probabilities[{key}]: {x} is not within 0…1")
            probs[key] = x
        _set(self, "probabilities", probs)
        _set(self, "references", tuple(self.references))
        # Lifecycle consistency: these combinations would produce contradictory alerts.
        if self.action == "lift" and self.level != "none":
            raise ValueError(f"warning: action 'lift' leaves level 'none', got {self.level!r}")
        if self.level == "none" and self.action not in ("none", "lift"):
            raise ValueError(f"warning: action {self.action!r} needs a level other than 'none'")
        if self.previous_level is not None and self.action in ("upgrade", "downgrade"):
            before, after = LEVEL_RANK[self.previous_level], LEVEL_RANK[self.level]
            if (self.action == "upgrade") != (after > before) or after == before:
                raise ValueError(
                    f"warning: {self.action} from {self.previous_level!r} to {self.level!r}"
                )

    @property
    def active(self) -> bool:
        """True when a warning is in force after this bulletin."""
        return self.level != "none"

    @property
    def emits_alert(self) -> bool:
        """True when this warning produces a CAP message (every action except ``none``)."""
        return self.action != "none"


@dataclass(frozen=True)
class CityForecast:
    """One city's forecast, warning and recent observations."""

    city_id: str
    name_zh: str
    name_en: str
    status: CityStatus = "ok"
    reason: str | None = None
    hourly: HourlyForecast | None = None
    daily: tuple[DailyForecast, ...] = ()
    warning: WarningState | None = None
    observed: ObservedSeries | None = None

    def __post_init__(self) -> None:
        safe_name(self.city_id, "city id")
        if self.city_id == REGIONAL_TARGET:
            raise ValueError(f"city id {REGIONAL_TARGET!r} is reserved for the regional warning")
        _check_choice(self.status, CITY_STATUSES, f"cities[{self.city_id}].status")
        _set(self, "daily", tuple(self.daily))
        days = [d.date for d in self.daily]
        if days != sorted(set(days)):
            raise ValueError(f"cities[{self.city_id}].daily: dates must be unique and increasing")
        if self.status == "ok" and self.hourly is None:
            raise ValueError(f"cities[{self.city_id}]: status 'ok' needs an hourly forecast")
        if self.status != "ok" and not self.reason:
            raise ValueError(f"cities[{self.city_id}]: status {self.status!r} needs a reason")


@dataclass(frozen=True)
class RegionalWarning:
    """The Wu-Chang-Shi regional warning covering ``member_cities``."""

    name_zh: str
    name_en: str
    member_cities: tuple[str, ...]
    warning: WarningState

    def __post_init__(self) -> None:
        _set(self, "member_cities", tuple(self.member_cities))
        if not self.member_cities:
            raise ValueError("regional.member_cities must not be empty")
        for city in self.member_cities:
            safe_name(city, "regional member city id")


def bulletin_id(region: str, issue_time: datetime, cycle: datetime) -> str:
    """``wcs-<region>-<YYYYMMDDTHHMM issue time, Beijing>-<YYYYMMDDHH cycle, UTC>``."""
    safe_name(region, "region")
    issued = to_beijing(issue_time, "issue_time").strftime("%Y%m%dT%H%M")
    return f"wcs-{region}-{issued}-{to_utc(cycle, 'cycle').strftime('%Y%m%d%H')}"


@dataclass(frozen=True)
class Bulletin:
    """One forecast-and-warning bulletin of the region."""

    region: str
    issue_time: datetime
    cycle: datetime
    cities: tuple[CityForecast, ...]
    regional: RegionalWarning
    headline: LocalText
    description: LocalText
    advice: LocalText
    model_versions: Mapping[str, str] = field(default_factory=dict)
    input_status: tuple[InputStatus, ...] = ()
    revision: int = 1
    aqi_standard: Standard = DEFAULT_STANDARD
    synthetic: bool = False

    def __post_init__(self) -> None:
        safe_name(self.region, "region")
        _set(self, "issue_time", to_beijing(self.issue_time, "issue_time"))
        _set(self, "cycle", to_utc(self.cycle, "cycle"))
        _set(self, "cities", tuple(self.cities))
        _set(self, "input_status", tuple(self.input_status))
        _set(self, "model_versions", dict(sorted(self.model_versions.items())))
        if not self.cities:
            raise ValueError("a bulletin needs at least one city")
        ids = [c.city_id for c in self.cities]
        dupes = sorted({c for c in ids if ids.count(c) > 1})
        if dupes:
            raise ValueError(f"cities: duplicate city id(s) {', '.join(dupes)}")
        for key in self.model_versions:
            safe_name(key, "model_versions key")
        if isinstance(self.revision, bool) or not isinstance(self.revision, int):
            raise ValueError(f"revision must be an integer ≥ 1, got {self.revision!r}")
        if self.revision < 1:
            raise ValueError(f"revision must be an integer ≥ 1, got {self.revision}")
        _check_choice(self.aqi_standard, STANDARDS, "aqi_standard")

    @property
    def id(self) -> str:
        return bulletin_id(self.region, self.issue_time, self.cycle)

    def city(self, city_id: str) -> CityForecast:
        for c in self.cities:
            if c.city_id == city_id:
                return c
        raise KeyError(f"no city {city_id!r} in bulletin {self.id}; cities: {self.city_ids}")

    @property
    def city_ids(self) -> tuple[str, ...]:
        return tuple(c.city_id for c in self.cities)

    def warnings(self) -> list[tuple[str, WarningState]]:
        """(target, warning) for every city with a warning and the region (last)."""
        out: list[tuple[str, WarningState]] = [
            (c.city_id, c.warning) for c in self.cities if c.warning is not None
        ]
        out.append((REGIONAL_TARGET, self.regional.warning))
        return out

    def replace(self, **changes: Any) -> Bulletin:
        from dataclasses import replace

        return replace(self, **changes)
