"""Point (station) weather tables → ``(site, time)`` Datasets laid out like the observations.

The layout follows :mod:`forecast.obs.dataset`: dims ``(site, time)``, ``time`` naive UTC
``datetime64[ns]`` on a regular axis (missing rows become NaN), attributes ``time_resolution``
(``"1h"``/``"1D"``), ``time_zone = "UTC"`` and ``source_time_zone = "Asia/Shanghai"``; daily
values are stamped at the start of their Beijing day (00:00 BJT = 16:00 UTC the day before).
Beijing time is converted only through :func:`forecast.timeutil.beijing_to_utc`. Variables carry
canonical names and units (:data:`forecast.met.variables.MET_VARIABLES`) with CF attributes;
provenance is in ``source_files`` (JSON: file name, format, encoding, SHA-256, rows, notes).

Readers
-------

:func:`read_region_met_daily`
    The regional daily weather table ``urumqi_region_met_daily.csv``. Its station is
    **elevated** (~808 hPa, about 1.87 km in the standard atmosphere; Urumqi's city station is
    at 935 m), above the basin's winter inversion, so it is *not* the city's surface weather:
    its variables are named ``*_elev_*`` (``t_elev_mean``, ``p_elev_mean``, …) and the site has
    ``kind = "weather_station_elevated"`` and an ``elevation_m`` coordinate. In winter its
    warmth relative to the basin is itself a signal of warm air aloft.
:func:`read_beijing_hourly`
    The UCI Beijing PRSA table (US Embassy PM2.5 with weather, Liang et al. 2015): a complete
    hourly ``obs + met`` benchmark for site ``beijing``.

Every problem in a file raises :class:`~forecast.errors.InputError` naming the file, the line,
the column, the value and what was expected: unknown or missing columns, non-numeric cells,
impossible values after unit conversion. Cells holding a missing marker
(:data:`forecast.obs.textio.MISSING_MARKERS`, e.g. empty) are NaN.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from forecast.errors import InputError, Problem, input_error
from forecast.io import sha256_file
from forecast.met.derived import ZERO_CELSIUS, met_attrs, pressure_altitude, relative_humidity
from forecast.met.variables import MET_VARIABLES
from forecast.obs.flags import FLAG_MASKS, FLAG_MEANINGS, QC
from forecast.obs.textio import (
    MAX_PREAMBLE_LINES,
    MISSING_MARKERS,
    decode_file,
    normalise_name,
    tokenise,
)
from forecast.obs.variables import VARIABLES
from forecast.timeutil import BEIJING, beijing_to_utc

FloatArray = npt.NDArray[np.float64]

#: Problems reported per check before giving up listing them (the error shows 10 anyway).
MAX_PROBLEMS: Final = 10


# --------------------------------------------------------------------------------------------
# conventions of the regional daily table

#: The file's pressure columns hold **pascal** (hundredths of hPa): 80810 is 808.10 hPa. The
#: data README calls them "tenths of hPa", but 80810 tenths would be 8081 hPa, impossible; read as
#: pascal they give ~808 hPa, matching the README's own ~808 hPa and the station's ~1.87 km
#: altitude from its temperatures.
REGION_PRESSURE_TO_HPA: Final = 0.01

#: 16-point direction codes of the China Meteorological Administration's daily surface data
#: (SURF_CLI_CHN_MUL_DAY): 1 NNE, 2 NE, 3 ENE, 4 E, …, 15 NNW, 16 N, clockwise in 22.5° steps
#: (code × 22.5°, 16 → 0° = north), and 17 calm. Evidence in the file: codes run 1–16 with no 0
#: and no 17 (a 0-based or "0 = N" scheme would show 0); precipitation and next-day cooling
#: cluster at codes 14–16 and 1–2, i.e. around north (moist northerly upslope flow and cold-air
#: outbreaks on the northern Tianshan slope), which both "16 = N" and "1 = N" satisfy. The data
#: cannot separate those two (they differ by one 22.5° step); the CMA documentation decides:
#: 16 = N. The raw codes are kept beside the degrees (``*_code`` variables).
DIRECTION_CODE_DEGREES: Final[dict[int, float]] = {
    **{code: (22.5 * code) % 360.0 for code in range(1, 17)},
    17: math.nan,  # calm: no direction
}
DIRECTION_CODE_NAMES: Final = (
    *("NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S"),
    *("SSW", "SW", "WSW", "W", "WNW", "NW", "NNW", "N", "calm"),
)


@dataclass(frozen=True)
class SourceColumn:
    """A source column: the variable it becomes, its unit in the file and the conversion."""

    variable: str
    file_unit: str
    convert: Callable[[FloatArray], FloatArray]
    hint: Callable[[float], str | None] | None = None
    #: check the converted values against the variable's valid range (codes are checked apart)
    check_range: bool = True


def _identity(x: FloatArray) -> FloatArray:
    return x


def _celsius_to_kelvin(x: FloatArray) -> FloatArray:
    return x + ZERO_CELSIUS


def _pascal_to_hpa(x: FloatArray) -> FloatArray:
    return x * REGION_PRESSURE_TO_HPA


def _pressure_hint(raw: float) -> str | None:
    """Why a pressure value may be out of range: a unit other than pascal."""
    lo, hi = MET_VARIABLES["p_elev_mean"].valid_min, MET_VARIABLES["p_elev_mean"].valid_max
    if lo <= raw <= hi:
        return "the value looks like hPa; this column is in Pa (808.10 hPa is written 80810)"
    if lo <= raw / 10 <= hi:
        return (
            "the value looks like tenths of hPa; this column is in Pa (808.10 hPa is written 80810)"
        )
    return None


def _celsius_hint(raw: float) -> str | None:
    if -70.0 <= raw / 10 <= 60.0 and not -70.0 <= raw <= 60.0:
        return "the value looks like tenths of °C; this column is in °C"
    if 200.0 <= raw <= 360.0:
        return "the value looks like kelvin; this column is in °C"
    return None


def _temperature(variable: str) -> SourceColumn:
    return SourceColumn(variable, "°C", _celsius_to_kelvin, _celsius_hint)


def _same(variable: str, unit: str) -> SourceColumn:
    return SourceColumn(variable, unit, _identity)


def _direction_code(variable: str) -> SourceColumn:
    return SourceColumn(variable, "16-point code", _identity, check_range=False)


#: ``urumqi_region_met_daily.csv``: source column → variable (every column is required).
REGION_MET_COLUMNS: Final[dict[str, SourceColumn]] = {
    "avgtemp": _temperature("t_elev_mean"),
    "maxtemp": _temperature("t_elev_max"),
    "mintemp": _temperature("t_elev_min"),
    "avgrh": _same("rh_elev_mean", "%"),
    "minrh": _same("rh_elev_min", "%"),
    "avgws": _same("ws_elev_mean", "m/s"),
    "maxws": _same("ws_elev_max", "m/s"),
    "maxwswd": _direction_code("wd_elev_max_code"),
    "extremews": _same("ws_elev_gust", "m/s"),
    "extremewswd": _direction_code("wd_elev_gust_code"),
    "daylight": _same("sunshine_elev", "h"),
    "precipitation": _same("tp_elev", "mm"),
    "avgp": SourceColumn("p_elev_mean", "Pa", _pascal_to_hpa, _pressure_hint),
    "maxp": SourceColumn("p_elev_max", "Pa", _pascal_to_hpa, _pressure_hint),
    "minp": SourceColumn("p_elev_min", "Pa", _pascal_to_hpa, _pressure_hint),
    "avggt": _temperature("tg_elev_mean"),
    "maxgt": _temperature("tg_elev_max"),
    "mingt": _temperature("tg_elev_min"),
}
REGION_MET_DATE: Final = "date"

#: Groups whose daily statistics must be ordered (smallest first), as source columns.
REGION_MET_ORDER: Final[tuple[tuple[str, ...], ...]] = (
    ("mintemp", "avgtemp", "maxtemp"),
    ("minp", "avgp", "maxp"),
    ("mingt", "avggt", "maxgt"),
    ("minrh", "avgrh"),
    ("avgws", "maxws", "extremews"),
)

#: Direction code variable → its degrees variable.
REGION_MET_DIRECTIONS: Final = {
    "wd_elev_max_code": "wd_elev_max",
    "wd_elev_gust_code": "wd_elev_gust",
}

# --------------------------------------------------------------------------------------------
# conventions of the Beijing PRSA table

BEIJING_TIME_COLUMNS: Final = ("year", "month", "day", "hour")
#: Numeric source columns → (variable, unit in the file, conversion).
BEIJING_COLUMNS: Final[dict[str, SourceColumn]] = {
    "pm2.5": _same("pm25", "µg/m³"),
    "dewp": _temperature("d2m"),
    "temp": _temperature("t2m"),
    "pres": _same("sp", "hPa"),
    "iws": _same("wind_run_cum", "m/s"),
    "is": _same("snow_hours_cum", "h"),
    "ir": _same("rain_hours_cum", "h"),
}
BEIJING_IGNORED: Final = ("no",)
BEIJING_WIND_COLUMN: Final = "cbwd"
#: ``cbwd`` (combined wind direction) → (``wind_sector`` code, direction [degrees]). The source
#: combines directions into quadrants named by their centre: NE, SE, NW; ``cv`` is "calm and
#: variable" (it also absorbs the rare south-westerlies), which has no direction (NaN). The
#: degrees are quadrant centres, good to ±45°.
BEIJING_WIND_SECTORS: Final[dict[str, tuple[int, float]]] = {
    "cv": (0, math.nan),
    "ne": (1, 45.0),
    "se": (2, 135.0),
    "nw": (3, 315.0),
}
#: The US Embassy's position (approximate) [degrees east, degrees north].
BEIJING_LON: Final = 116.467
BEIJING_LAT: Final = 39.955
#: Largest dew-point excess over the temperature accepted as a rounding artefact [K]; larger is
#: an error. The file reports both in whole °C; one hour has DEWP = TEMP + 1.
BEIJING_SUPERSATURATION_TOLERANCE: Final = 1.0


# --------------------------------------------------------------------------------------------
# table reading


@dataclass
class _Table:
    path: Path
    encoding: str
    header_line: int
    cells: pd.DataFrame  # str cells, columns normalised
    lines: npt.NDArray[np.int64]
    original_names: dict[str, str]
    notes: list[str]


def _read_table(
    path: Path, required: Sequence[str], *, ignored: Sequence[str] = (), what: str
) -> _Table:
    """Decode, tokenise and check the header: every required column, no unknown column."""
    path = Path(path)
    decoded = decode_file(path)
    records = tokenise(path, decoded.text)
    if not records:
        raise input_error(path, "no rows", expected=f"a {what} CSV table")
    notes: list[str] = []
    header_index = 0
    for index, (_, row) in enumerate(records[: MAX_PREAMBLE_LINES + 1]):
        if set(required) <= {normalise_name(c) for c in row}:
            header_index = index
            break
    else:
        # Report against the line that comes closest to the header.
        header_index = max(
            range(min(len(records), MAX_PREAMBLE_LINES + 1)),
            key=lambda i: len(set(required) & {normalise_name(c) for c in records[i][1]}),
        )
    header_line, header = records[header_index]
    names = [normalise_name(c) for c in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise input_error(
            path,
            f"missing column(s) {', '.join(missing)}",
            line=header_line,
            value=",".join(header)[:160],
            expected=f"a {what} header with the columns {', '.join(required)}",
        )
    known = {*required, *ignored}
    unknown = [orig for orig, n in zip(header, names, strict=True) if n not in known]
    if unknown:
        raise InputError(
            path,
            [
                Problem(
                    "unknown column",
                    line=header_line,
                    column=name,
                    expected=f"only the {what} columns {', '.join(required)}",
                )
                for name in unknown
            ],
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise input_error(path, f"duplicate column(s) {', '.join(duplicated)}", line=header_line)
    if header_index:
        notes.append(f"skipped {header_index} line(s) before the header (repair)")
    data = records[header_index + 1 :]
    if not data:
        raise input_error(path, "no data rows after the header", line=header_line)
    bad_width = [
        Problem(
            f"row has {len(row)} fields but the header has {len(names)}",
            line=number,
            expected=f"{len(names)} comma-separated fields",
        )
        for number, row in data
        if len(row) != len(names)
    ]
    if bad_width:
        raise InputError(path, bad_width[:MAX_PROBLEMS])
    cells = pd.DataFrame([row for _, row in data], columns=names, dtype=object)
    cells = cells.apply(lambda col: col.str.strip())
    lines = np.array([n for n, _ in data], dtype=np.int64)
    return _Table(
        path,
        decoded.encoding,
        header_line,
        cells,
        lines,
        {n: h.strip() for n, h in zip(names, header, strict=True)},
        notes,
    )


def _numbers(table: _Table, column: str, unit: str) -> tuple[FloatArray, pd.Series]:
    """A column as float64 (missing markers → NaN) and its cell texts; non-numbers are errors."""
    text = table.cells[column]
    missing = text.isin(MISSING_MARKERS).to_numpy()
    values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~missing & (np.isnan(values) | np.isinf(values)))
    if bad.size:
        raise InputError(
            table.path,
            [
                Problem(
                    "not a number",
                    line=int(table.lines[i]),
                    column=table.original_names[column],
                    value=str(text.iat[i]),
                    expected=f"a number in {unit} or an empty cell",
                )
                for i in bad[:MAX_PROBLEMS]
            ],
        )
    return values, text


def _check_range(
    table: _Table, column: str, spec: SourceColumn, raw: FloatArray, values: FloatArray
) -> list[Problem]:
    meta = MET_VARIABLES.get(spec.variable)
    if meta is None:  # observation variables (PM2.5): 0 … max_valid
        lo, hi, units = 0.0, VARIABLES[spec.variable].max_valid, VARIABLES[spec.variable].units
    else:
        lo, hi, units = meta.valid_min, meta.valid_max, meta.units
    bad = np.flatnonzero(~np.isnan(values) & ((values < lo) | (values > hi)))
    problems = []
    for i in bad[:MAX_PROBLEMS]:
        converted = "" if spec.file_unit == units else f" after conversion from {spec.file_unit}"
        hint = spec.hint(float(raw[i])) if spec.hint else None
        problems.append(
            Problem(
                f"impossible value: {values[i]:.6g} {units}{converted}"
                + (f" ({hint})" if hint else ""),
                line=int(table.lines[i]),
                column=table.original_names[column],
                value=str(table.cells[column].iat[i]),
                expected=f"{lo:g}–{hi:g} {units}"
                + (f" (this column is in {spec.file_unit})" if converted else ""),
            )
        )
    return problems


def _convert_columns(
    table: _Table, columns: dict[str, SourceColumn]
) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Parse, convert and range-check; returns (variables, raw values by source column)."""
    out: dict[str, FloatArray] = {}
    raw_by_column: dict[str, FloatArray] = {}
    problems: list[Problem] = []
    for column, spec in columns.items():
        raw, _ = _numbers(table, column, spec.file_unit)
        values = spec.convert(raw)
        if spec.check_range:
            problems += _check_range(table, column, spec, raw, values)
        out[spec.variable] = values
        raw_by_column[column] = raw
    if problems:
        raise InputError(table.path, problems)
    return out, raw_by_column


