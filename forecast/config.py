"""The engine's configuration: one typed, validated object loaded explicitly from YAML.

Nothing is read at import time. :func:`load_config` reads the file with a safe YAML loader,
rejects unknown keys (naming the key path and suggesting the closest valid key), checks
cross-references (every station's city exists, codes are unique, …) and resolves relative paths
against the directory of the config file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from forecast.errors import ConfigError
from forecast.obs.qc import QCParams
from forecast.timeutil import BEIJING, FORBIDDEN_ZONES

ObsFormat = Literal["cnemc-hourly", "station-hourly", "china-sites", "city-daily", "tidy"]
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")


def _require_unique(what: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what}: {value!r} appears more than once")
        seen.add(value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(value: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("base_dir")
    if value is not None and base is not None and not value.is_absolute():
        return (Path(base) / value).resolve()
    return value


def _check_zone(zone: str) -> str:
    if zone in FORBIDDEN_ZONES:
        raise ValueError(
            f"{zone!r} is UTC+6; station data, bulletins and schedules use Beijing time, "
            f"expected {BEIJING!r}"
        )
    if zone != BEIJING:
        raise ValueError(f"expected {BEIJING!r} (Beijing time, UTC+8), got {zone!r}")
    return zone


class RegionConfig(_Strict):
    id: str
    name_zh: str
    name_en: str
    time_zone: str = BEIJING
    grid_margin_deg: float = Field(0.5, ge=0, le=10, description="grid coverage margin [degrees]")

    _zone = field_validator("time_zone")(staticmethod(_check_zone))


class CityConfig(_Strict):
    id: str
    name_zh: str
    name_en: str
    aliases: tuple[str, ...] = ()
    #: centre [degrees east/north]; default: the mean of the city's non-reference stations.
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)

    @field_validator("id")
    @staticmethod
    def _id_is_safe(value: str) -> str:
        # City ids become file names and JSON keys: keep them to a safe alphabet.
        if not _ID.match(value):
            raise ValueError(f"city id {value!r} must match {_ID.pattern}")
        return value

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this city may appear under in source files."""
        return (self.id, self.name_zh, self.name_en, *self.aliases)


class StationConfig(_Strict):
    code: str = Field(pattern=r"^[0-9]{4}A$", description="national station code, e.g. 1490A")
    name: str
    city: str
    lon: float = Field(ge=-180, le=180, description="longitude [degrees east]")
    lat: float = Field(ge=-90, le=90, description="latitude [degrees north]")
    reference_site: bool = False


class SourceConfig(_Strict):
    format: str
    pattern: str


class SourcesConfig(_Strict):
    observations: tuple[SourceConfig, ...] = ()
    nwp: tuple[SourceConfig, ...] = ()


class DataConfig(_Strict):
    observations_dir: Path = Path("data/obs")
    nwp_dir: Path = Path("data/nwp")
    models_dir: Path = Path("data/models")
    bulletins_dir: Path = Path("data/bulletins")
    cache_dir: Path = Path("data/cache")
    sources: SourcesConfig = SourcesConfig()

    _paths = field_validator(
        "observations_dir", "nwp_dir", "models_dir", "bulletins_dir", "cache_dir"
    )(staticmethod(_resolve))


class CityMeanConfig(_Strict):
    min_stations: int = Field(1, ge=1, description="valid non-reference stations needed")
    min_valid_hours: int = Field(20, ge=1, le=24, description="valid hours for a 24-h mean")


class ObservationsConfig(_Strict):
    qc: QCParams = QCParams()
    city_mean: CityMeanConfig = CityMeanConfig()
    max_future_hours: float = Field(1.0, ge=0, description="tolerated clock skew [h]")


class MetConfig(_Strict):
    #: source variable name → canonical name (see forecast/met/variables.py), tried first.
    variables: dict[str, str] = Field(default_factory=dict)
    max_missing_fraction: float = Field(
        0.25, ge=0, le=1, description="largest share of missing grid values around a site"
    )
    ensemble: Literal["keep", "mean_spread"] = "mean_spread"
    interpolation: Literal["auto", "bilinear", "idw", "nearest"] = "auto"

    @field_validator("variables")
    @staticmethod
    def _canonical_targets(value: dict[str, str]) -> dict[str, str]:
        from forecast.met.variables import MET_VARIABLES

        unknown = sorted(set(value.values()) - set(MET_VARIABLES))
        if unknown:
            raise ValueError(
                f"unknown canonical variable(s) {unknown}; valid: {', '.join(MET_VARIABLES)}"
            )
        return value


