"""Canonical JSON of a bulletin, its JSON Schema and validation.

Canonical form (same bulletin → byte-identical file):

- keys sorted, 2-space indentation, ``ensure_ascii=False``, UTF-8, one trailing newline;
- concentrations rounded to 1 decimal [µg/m³], probabilities to 3 decimals, ``-0.0`` → ``0.0``,
  NaN → ``null``; AQI values are integers;
- Beijing times as ``YYYY-MM-DDTHH:MM:SS+08:00``, the NWP cycle as ``YYYY-MM-DDTHH:MM:SSZ``.

The schema is ``forecast/data/bulletin/bulletin-1.0.schema.json`` (JSON Schema draft 2020-12),
``$id`` :data:`SCHEMA_ID`. :func:`validate_bulletin` checks a document against it and against the
rules a schema cannot express (the id matches region/issue time/cycle, series lengths agree,
times increase …); every problem is reported with its JSON path (``$.cities[0].warning.level``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from forecast.bulletin.model import (
    SCHEMA_VERSION,
    AqiCategory,
    Bulletin,
    CapReference,
    CityForecast,
    DailyForecast,
    HourlyForecast,
    InputStatus,
    LocalText,
    ObservedSeries,
    RegionalWarning,
    WarningState,
    format_beijing,
    format_utc,
)
from forecast.errors import InputError, Problem
from forecast.io import write_bytes_atomic

SCHEMA_FILE = f"bulletin-{SCHEMA_VERSION}.schema.json"
SCHEMA_ID = f"https://schemas.wuchangshi.example/bulletin/{SCHEMA_FILE}"
CONCENTRATION_DECIMALS = 1
PROBABILITY_DECIMALS = 3


class BulletinValidationError(InputError):
    """A bulletin document does not follow the schema; one problem per JSON path."""


# --------------------------------------------------------------------------------------------
# bulletin → JSON


def _round(x: float | None, decimals: int) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(float(x), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def _conc(x: float | None) -> float | None:
    return _round(x, CONCENTRATION_DECIMALS)


def _opt_time(t: datetime | None) -> str | None:
    return None if t is None else format_beijing(t)


def _text(t: LocalText) -> dict[str, str]:
    return {"zh": t.zh, "en": t.en}


def _warning(w: WarningState) -> dict[str, Any]:
    return {
        "level": w.level,
        "action": w.action,
        "previous_level": w.previous_level,
        "rule": w.rule,
        "reason": w.reason,
        "valid_from": _opt_time(w.valid_from),
        "valid_to": _opt_time(w.valid_to),
        "probabilities": {k: _round(v, PROBABILITY_DECIMALS) for k, v in w.probabilities.items()},
        "certainty": w.certainty,
        "references": [
            {"sender": r.sender, "identifier": r.identifier, "sent": format_beijing(r.sent)}
            for r in w.references
        ],
    }


def _daily(d: DailyForecast) -> dict[str, Any]:
    return {
        "date": d.date.isoformat(),
        "pm25_mean": {"p10": _conc(d.pm25_p10), "p50": _conc(d.pm25_p50), "p90": _conc(d.pm25_p90)},
        "aqi": d.aqi,
        "category": {
            "level": d.category.level,
            "name_zh": d.category.name_zh,
            "name_en": d.category.name_en,
            "colour": d.category.colour,
        },
        "primary_pollutant": d.primary_pollutant,
    }


def _city(c: CityForecast) -> dict[str, Any]:
    hourly = None
    if c.hourly is not None:
        hourly = {
            "times": [format_beijing(t) for t in c.hourly.times],
            "p10": [_conc(v) for v in c.hourly.p10],
            "p50": [_conc(v) for v in c.hourly.p50],
            "p90": [_conc(v) for v in c.hourly.p90],
        }
    observed = None
    if c.observed is not None:
        observed = {
            "times": [format_beijing(t) for t in c.observed.times],
            "pm25": [_conc(v) for v in c.observed.pm25],
        }
    return {
        "city_id": c.city_id,
        "name_zh": c.name_zh,
        "name_en": c.name_en,
        "status": c.status,
        "reason": c.reason,
        "hourly": hourly,
        "daily": [_daily(d) for d in c.daily],
        "warning": None if c.warning is None else _warning(c.warning),
        "observed": observed,
    }


def to_dict(b: Bulletin) -> dict[str, Any]:
    """The bulletin as JSON-ready plain values (rounded as in the canonical file)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": b.id,
        "region": b.region,
        "issue_time": format_beijing(b.issue_time),
        "cycle": format_utc(b.cycle),
        "revision": b.revision,
        "aqi_standard": b.aqi_standard,
        "synthetic": b.synthetic,
        "model_versions": dict(b.model_versions),
        "input_status": [
            {"component": s.component, "status": s.status, "reason": s.reason}
            for s in b.input_status
        ],
        "cities": [_city(c) for c in b.cities],
        "regional": {
            "name_zh": b.regional.name_zh,
            "name_en": b.regional.name_en,
            "member_cities": list(b.regional.member_cities),
            "warning": _warning(b.regional.warning),
        },
        "headline": _text(b.headline),
        "description": _text(b.description),
        "advice": _text(b.advice),
    }


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Canonical UTF-8 JSON bytes of a plain mapping."""
    text = json.dumps(
        obj, sort_keys=True, ensure_ascii=False, indent=2, separators=(",", ": "), allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def dumps(b: Bulletin) -> bytes:
    """The canonical JSON bytes of a bulletin (same bulletin → same bytes)."""
    return canonical_json(to_dict(b))


def write_bulletin(b: Bulletin, path: str | Path) -> Path:
    """Write the canonical JSON atomically (temporary file, fsync, rename)."""
    return write_bytes_atomic(path, dumps(b))


# --------------------------------------------------------------------------------------------
# JSON → bulletin


def _warning_from(d: Mapping[str, Any]) -> WarningState:
    return WarningState(
        level=d["level"],
        action=d["action"],
        reason=d["reason"],
        rule=d["rule"],
        valid_from=d["valid_from"],
        valid_to=d["valid_to"],
        probabilities=d["probabilities"],
        certainty=d["certainty"],
        previous_level=d["previous_level"],
        references=tuple(
            CapReference(r["sender"], r["identifier"], r["sent"]) for r in d["references"]
        ),
    )


def _city_from(d: Mapping[str, Any]) -> CityForecast:
    h, o = d["hourly"], d["observed"]
    return CityForecast(
        city_id=d["city_id"],
        name_zh=d["name_zh"],
        name_en=d["name_en"],
        status=d["status"],
        reason=d["reason"],
        hourly=None if h is None else HourlyForecast(h["times"], h["p10"], h["p50"], h["p90"]),
        daily=tuple(
            DailyForecast(
                date=date.fromisoformat(x["date"]),
                pm25_p10=x["pm25_mean"]["p10"],
                pm25_p50=x["pm25_mean"]["p50"],
                pm25_p90=x["pm25_mean"]["p90"],
                aqi=x["aqi"],
                category=AqiCategory(**x["category"]),
                primary_pollutant=x["primary_pollutant"],
            )
            for x in d["daily"]
        ),
        warning=None if d["warning"] is None else _warning_from(d["warning"]),
        observed=None if o is None else ObservedSeries(o["times"], o["pm25"]),
    )


def from_dict(d: Mapping[str, Any]) -> Bulletin:
    """Build a :class:`Bulletin` from a schema-valid document (see :func:`load_bulletin`)."""
    cities = []
    for i, c in enumerate(d["cities"]):
        try:
            cities.append(_city_from(c))
        except ValueError as exc:
            raise ValueError(f"$.cities[{i}] ({c.get('city_id')}): {exc}") from None
    r = d["regional"]
    try:
        regional = RegionalWarning(
            r["name_zh"], r["name_en"], tuple(r["member_cities"]), _warning_from(r["warning"])
        )
    except ValueError as exc:
        raise ValueError(f"$.regional: {exc}") from None
    b = Bulletin(
        region=d["region"],
        issue_time=d["issue_time"],  # ISO text, parsed by the model
        cycle=d["cycle"],
        cities=tuple(cities),
        regional=regional,
        headline=LocalText(**d["headline"]),
        description=LocalText(**d["description"]),
        advice=LocalText(**d["advice"]),
        model_versions=d["model_versions"],
        input_status=tuple(InputStatus(**s) for s in d["input_status"]),
        revision=d["revision"],
        aqi_standard=d["aqi_standard"],
        synthetic=d["synthetic"],
    )
    if b.id != d["id"]:
        raise ValueError(
            f"$.id: {d['id']!r} does not match region, issue_time and cycle ({b.id!r})"
        )
    return b


def load_bulletin(source: str | Path | bytes | Mapping[str, Any]) -> Bulletin:
    """Read and validate a bulletin (path, JSON bytes or a parsed document)."""
    return from_dict(validate_bulletin(source))


# --------------------------------------------------------------------------------------------
# schema and validation


@cache
def schema() -> dict[str, Any]:
    """The bulletin JSON Schema shipped with the package."""
    text = (resources.files("forecast") / "data" / "bulletin" / SCHEMA_FILE).read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def _is_datetime(value: object) -> bool:
    # RFC 3339 date-time with an explicit offset (jsonschema only checks "date-time" when the
    # optional rfc3339-validator package is installed; this check needs no extra package).
    if not isinstance(value, str):
        return True
    if len(value) < 20 or value[10] not in "Tt":
        return False
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return t.tzinfo is not None


@cache
def _validator() -> Draft202012Validator:
    checker = FormatChecker()
    checker.checks("date-time")(_is_datetime)
    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema(), format_checker=checker)


def _semantic_problems(doc: Mapping[str, Any]) -> list[str]:
    """Rules beyond the schema, reported as ``$.path: message`` (document already schema-valid)."""
    try:
        from_dict(doc)
    except (ValueError, KeyError, TypeError) as exc:
        msg = str(exc)
        return [msg if msg.startswith("$") else f"$: {msg}"]
    return []


def bulletin_problems(doc: object) -> list[str]:
    """Every problem of a parsed document as ``$.json.path: message`` (empty when valid)."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: (e.json_path, e.message))
    problems = [f"{e.json_path}: {e.message}" for e in errors]
    if not problems and isinstance(doc, Mapping):
        problems = _semantic_problems(doc)
    return problems


def validate_bulletin(source: str | Path | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """Validate a bulletin document (path, JSON bytes or parsed mapping); return it parsed.

    Raises :class:`BulletinValidationError` listing each problem with its JSON path (and the
    file name when a path was given).
    """
    where: str | Path = "<bulletin>"
    if isinstance(source, Mapping):
        doc: Any = source
    else:
        if isinstance(source, bytes):
            raw = source
        else:
            where = Path(source)
            try:
                raw = where.read_bytes()
            except OSError as exc:
                raise BulletinValidationError(
                    where, [Problem(f"cannot be read: {exc.strerror or exc}")]
                ) from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise BulletinValidationError(where, [Problem(f"not UTF-8: {exc}")]) from None
        except json.JSONDecodeError as exc:
            raise BulletinValidationError(
                where, [Problem(f"not valid JSON: {exc.msg}", line=exc.lineno)]
            ) from None
    problems = bulletin_problems(doc)
    if problems:
        raise BulletinValidationError(where, [Problem(p) for p in problems], max_shown=20)
    result: dict[str, Any] = dict(doc)
    return result