def _check_unique_times(table: _Table, local: pd.DatetimeIndex, column: str) -> None:
    dup = np.flatnonzero(local.duplicated(keep="first"))
    if dup.size:
        raise InputError(
            table.path,
            [
                Problem(
                    "time appears twice",
                    line=int(table.lines[i]),
                    column=column,
                    value=f"{local[i]:%Y-%m-%d %H:%M}",
                    expected="one row per time",
                )
                for i in dup[:MAX_PROBLEMS]
            ],
        )


def _regular(
    local: pd.DatetimeIndex, freq: str, notes: list[str], unit: str
) -> tuple[pd.DatetimeIndex, npt.NDArray[np.intp]]:
    """The complete local axis and, for each position, the source row (−1 for a missing time)."""
    axis = pd.date_range(local.min(), local.max(), freq=freq)
    rows = pd.Series(np.arange(len(local)), index=local).reindex(axis)
    absent = int(rows.isna().sum())
    if absent:
        notes.append(f"{absent} {unit}(s) absent from the file are missing (NaN)")
    return axis, rows.fillna(-1).to_numpy(dtype=np.intp)


def _on_axis(values: npt.NDArray[Any], rows: npt.NDArray[np.intp]) -> FloatArray:
    out = np.full(rows.shape, np.nan)
    present = rows >= 0
    out[present] = values[rows[present]]
    return out