class AqiConfig(_Strict):
    standard: Literal["HJ633-2012", "HJ633-2026"] = "HJ633-2026"


class WarningsConfig(_Strict):
    #: a YAML file of local rule sets (same layout as forecast/data/warnings/rulesets.yaml);
    #: its names can then be chosen in ``rule_set``. (Declared first: ``rule_set`` is checked
    #: against it.)
    rule_set_file: Path | None = None
    rule_set: str = "2024"
    blue_level: bool = False
    min_lead_hours: int = Field(24, ge=0)
    lift_below_aqi: int = Field(150, ge=0, le=500)
    lift_after_hours: int = Field(36, ge=0)

    _paths = field_validator("rule_set_file")(staticmethod(_resolve))

    @field_validator("rule_set")
    @staticmethod
    def _known_rule_set(value: str, info: ValidationInfo) -> str:
        from forecast.warnings.rules import builtin_rule_sets, load_rule_sets

        available = dict(builtin_rule_sets())
        if info.data.get("rule_set_file") is not None:
            available.update(load_rule_sets(info.data["rule_set_file"]))
        if value not in available:
            raise ValueError(
                f"rule_set {value!r} is not defined; valid: {', '.join(sorted(available))}"
            )
        return value


class ObservationSource(_Strict):
    #: a station-data format of ``wcs-forecast obs import``, ``beijing-hourly`` (the PRSA
    #: table) or ``obs-netcdf`` (datasets written by ``obs import`` or ``synth --obs-format
    #: netcdf``).
    format: Literal[
        "cnemc-hourly",
        "station-hourly",
        "china-sites",
        "city-daily",
        "tidy",
        "beijing-hourly",
        "obs-netcdf",
    ]
    paths: tuple[Path, ...] = Field(min_length=1)
    city: str | None = None

    _paths = field_validator("paths")(
        staticmethod(lambda v, info: tuple(_resolve(p, info) for p in v))
    )


class WeatherSource(_Strict):
    kind: Literal["region-met-daily", "beijing-hourly", "grid"]
    paths: tuple[Path, ...] = Field(min_length=1)
    #: True when the weather is observed (analysis), not forecast: back-tests then run in
    #: "perfect-prog" mode and every report says so.
    observed: bool = True

    _paths = field_validator("paths")(
        staticmethod(lambda v, info: tuple(_resolve(p, info) for p in v))
    )


class TrainingConfig(_Strict):
    """The data a model is trained and back-tested on."""

    observations: tuple[ObservationSource, ...] = ()
    weather: tuple[WeatherSource, ...] = ()
    #: days pooled from other cities (the 366-city daily table) to teach episodes; None: off.
    pool: Path | None = None
    pool_max_cities: int = Field(60, ge=1)

    _paths = field_validator("pool")(staticmethod(_resolve))