def _time_coord(local_axis: pd.DatetimeIndex) -> tuple[npt.NDArray[np.datetime64], dict]:
    utc = beijing_to_utc(local_axis).astype("datetime64[ns]")
    attrs = {"standard_name": "time", "long_name": "time (UTC)"}
    return utc.to_numpy(), attrs


def _finish(ds: xr.Dataset) -> xr.Dataset:
    ds["time"].encoding = {
        "units": "minutes since 1970-01-01 00:00:00",
        "dtype": "int64",
        "calendar": "proleptic_gregorian",
    }
    ds["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    ds["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    for name in ("site", "name", "city", "kind"):
        if name in ds.coords:
            ds[name] = ds[name].astype(object)
    return ds


def _provenance(table: _Table, fmt: str, rows: int, notes: list[str]) -> str:
    return json.dumps(
        [
            {
                "file": table.path.name,
                "format": fmt,
                "encoding": table.encoding,
                "sha256": sha256_file(table.path),
                "rows": rows,
                "notes": notes,
            }
        ],
        ensure_ascii=False,
    )


# --------------------------------------------------------------------------------------------
# regional daily weather (elevated station)


def _direction_degrees(table: _Table, column: str, codes: FloatArray) -> FloatArray:
    valid = ~np.isnan(codes)
    known = np.isin(codes, list(DIRECTION_CODE_DEGREES))
    bad = np.flatnonzero(valid & ~known)
    if bad.size:
        raise InputError(
            table.path,
            [
                Problem(
                    "not a 16-point wind direction code",
                    line=int(table.lines[i]),
                    column=table.original_names[column],
                    value=str(table.cells[column].iat[i]),
                    expected="an integer 1–16 (1 NNE … 16 N, clockwise) or 17 (calm)",
                )
                for i in bad[:MAX_PROBLEMS]
            ],
        )
    lookup = np.full(18, np.nan)
    for code, degrees in DIRECTION_CODE_DEGREES.items():
        lookup[code] = degrees
    out = np.full(codes.shape, np.nan)
    out[valid] = lookup[codes[valid].astype(np.intp)]
    return out


def _check_order(table: _Table, raw: dict[str, FloatArray]) -> None:
    problems = []
    for group in REGION_MET_ORDER:
        for low, high in itertools.pairwise(group):
            a, b = raw[low], raw[high]
            bad = np.flatnonzero(~np.isnan(a) & ~np.isnan(b) & (a > b))
            for i in bad[:MAX_PROBLEMS]:
                problems.append(
                    Problem(
                        f"{table.original_names[low]} ({table.cells[low].iat[i]}) is larger than "
                        f"{table.original_names[high]}",
                        line=int(table.lines[i]),
                        column=table.original_names[high],
                        value=str(table.cells[high].iat[i]),
                        expected=f"{' ≤ '.join(table.original_names[c] for c in group)} "
                        "(columns swapped?)",
                    )
                )
    if problems:
        raise InputError(table.path, problems)


def read_region_met_daily(
    path: str | Path,
    site: str = "urumqi_region",
    lon: float | None = None,
    lat: float | None = None,
    elevation_m: float | None = None,
) -> xr.Dataset:
    """Read the regional daily weather table of the elevated station near Urumqi.

    Source columns (all required, no others): ``date`` (Beijing calendar day, YYYY-MM-DD);
    ``avgtemp, maxtemp, mintemp`` [°C]; ``avgrh, minrh`` [%]; ``avgws, maxws, extremews``
    [m/s]; ``maxwswd, extremewswd`` (16-point direction code); ``daylight`` (sunshine [h]);
    ``precipitation`` [mm]; ``avgp, maxp, minp`` [Pa, see :data:`REGION_PRESSURE_TO_HPA`];
    ``avggt, maxgt, mingt`` (0 cm ground temperature [°C]).

    Conversions: °C → K; Pa → hPa (× 0.01); direction codes → degrees the wind blows from
    (:data:`DIRECTION_CODE_DEGREES`: code × 22.5°, 16 = N = 0°, 17 = calm = NaN), the codes kept
    as ``wd_elev_max_code`` / ``wd_elev_gust_code``.

    Parameters
    ----------
    path : the CSV file (UTF-8, UTF-8 with BOM or GBK).
    site : the site id of the station.
    lon, lat : the station's position [degrees east/north]; the publisher does not give it, so
        the default is NaN (unknown).
    elevation_m : the station's altitude [m]; default: estimated from its median daily mean
        pressure with the standard atmosphere (:func:`forecast.met.derived.pressure_altitude`),
        about 1,870 m for this file.

    Returns
    -------
    Dataset ``(site, time)``: one site with coordinates ``name``, ``lon``, ``lat``,
    ``elevation_m``, ``kind = "weather_station_elevated"``; daily ``time`` [UTC] at the start of
    each Beijing day (2014-01-01 → 2013-12-31T16:00), regular (absent days NaN); variables
    ``t_elev_mean/max/min`` [K], ``rh_elev_mean/min`` [%], ``ws_elev_mean/max/gust`` [m/s],
    ``wd_elev_max/gust`` [degree] and their ``*_code``, ``sunshine_elev`` [h], ``tp_elev``
    [mm], ``p_elev_mean/max/min`` [hPa], ``tg_elev_mean/max/min`` [K]. The source does not say
    which 24 hours make its day (CMA daily precipitation often runs 20:00–20:00 BJT); the stamp
    is the calendar day's start as for all daily data here.

    Raises
    ------
    InputError : unknown or missing columns, a bad or repeated date, a non-numeric cell, an
        impossible value after conversion (pressure outside 400–1100 hPa, with a hint when the
        number looks like hPa or tenths of hPa; RH outside 0–100 %; …), a direction code other
        than 1–17, or daily minimum > mean > maximum.
    """
    path = Path(path)
    table = _read_table(path, (REGION_MET_DATE, *REGION_MET_COLUMNS), what="regional daily weather")
    text = table.cells[REGION_MET_DATE]
    days = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(days.isna().to_numpy())
    if bad.size:
        raise InputError(
            path,
            [
                Problem(
                    "not a date",
                    line=int(table.lines[i]),
                    column=table.original_names[REGION_MET_DATE],
                    value=str(text.iat[i]),
                    expected="a Beijing calendar date like 2014-01-01 (YYYY-MM-DD)",
                )
                for i in bad[:MAX_PROBLEMS]
            ],
        )
    local = pd.DatetimeIndex(days)
    _check_unique_times(table, local, table.original_names[REGION_MET_DATE])
    values, raw = _convert_columns(table, REGION_MET_COLUMNS)
    _check_order(table, raw)
    for code_var, deg_var in REGION_MET_DIRECTIONS.items():
        column = next(c for c, s in REGION_MET_COLUMNS.items() if s.variable == code_var)
        values[deg_var] = _direction_degrees(table, column, values[code_var])

    notes = list(table.notes)
    axis, rows = _regular(local, "D", notes, "day")
    time, time_attrs = _time_coord(axis)
    if elevation_m is None:
        elevation_m = float(pressure_altitude(np.array([np.nanmedian(values["p_elev_mean"])]))[0])
        elevation_source = (
            "estimated from the median daily mean station pressure with the ICAO standard "
            "atmosphere"
        )
    else:
        elevation_source = "given by the caller"

    order: list[str] = []
    for spec in REGION_MET_COLUMNS.values():
        order.append(spec.variable)
        if spec.variable in REGION_MET_DIRECTIONS:
            order.append(REGION_MET_DIRECTIONS[spec.variable])
    data_vars: dict[str, Any] = {}
    for name in order:
        extra: dict[str, Any] = {}
        if name.endswith("_code"):
            extra = {
                "flag_values": np.arange(1, 18, dtype=np.float64),
                "flag_meanings": " ".join(DIRECTION_CODE_NAMES),
            }
        if name in REGION_MET_DIRECTIONS.values():
            extra = {"comment": "from the 16-point code (code × 22.5°, 16 = N); NaN when calm"}
        data_vars[name] = (
            ("site", "time"),
            _on_axis(values[name], rows)[np.newaxis, :],
            met_attrs(name, **extra),
        )
    ds = xr.Dataset(
        data_vars,
        coords={
            "site": ("site", np.array([site], dtype=object)),
            "time": ("time", time, time_attrs),
            "name": ("site", np.array([f"{site} (elevated regional weather station)"])),
            "lon": ("site", [math.nan if lon is None else float(lon)]),
            "lat": ("site", [math.nan if lat is None else float(lat)]),
            "elevation_m": (
                "site",
                [elevation_m],
                {
                    "units": "m",
                    "long_name": "station altitude above sea level",
                    "comment": elevation_source,
                },
            ),
            "kind": ("site", np.array(["weather_station_elevated"], dtype=object)),
        },
    )
    ds = _finish(ds)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": "regional daily weather at an ELEVATED station (not the city's surface weather)",
        "station_kind": "weather_station_elevated",
        "comment": (
            f"Station pressure ~{np.nanmedian(values['p_elev_mean']):.0f} hPa, about "
            f"{elevation_m:.0f} m above sea level: above the Urumqi basin's winter inversion "
            "(the city station is at 935 m). Do not use as the city's surface weather; its "
            "winter warmth relative to the basin signals warm air aloft (inversion)."
        ),
        "time_resolution": "1D",
        "time_zone": "UTC",
        "source_time_zone": BEIJING,
        "time_label": "start of the Beijing calendar day",
        "direction_code_convention": (
            "CMA 16-point codes: 1 NNE, 2 NE, ..., 15 NNW, 16 N (code x 22.5 deg), 17 calm"
        ),
        "pressure_unit_in_file": "Pa (80810 = 808.10 hPa)",
        "source_format": "region-met-daily",
        "source_files": _provenance(table, "region-met-daily", len(local), notes),
    }
    return ds


# --------------------------------------------------------------------------------------------
# Beijing PRSA hourly benchmark


def _beijing_times(table: _Table) -> pd.DatetimeIndex:
    parts: dict[str, FloatArray] = {}
    for column in BEIJING_TIME_COLUMNS:
        parts[column], _ = _numbers(table, column, "an integer")
    frame = pd.DataFrame(parts)
    whole = (frame.notna() & (frame % 1 == 0)).all(axis=1) & frame["hour"].between(0, 23)
    ymd = frame.where(whole, 0).astype(np.int64)
    text = (
        ymd["year"].astype(str).str.zfill(4)
        + "-"
        + ymd["month"].astype(str).str.zfill(2)
        + "-"
        + ymd["day"].astype(str).str.zfill(2)
    )
    days = pd.to_datetime(text.where(whole), format="%Y-%m-%d", errors="coerce")
    local = days + pd.to_timedelta(frame["hour"].where(whole), unit="h")
    bad = np.flatnonzero(local.isna().to_numpy())
    if bad.size:
        raise InputError(
            table.path,
            [
                Problem(
                    "not a valid date and hour",
                    line=int(table.lines[i]),
                    column="year, month, day, hour",
                    value="-".join(str(table.cells[c].iat[i]) for c in BEIJING_TIME_COLUMNS),
                    expected="a calendar date and an integer hour 0–23 (Beijing time)",
                )
                for i in bad[:MAX_PROBLEMS]
            ],
        )
    return pd.DatetimeIndex(local).astype("datetime64[ns]")


def _beijing_sectors(table: _Table) -> tuple[FloatArray, FloatArray]:
    """``cbwd`` → (``wind_sector`` code, direction [degrees]); NaN for a missing cell."""
    text = table.cells[BEIJING_WIND_COLUMN]
    missing = text.isin(MISSING_MARKERS).to_numpy()
    keys = text.str.lower()
    known = keys.isin(list(BEIJING_WIND_SECTORS)).to_numpy()
    bad = np.flatnonzero(~missing & ~known)
    if bad.size:
        raise InputError(
            table.path,
            [
                Problem(
                    "unknown combined wind direction",
                    line=int(table.lines[i]),
                    column=table.original_names[BEIJING_WIND_COLUMN],
                    value=str(text.iat[i]),
                    expected="one of NE, SE, NW, cv (calm and variable)",
                )
                for i in bad[:MAX_PROBLEMS]
            ],
        )
    sector = keys.map(lambda k: BEIJING_WIND_SECTORS[k][0] if k in BEIJING_WIND_SECTORS else None)
    degrees = keys.map(lambda k: BEIJING_WIND_SECTORS[k][1] if k in BEIJING_WIND_SECTORS else None)
    return (
        sector.to_numpy(dtype=np.float64, na_value=np.nan),
        degrees.to_numpy(dtype=np.float64, na_value=np.nan),
    )


def hourly_speed_from_cumulated(sector: FloatArray, cumulated: FloatArray) -> FloatArray:
    """Hourly wind speed from a wind run cumulated over hours of the same direction (``Iws``).

    Parameters
    ----------
    sector : direction category of each hour on a regular hourly axis (NaN = missing hour).
    cumulated : cumulated wind speed [m/s·h / h, i.e. m/s summed over hours] that restarts when
        the category changes.

    Returns
    -------
    speed [m/s]: ``cumulated[t] − cumulated[t−1]`` within a run of one category;
    ``cumulated[t]`` at the first hour of a run (the category differs from the hour before, or
    the record starts: the first hour is taken as the start of the cumulation). NaN where the
    previous hour is missing (whether the run continued across the gap is unknown), where
    either value is missing, or where the increment is negative (an inconsistent cumulation).
    """
    prev_sector = np.concatenate([[np.nan], sector[:-1]])
    prev_cum = np.concatenate([[np.nan], cumulated[:-1]])
    first = np.zeros(sector.shape, dtype=bool)
    first[:1] = True
    same = sector == prev_sector  # False where either is NaN
    starts = first | (~np.isnan(prev_sector) & ~np.isnan(sector) & ~same)
    speed = np.where(same, cumulated - prev_cum, np.where(starts, cumulated, np.nan))
    speed[np.isnan(sector)] = np.nan
    speed[speed < 0] = np.nan
    # Remove the floating-point noise of the subtraction (the source has 2 decimals).
    return np.asarray(np.round(speed, 6), dtype=np.float64)


def read_beijing_hourly(
    path: str | Path, *, lon: float = BEIJING_LON, lat: float = BEIJING_LAT
) -> xr.Dataset:
    """Read the UCI Beijing PRSA hourly table: PM2.5 and weather at the US Embassy, 2010–2014.

    Source columns (all required, no others): ``No`` (row number, ignored), ``year, month, day,
    hour`` (Beijing time), ``pm2.5`` [µg/m³], ``DEWP``, ``TEMP`` [°C], ``PRES`` [hPa], ``cbwd``
    (combined wind direction NE/SE/NW/cv), ``Iws`` (cumulated wind speed [m/s]), ``Is``, ``Ir``
    (cumulated hours of snow, rain).

    Conversions and derived variables:

    - ``t2m``, ``d2m`` [K] from TEMP, DEWP; ``sp`` [hPa] = PRES; ``rh2m`` [%] from them with
      :func:`forecast.met.derived.relative_humidity` (a dew point ≤ 1 K above the temperature,
      whole-degree rounding, is clipped to 100 %; more is an error);
    - ``wind_sector`` (0 cv, 1 NE, 2 SE, 3 NW) and ``wind_dir`` [degree]: the quadrant centre
      (45, 135, 315), NaN for cv (calm and variable) — a ±45° direction;
    - ``wind_speed`` [m/s]: the hourly estimate from ``Iws``
      (:func:`hourly_speed_from_cumulated`); ``wind_run_cum`` keeps ``Iws`` as published;
    - ``snow_flag``, ``rain_flag``, ``precip_flag`` [1]: snow / rain / either fell in the hour
      (Is > 0, Ir > 0); ``snow_hours_cum``, ``rain_hours_cum`` keep Is, Ir. No amounts exist.
    - ``pm25`` [µg/m³] with ``pm25_qc`` (``missing`` bit where empty; run
      :func:`forecast.obs.qc.apply_qc` for the other rules).

    Hours labelled HH:00 Beijing time are stored at HH:00 − 8 h UTC (08:00 BJT → 00:00 UTC);
    the label is kept as published.

    Returns
    -------
    Dataset ``(site, time)`` with one site ``beijing`` (``kind = "station"``), hourly UTC time.

    Raises
    ------
    InputError : unknown or missing columns, bad or repeated times, non-numeric cells,
        impossible values, unknown ``cbwd`` codes, dew point well above the temperature.
    """
    path = Path(path)
    required = (*BEIJING_TIME_COLUMNS, *BEIJING_COLUMNS, BEIJING_WIND_COLUMN)
    table = _read_table(path, required, ignored=BEIJING_IGNORED, what="Beijing PRSA")
    local = _beijing_times(table)
    _check_unique_times(table, local, "year, month, day, hour")
    values, _ = _convert_columns(table, BEIJING_COLUMNS)
    excess = values["d2m"] - values["t2m"]
    bad = np.flatnonzero(excess > BEIJING_SUPERSATURATION_TOLERANCE)
    if bad.size:
        raise InputError(
            path,
            [
                Problem(
                    f"dew point is {excess[i]:g} K above the air temperature",
                    line=int(table.lines[i]),
                    column=table.original_names["dewp"],
                    value=str(table.cells["dewp"].iat[i]),
                    expected=f"DEWP ≤ TEMP (+{BEIJING_SUPERSATURATION_TOLERANCE:g} K rounding)",
                )
                for i in bad[:MAX_PROBLEMS]
            ],
        )
    sector, degrees = _beijing_sectors(table)

    notes = list(table.notes)
    axis, rows = _regular(local, "h", notes, "hour")
    time, time_attrs = _time_coord(axis)
    on = {name: _on_axis(v, rows) for name, v in values.items()}
    sector_axis = _on_axis(sector, rows)
    on["wind_sector"] = sector_axis
    on["wind_dir"] = _on_axis(degrees, rows)
    on["wind_speed"] = hourly_speed_from_cumulated(sector_axis, on["wind_run_cum"])
    on["rh2m"] = np.asarray(
        relative_humidity(
            on["t2m"], on["d2m"], supersaturation_tolerance=BEIJING_SUPERSATURATION_TOLERANCE
        )
    )
    for flag, source in (("snow_flag", "snow_hours_cum"), ("rain_flag", "rain_hours_cum")):
        on[flag] = np.where(np.isnan(on[source]), np.nan, (on[source] > 0).astype(np.float64))
    on["precip_flag"] = np.fmax(on["snow_flag"], on["rain_flag"])
    on["precip_flag"][np.isnan(on["snow_flag"]) | np.isnan(on["rain_flag"])] = np.nan
    n_negative = int(np.sum(np.isnan(on["wind_speed"]) & ~np.isnan(on["wind_run_cum"])))
    if n_negative:
        notes.append(
            f"wind_speed unknown for {n_negative} hour(s) (after a missing hour or a "
            "decreasing cumulation)"
        )

    pm25 = VARIABLES["pm25"]
    qc = np.where(np.isnan(on["pm25"]), np.uint16(QC.MISSING), np.uint16(0)).astype(np.uint16)
    data_vars: dict[str, Any] = {
        "pm25": (
            ("site", "time"),
            on["pm25"][np.newaxis, :],
            {"units": pm25.units, "long_name": pm25.long_name, "standard_name": pm25.standard_name},
        ),
        "pm25_qc": (
            ("site", "time"),
            qc[np.newaxis, :],
            {
                "long_name": "quality flags of pm25",
                "flag_masks": np.array(FLAG_MASKS, dtype=np.uint16),
                "flag_meanings": FLAG_MEANINGS,
                "units": "1",
            },
        ),
    }
    comments = {
        "wind_speed": "estimated from the cumulated wind speed Iws (hourly increments within a "
        "run of one wind_sector)",
        "wind_dir": "quadrant centre of the combined direction cbwd (NE 45, SE 135, NW 315), "
        "NaN for cv (calm and variable); uncertain by ±45 degrees",
        "rh2m": "Magnus formula over water (Alduchov and Eskridge 1996) from t2m and d2m",
        "sp": "station pressure as published (PRES)",
    }
    for name in (
        "t2m",
        "d2m",
        "rh2m",
        "sp",
        "wind_speed",
        "wind_dir",
        "wind_sector",
        "wind_run_cum",
        "snow_flag",
        "rain_flag",
        "precip_flag",
        "snow_hours_cum",
        "rain_hours_cum",
    ):
        extra: dict[str, Any] = {"comment": comments[name]} if name in comments else {}
        if name == "wind_sector":
            extra = {
                "flag_values": np.array([0.0, 1.0, 2.0, 3.0]),
                "flag_meanings": "calm_or_variable northeast southeast northwest",
            }
        data_vars[name] = (("site", "time"), on[name][np.newaxis, :], met_attrs(name, **extra))
    ds = xr.Dataset(
        data_vars,
        coords={
            "site": ("site", np.array(["beijing"], dtype=object)),
            "time": ("time", time, time_attrs),
            "name": ("site", np.array(["Beijing US Embassy"], dtype=object)),
            "city": ("site", np.array(["beijing"], dtype=object)),
            "lon": ("site", [float(lon)]),
            "lat": ("site", [float(lat)]),
            "reference_site": ("site", [False]),
            "kind": ("site", np.array(["station"], dtype=object)),
        },
    )
    ds = _finish(ds)
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": "Beijing US Embassy hourly PM2.5 and weather (UCI PRSA benchmark)",
        "references": "Liang, X. et al. (2015), Proc. R. Soc. A 471: 20150257; UCI Machine "
        "Learning Repository, Beijing PM2.5 data set (CC BY 4.0)",
        "time_resolution": "1h",
        "time_zone": "UTC",
        "source_time_zone": BEIJING,
        "time_label": "the published hour label (Beijing time) converted to UTC",
        "source_format": "beijing-prsa",
        "source_files": _provenance(table, "beijing-prsa", len(local), notes),
    }
    return ds