class ModelConfig(_Strict):
    horizon_days: int = Field(7, ge=1, le=15)
    #: forecasts are issued at this Beijing hour (hourly data); daily data: after each day.
    issue_hour_beijing: int = Field(10, ge=0, le=23)
    #: what the boosters learn: the change from persistence (log ratio for quantiles, difference
    #: for the mean) — trees cannot extrapolate beyond the training range, persistence can —
    #: or the (log1p-transformed) concentration itself.
    target_transform: Literal["persistence", "log1p", "none"] = "persistence"
    #: objective of the point (mean) model: squared error, Huber (squared within
    #: ``huber_delta`` µg/m³ of the target, absolute beyond: one dust day or firework night
    #: does not pull the fit) or absolute error. docs/models.md compares them by back-test.
    mean_objective: Literal["l2", "huber", "l1"] = "huber"
    #: the Huber transition [µg/m³].
    huber_delta: float = Field(30.0, gt=0.0)
    #: training weight of heavy rows (target > 150 µg/m³) relative to the others.
    heavy_weight: float = Field(2.0, ge=1.0)
    #: LightGBM parameters overriding the engine's defaults.
    params: dict[str, float | int | str] = Field(default_factory=dict)
    num_boost_round: int = Field(400, ge=10)
    #: meteorological variables used as predictors (names in the merged dataset).
    met_vars: tuple[str, ...] | None = None
    #: one model learns from every city's rows (with city descriptors), instead of one model
    #: per city: heavy days are rare in any one city.
    pooled: bool = True
    #: Separate boosters per lead band, given by the bands' upper edges in days: (1, 3) → leads
    #: up to 1 day, over 1 up to 3 days, over 3 days; the lead stays a feature within a band.
    #: None: one set of boosters for every lead. docs/models.md compares the two by back-test.
    lead_bands_days: tuple[int, ...] | None = (1, 3)
    #: shift forecasts by the model's own recent day-ahead errors, window and damping tuned on
    #: the last training year (models/correction.py); false: never.
    recent_error_correction: bool = True
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    exceedance_thresholds: tuple[float, ...] = (75, 115, 150, 250)

    @field_validator("lead_bands_days")
    @staticmethod
    def _bands_increasing(value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None and (not value or value[0] < 1 or list(value) != sorted(set(value))):
            raise ValueError(
                f"lead_bands_days must be strictly increasing whole days ≥ 1, got {list(value)}"
            )
        return value

    @field_validator("quantiles")
    @staticmethod
    def _quantiles_sorted(value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(0 < q < 1 for q in value) or list(value) != sorted(set(value)):
            raise ValueError(f"quantiles must be strictly increasing within (0, 1), got {value}")
        return value


class OutputConfig(_Strict):
    formats: tuple[Literal["json", "cap", "text", "html", "png"], ...] = ("json",)
    languages: tuple[Literal["zh", "en"], ...] = ("zh", "en")


class JobConfig(_Strict):
    id: str
    task: Literal["ingest", "forecast", "verify"]
    cron: str = Field(description="5-field crontab in the schedule's time zone")

    @field_validator("cron")
    @staticmethod
    def _valid_cron(value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone=BEIJING)
        except ValueError as exc:
            raise ValueError(f"invalid crontab {value!r}: {exc}") from None
        return value


class AlertPeriod(_Strict):
    start: str = Field("10-01", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
    end: str = Field("03-31", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


class ScheduleConfig(_Strict):
    time_zone: str = BEIJING
    alert_period: AlertPeriod = AlertPeriod()
    job_store: Path = Path("data/scheduler.sqlite")
    misfire_grace_seconds: int = Field(900, ge=0)
    jobs: tuple[JobConfig, ...] = ()

    _zone = field_validator("time_zone")(staticmethod(_check_zone))
    _paths = field_validator("job_store")(staticmethod(_resolve))

    @model_validator(mode="after")
    def _unique_job_ids(self) -> ScheduleConfig:
        _require_unique("schedule.jobs", (j.id for j in self.jobs))
        return self


class Config(_Strict):
    version: Literal[1] = 1
    region: RegionConfig
    cities: tuple[CityConfig, ...] = Field(min_length=1)
    stations: tuple[StationConfig, ...] = ()
    data: DataConfig = DataConfig()
    observations: ObservationsConfig = ObservationsConfig()
    met: MetConfig = MetConfig()
    aqi: AqiConfig = AqiConfig()
    warnings: WarningsConfig = WarningsConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    #: the file this configuration was read from (set by :func:`load_config`).
    source: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        _require_unique("cities[].id", (c.id for c in self.cities))
        _require_unique("stations[].code", (s.code for s in self.stations))
        city_ids = [c.id for c in self.cities]
        for i, st in enumerate(self.stations):
            if st.city not in city_ids:
                raise ValueError(
                    f"stations[{i}] ({st.code}): city {st.city!r} is not defined; "
                    f"valid cities: {', '.join(city_ids)}"
                )
        for city in self.cities:
            has_station = any(s.city == city.id and not s.reference_site for s in self.stations)
            if not has_station and (city.lon is None or city.lat is None):
                raise ValueError(
                    f"city {city.id!r} has no non-reference station; give its lon and lat"
                )
        names: dict[str, str] = {}
        for city in self.cities:
            for name in city.names:
                if names.setdefault(name, city.id) != city.id:
                    raise ValueError(
                        f"city name {name!r} is used by {names[name]!r} and {city.id!r}"
                    )
        return self

    # --- lookups used throughout the engine -------------------------------------------------
    def city(self, name: str) -> CityConfig:
        """The city known under ``name`` (id, Chinese or English name, or an alias)."""
        for city in self.cities:
            if name in city.names or name.lower() == city.id:
                return city
        valid = ", ".join(f"{c.id} ({c.name_zh})" for c in self.cities)
        raise KeyError(f"unknown city {name!r}; valid cities: {valid}")

    def station(self, code: str) -> StationConfig:
        for st in self.stations:
            if st.code == code:
                return st
        raise KeyError(f"unknown station code {code!r}")

    def stations_of(self, city_id: str) -> tuple[StationConfig, ...]:
        return tuple(s for s in self.stations if s.city == city_id)

    def city_centre(self, city_id: str) -> tuple[float, float]:
        """(lon, lat) of a city [degrees]: configured, else its non-reference stations' mean."""
        city = self.city(city_id)
        if city.lon is not None and city.lat is not None:
            return city.lon, city.lat
        members = [s for s in self.stations_of(city.id) if not s.reference_site]
        return (
            sum(s.lon for s in members) / len(members),
            sum(s.lat for s in members) / len(members),
        )


def _model_keys(loc: tuple[int | str, ...]) -> list[str]:
    """Valid keys at the location of an unknown key, for a 'did you mean' hint."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return []
    return (
        list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
    )


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        loc = err["loc"]
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        if err["type"] == "extra_forbidden":
            valid = [k for k in _model_keys(loc) if k != "source"]
            hint = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            text = f"unknown key {key or '<top level>'!r}"
            if hint:
                text += f"; did you mean {hint[0]!r}?"
            if valid:
                text += f" Valid keys here: {', '.join(valid)}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            text = f"{key or '<top level>'}: {msg}"
            if err["type"] not in ("value_error", "missing"):
                text += f" (got {err.get('input')!r})"
        lines.append(f"  - {text}")
    return "\n".join(lines)


def load_config(path: str | Path) -> Config:
    """Read, validate and return the configuration in ``path``.

    Raises :class:`~forecast.errors.ConfigError` with every problem listed by key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    try:
        config = Config.model_validate(raw, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
    config = _resolve_defaults(config, path.parent.resolve())
    return config.model_copy(update={"source": path.resolve()})


def _resolve_defaults(model: BaseModel, base: Path) -> Any:
    """Relative paths left at their defaults (never validated) → relative to the config file."""
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name == "source":
            continue
        if isinstance(value, Path) and not value.is_absolute():
            updates[name] = (base / value).resolve()
        elif isinstance(value, BaseModel):
            new = _resolve_defaults(value, base)
            if new is not value:
                updates[name] = new
    return model.model_copy(update=updates) if updates else model


def summarize(config: Config) -> str:
    """A short human-readable summary for ``wcs-forecast config check``."""
    lines = [
        f"config: {config.source}",
        f"region: {config.region.name_en} ({config.region.name_zh}), time zone "
        f"{config.region.time_zone}",
        f"cities: {len(config.cities)}; stations: {len(config.stations)} "
        f"({sum(s.reference_site for s in config.stations)} reference)",
    ]
    for city in config.cities:
        sts = config.stations_of(city.id)
        refs = [s.code for s in sts if s.reference_site]
        lines.append(
            f"  {city.id:<8} {city.name_zh:<5} {len(sts):>2} stations"
            + (f" (reference: {', '.join(refs)})" if refs else "")
        )
    lines += [
        f"AQI standard: {config.aqi.standard}; warning rules: {config.warnings.rule_set}"
        f" (blue level {'on' if config.warnings.blue_level else 'off'})",
        f"models: {config.data.models_dir}; bulletins: {config.data.bulletins_dir}",
        f"schedule: {len(config.schedule.jobs)} jobs in {config.schedule.time_zone}, alert period "
        f"{config.schedule.alert_period.start} – {config.schedule.alert_period.end}",
    ]
    return "\n".join(lines)
