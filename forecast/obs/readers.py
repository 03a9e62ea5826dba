"""Readers for every station-data format the region's forecasters receive.

Each reader turns one file into a :class:`ReadResult`: a long table with one row per site and
time (Beijing wall-clock time, as published), the canonical variables of
:mod:`forecast.obs.variables`, and the source line of each row. Problems are collected per file
and raised together as one :class:`~forecast.errors.InputError` naming the file, the line, the
column and what was expected. Documented repairs are recorded as ``notes``.

Formats (``--format``):

``cnemc-hourly``
    The network's hourly release, one file per hour, a row per station: ``timepoint,
    stationcode, …, pm2_5, pm10, so2, no2, co, o3, o3_8h, aqi`` (``*_24h`` columns ignored).
``station-hourly``
    Per-city hourly tables with station *names*: ``Date, Hour, WatchPoint, AQI, …, PM2.5,
    PM10, CO, NO2, O3_1h, O3_8h, SO2``. The city comes from ``--city`` or the file name.
``china-sites``
    The public archives' wide daily files ``china_sites_YYYYMMDD.csv``: ``date, hour, type,
    <station code>…``, one row per hour and pollutant type.
``city-daily``
    City daily tables: the aqistudy layout (``city, date, AQI, …, PM2.5, …``) or the
    tianqihoubao layout (``date, quality_level, AQI, AQI_rank, PM2.5, …``; needs ``--city``).
``tidy``
    Any other source: ``site, time, <variable>…`` with ``site`` a station code or city id,
    ``time`` ISO 8601 (naive = Beijing time; an explicit UTC offset is converted), and variable
    columns named as in :data:`forecast.obs.variables.VARIABLES` in their canonical units. The
    time step is inferred: daily when values are a day apart (or, with one time per site, all at
    00:00), hourly otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from forecast.config import Config
from forecast.errors import InputError, Problem, input_error
from forecast.obs.textio import (
    MAX_PREAMBLE_LINES,
    MISSING_MARKERS,
    decode_file,
    normalise_name,
    tokenise,
)
from forecast.obs.variables import VARIABLES
from forecast.timeutil import utc_to_beijing

Kind = Literal["station", "city"]
Resolution = Literal["1h", "1D"]
FORMATS: tuple[str, ...] = ("cnemc-hourly", "station-hourly", "china-sites", "city-daily", "tidy")

_REFERENCE_SUFFIX = re.compile(r"[（(]\s*对照点\s*[)）]\s*$")
_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_STATION_CODE = re.compile(r"^\d{4}A$")


@dataclass(frozen=True)
class Layout:
    """One file layout: the header columns that identify it and how columns map to variables."""

    format: str
    variant: str
    required: tuple[str, ...]
    variables: dict[str, str]
    ignored: tuple[str, ...] = ()
    kind: Kind = "station"
    resolution: Resolution = "1h"


_O3_24H = "o3_24h"
LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "cnemc-hourly",
        "cnemc",
        required=("timepoint", "stationcode", "pm2_5"),
        variables={
            "pm2_5": "pm25",
            "pm10": "pm10",
            "so2": "so2",
            "no2": "no2",
            "co": "co",
            "o3": "o3",
            "o3_8h": "o3_8h",
            "aqi": "aqi",
        },
        ignored=(
            "longitude",
            "latitude",
            "area",
            "positionname",
            "primarypollutant",
            "quality",
            "pm10_24h",
            "pm2_5_24h",
            _O3_24H,
            "o3_8h_24h",
            "no2_24h",
            "so2_24h",
            "co_24h",
        ),
    ),
    Layout(
        "station-hourly",
        "named-stations",
        required=("date", "hour", "watchpoint", "pm2.5"),
        variables={
            "pm2.5": "pm25",
            "pm10": "pm10",
            "so2": "so2",
            "no2": "no2",
            "co": "co",
            "o3_1h": "o3",
            "o3_8h": "o3_8h",
            "aqi": "aqi",
        },
        ignored=("level", "primarypollution"),
    ),
    Layout(
        "china-sites",
        "wide-daily",
        required=("date", "hour", "type"),
        variables={},
    ),
    Layout(
        "city-daily",
        "aqistudy",
        required=("city", "date", "pm2.5"),
        variables={
            "pm2.5": "pm25",
            "pm10": "pm10",
            "so2": "so2",
            "no2": "no2",
            "co": "co",
            "o3_8h": "o3_8h",
            "aqi": "aqi",
        },
        ignored=("aqi_range", "quality_level", "rank"),
        kind="city",
        resolution="1D",
    ),
    Layout(
        "city-daily",
        "tianqihoubao",
        required=("date", "aqi_rank", "pm2.5"),
        # The source does not state the averaging of its O3 column: kept as the 1-h variable.
        variables={
            "pm2.5": "pm25",
            "pm10": "pm10",
            "so2": "so2",
            "no2": "no2",
            "co": "co",
            "o3": "o3",
            "aqi": "aqi",
        },
        ignored=("quality_level",),
        kind="city",
        resolution="1D",
    ),
    Layout(
        "tidy",
        "tidy",
        required=("site", "time"),
        variables={name: name for name in VARIABLES},
    ),
)

#: ``type`` values of the china-sites files and the variables they hold.
CHINA_SITES_TYPES: dict[str, str | None] = {
    "aqi": "aqi",
    "pm2.5": "pm25",
    "pm10": "pm10",
    "so2": "so2",
    "no2": "no2",
    "co": "co",
    "o3": "o3",
    "o3_8h": "o3_8h",
    **{
        t: None
        for t in ("pm2.5_24h", "pm10_24h", "so2_24h", "no2_24h", "co_24h", "o3_24h", "o3_8h_24h")
    },
}


@dataclass
class ReadResult:
    """One file, read: a long table ``site, time (Beijing), <variables…>, line``."""

    path: Path
    format: str
    variant: str
    encoding: str
    kind: Kind
    resolution: Resolution
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def variables(self) -> list[str]:
        return [c for c in self.frame.columns if c in VARIABLES]


# --------------------------------------------------------------------------------------------
# header and cells


def _matches(layout: Layout, names: Sequence[str]) -> bool:
    return set(layout.required) <= set(names)


def _sniff(names: Sequence[str]) -> Layout | None:
    for layout in LAYOUTS:
        if _matches(layout, names):
            return layout
    return None


def find_header(path: Path, records: list[tuple[int, list[str]]], fmt: str) -> tuple[Layout, int]:
    """The layout of ``fmt`` whose header is among the first lines, and its record index."""
    candidates = [layout for layout in LAYOUTS if layout.format == fmt]
    for index, (_, row) in enumerate(records[: MAX_PREAMBLE_LINES + 1]):
        names = [normalise_name(c) for c in row]
        for layout in candidates:
            if _matches(layout, names):
                return layout, index
    heads = [
        (n, row, [normalise_name(c) for c in row]) for n, row in records[: MAX_PREAMBLE_LINES + 1]
    ]
    for number, _, names in heads:
        other = _sniff(names)
        if other is not None and other.format != fmt:
            raise input_error(
                path,
                f"this is a {other.format} file, not {fmt} (mixed formats in one call?)",
                line=number,
                expected=f"--format {other.format} for this file, or only {fmt} files",
            )
    # Report against the line that comes closest to a header (a title line above it is allowed).
    number, row, names, best = min(
        ((n, r, names, lay) for n, r, names in heads for lay in candidates),
        key=lambda h: len(set(h[3].required) - set(h[2])),
    )
    missing = [c for c in best.required if c not in names]
    raise input_error(
        path,
        f"header not recognised as {fmt}: missing column(s) {', '.join(missing)}",
        line=number,
        value=",".join(row)[:120],
        expected=f"a header with the columns {', '.join(best.required)}",
    )


def _cells_frame(
    path: Path, records: list[tuple[int, list[str]]], header_index: int
) -> tuple[pd.DataFrame, list[str]]:
    """Data rows as a string DataFrame with normalised column names and a ``line`` column."""
    header_line, header = records[header_index]
    names = [normalise_name(c) for c in header]
    notes = []
    if header_index:
        notes.append(
            f"skipped {header_index} line(s) before the header on line {header_line} (repair)"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1 and n})
    if duplicated:
        raise input_error(path, f"duplicate column(s) {', '.join(duplicated)}", line=header_line)
    data = records[header_index + 1 :]
    if not data:
        raise input_error(path, "no data rows after the header", line=header_line)
    widths = {len(row) for _, row in data}
    if len(data) > 1 and len(widths) == 1 and len(names) not in widths:
        raise input_error(
            path,
            f"the header has {len(names)} columns but every data row has {widths.pop()} fields "
            "(header shifted against the data?)",
            line=header_line,
            expected="one header name per data column",
        )
    problems = []
    for number, row in data:
        if len(row) != len(names):
            # Only the last row short, the others complete: a cut file, not a shifted header.
            truncated = (
                (number, row) == data[-1]
                and len(row) < len(names)
                and all(len(r) == len(names) for _, r in data[:-1])
            )
            problems.append(
                Problem(
                    "the file looks truncated: the last row is incomplete"
                    if truncated
                    else f"row has {len(row)} fields but the header has {len(names)} "
                    "(shifted header, extra or missing delimiter?)",
                    line=number,
                    expected=f"{len(names)} fields",
                )
            )
    if problems:
        raise InputError(path, problems)
    frame = pd.DataFrame([row for _, row in data], columns=names, dtype=object)
    frame["line"] = np.array([n for n, _ in data], dtype=np.int64)
    return frame, notes


def parse_numbers(path: Path, frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Source columns → float64 variables; non-numeric cells are errors naming line and column."""
    out = pd.DataFrame(index=frame.index)
    problems: list[Problem] = []
    for source, variable in columns.items():
        if source not in frame.columns:
            continue
        text = frame[source].astype(str).str.strip()
        missing = text.isin(MISSING_MARKERS)
        values = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64")
        bad = ~missing & values.isna()
        for i in np.flatnonzero(bad.to_numpy())[:10]:
            problems.append(
                Problem(
                    "not a number",
                    line=int(frame["line"].iat[i]),
                    column=source,
                    value=text.iat[i],
                    expected="a number or an empty cell",
                )
            )
        out[variable] = values
    if problems:
        raise InputError(path, problems)
    return out


def _unknown_columns(frame: pd.DataFrame, layout: Layout, also: Sequence[str] = ()) -> list[str]:
    known = {*layout.required, *layout.variables, *layout.ignored, *also, "line"}
    unknown = [c for c in frame.columns if c not in known]
    return [f"ignored unknown column(s): {', '.join(unknown)}"] if unknown else []


# --------------------------------------------------------------------------------------------
# times


def parse_local_times(
    path: Path, frame: pd.DataFrame, column: str, *, allow_offset: bool
) -> pd.Series:
    """ISO 8601 times → naive Beijing wall-clock times.

    Formats that are published in Beijing time may carry no UTC offset other than +08:00; a
    different offset is an error (a file exported in UTC or Urumqi time). The generic ``tidy``
    format (``allow_offset``) converts any explicit offset to Beijing time.
    """
    text = frame[column].astype(str).str.strip()
    offsets = text.str.extract(_OFFSET, expand=False)
    foreign = offsets.notna() & ~offsets.isin(["+08:00", "+0800"])
    if foreign.any() and not allow_offset:
        i = int(np.flatnonzero(foreign.to_numpy())[0])
        raise input_error(
            path,
            "time is not in Beijing time",
            line=int(frame["line"].iat[i]),
            column=column,
            value=text.iat[i],
            expected="Beijing time (no offset, or +08:00)",
        )
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    naive = pd.to_datetime(
        text.str.replace(_OFFSET, "", regex=True), format="ISO8601", errors="coerce"
    )
    has_offset = offsets.notna().to_numpy()
    local = naive.copy()
    if has_offset.any():
        converted = pd.Series(utc_to_beijing(parsed), index=parsed.index)
        local[has_offset] = converted[has_offset]
    _raise_unparsed(path, frame, column, text, local, "an ISO 8601 time like 2022-01-01T08:00:00")
    return local.astype("datetime64[ns]")


def _raise_unparsed(
    path: Path, frame: pd.DataFrame, column: str, text: pd.Series, parsed: pd.Series, expected: str
) -> None:
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        raise InputError(
            path,
            [
                Problem(
                    "not a valid time",
                    line=int(frame["line"].iat[i]),
                    column=column,
                    value=text.iat[i],
                    expected=expected,
                )
                for i in bad[:10]
            ],
        )


def parse_date_hour(
    path: Path, frame: pd.DataFrame, date_col: str, hour_col: str, notes: list[str]
) -> pd.Series:
    """``YYYYMMDD`` + ``HH`` columns → naive Beijing times. Hour 24 means 00 of the next day."""
    dates = frame[date_col].astype(str).str.strip()
    day = pd.to_datetime(dates, format="%Y%m%d", errors="coerce")
    _raise_unparsed(path, frame, date_col, dates, day, "a date like 20200402 (YYYYMMDD)")
    hours_text = frame[hour_col].astype(str).str.strip()
    hours = pd.to_numeric(hours_text, errors="coerce")
    bad = hours.isna() | (hours < 0) | (hours > 24) | (hours % 1 != 0)
    if bad.any():
        raise InputError(
            path,
            [
                Problem(
                    "not an hour of the day",
                    line=int(frame["line"].iat[i]),
                    column=hour_col,
                    value=hours_text.iat[i],
                    expected="an integer hour 0–23",
                )
                for i in np.flatnonzero(bad.to_numpy())[:10]
            ],
        )
    if (hours == 24).any():
        notes.append(f"{int((hours == 24).sum())} row(s) at hour 24 read as 00:00 of the next day")
    return (day + pd.to_timedelta(hours, unit="h")).astype("datetime64[ns]")


def parse_dates(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    text = frame[column].astype(str).str.strip()
    day = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    _raise_unparsed(path, frame, column, text, day, "a date like 2015-10-01 (YYYY-MM-DD)")
    return day.astype("datetime64[ns]")


def check_filename_time(
    path: Path, times: pd.Series, frame: pd.DataFrame, pattern: str, fmt: str, unit: str
) -> None:
    """A file named for an hour or a day must hold that hour or day (catches shifted zones)."""
    match = re.search(pattern, path.stem)
    if not match:
        return
    named = pd.Timestamp(pd.to_datetime("".join(match.groups()), format=fmt))
    held = times.dt.floor(unit)
    wrong = np.flatnonzero((held != named).to_numpy())
    if wrong.size:
        i = int(wrong[0])
        shift = (times.iat[i] - named) / pd.Timedelta(hours=1)
        hint = (
            f" ({shift:+.0f} h: exported in another time zone, e.g. Urumqi time UTC+6 or UTC?)"
            if unit == "h" and shift in (-2.0, -8.0)
            else ""
        )
        raise input_error(
            path,
            f"the file name says {named:%Y-%m-%d %H:%M} but the rows hold another time{hint}",
            line=int(frame["line"].iat[i]),
            value=f"{times.iat[i]:%Y-%m-%d %H:%M}",
            expected=f"every row at {named:%Y-%m-%d %H:%M} Beijing time"
            if unit == "h"
            else f"every row on {named:%Y-%m-%d}",
        )


# --------------------------------------------------------------------------------------------
# sites


def _station_code_lookup(config: Config) -> dict[str, str]:
    return {s.code: s.city for s in config.stations}


def _city_for_area(config: Config, area: str) -> str | None:
    try:
        return config.city(area.strip()).id
    except KeyError:
        return None


def resolve_station_codes(
    path: Path, frame: pd.DataFrame, config: Config, notes: list[str], area_col: str | None
) -> pd.Series:
    """Station codes known to the config; others outside the region are dropped (noted).

    An unknown code whose ``area`` names one of the region's cities is an error: the station
    list in the config is out of date, and silently dropping a city's station would bias its
    mean.
    """
    codes = frame["stationcode"].astype(str).str.strip()
    known = codes.isin(_station_code_lookup(config))
    if area_col is not None and (~known).any():
        areas = frame[area_col].astype(str)
        # Look each distinct area name up once: a national release has ~1,600 rows.
        city_of_area = {a: _city_for_area(config, a) for a in areas[~known].unique()}
        in_region = ~known & areas.map(city_of_area).notna()
        for i in np.flatnonzero(in_region.to_numpy())[:1]:
            city = city_of_area[areas.iat[i]]
            if city is not None:
                raise input_error(
                    path,
                    f"station {codes.iat[i]!r} in {frame[area_col].iat[i]} is not in the "
                    f"config's station list for {city}",
                    line=int(frame["line"].iat[i]),
                    column="stationcode",
                    expected=f"one of {', '.join(s.code for s in config.stations_of(city))} "
                    "(or add the station to config.yaml)",
                )
    bad_codes = codes[~known & ~codes.str.match(_STATION_CODE)]
    if len(bad_codes):
        j = int(np.flatnonzero((~known & ~codes.str.match(_STATION_CODE)).to_numpy())[0])
        raise input_error(
            path,
            "not a station code",
            line=int(frame["line"].iat[j]),
            column="stationcode",
            value=codes.iat[j],
            expected="a national station code like 1490A",
        )
    if (~known).any():
        notes.append(
            f"ignored {int((~known).sum())} row(s) of {codes[~known].nunique()} station(s) "
            "outside the region"
        )
    return codes.where(known)


def _strip_reference(name: str) -> str:
    return _REFERENCE_SUFFIX.sub("", name).strip()


def resolve_station_names(
    path: Path, frame: pd.DataFrame, config: Config, city_id: str
) -> pd.Series:
    """Station names (with or without the 对照点 suffix) → codes of ``city_id``'s stations."""
    by_name = {_strip_reference(s.name): s.code for s in config.stations_of(city_id)}
    names = frame["watchpoint"].astype(str).map(_strip_reference)
    codes = names.map(by_name)
    unknown = np.flatnonzero(codes.isna().to_numpy())
    if unknown.size:
        raise InputError(
            path,
            [
                Problem(
                    f"unknown station name for {city_id}",
                    line=int(frame["line"].iat[i]),
                    column="WatchPoint",
                    value=names.iat[i],
                    expected=f"one of {', '.join(by_name)}",
                )
                for i in unknown[:10]
            ],
        )
    return codes


def city_of_file(path: Path, config: Config, city: str | None) -> str:
    """The city a single-city table belongs to: ``--city`` or else the file name."""
    for name in (city, path.stem):
        if name is None:
            continue
        try:
            return config.city(name).id
        except KeyError:
            if name is city:
                raise input_error(
                    path,
                    f"unknown city {city!r} given with --city",
                    expected="one of " + ", ".join(f"{c.id} ({c.name_zh})" for c in config.cities),
                ) from None
    raise input_error(
        path,
        f"cannot tell which city this table is for: the file name {path.stem!r} is not a city",
        expected="--city with one of " + ", ".join(f"{c.id} ({c.name_zh})" for c in config.cities),
    )


# --------------------------------------------------------------------------------------------
# format readers


def _read_cnemc(
    path: Path,
    frame: pd.DataFrame,
    layout: Layout,
    config: Config,
    city: str | None,
    notes: list[str],
) -> pd.DataFrame:
    # Keep the region's rows first: a national release has ~1,600 stations, we need ~21, and
    # cells of stations outside the region are neither parsed nor validated.
    area = "area" if "area" in frame.columns else None
    sites = resolve_station_codes(path, frame, config, notes, area)
    frame = frame.loc[sites.notna()]
    sites = sites.loc[frame.index]
    times = parse_local_times(path, frame, "timepoint", allow_offset=False)
    check_filename_time(path, times, frame, r"(\d{4}-\d{2}-\d{2})T(\d{2})", "%Y-%m-%d%H", "h")
    columns = dict(layout.variables)
    if _O3_24H in frame.columns:
        o3 = parse_numbers(path, frame, {"o3": "a", _O3_24H: "b"})
        both = o3["a"].notna() & o3["b"].notna() & (o3["a"] != o3["b"])
        # o3_24h is the maximum of the last 24 hourly values, so it cannot be below o3.
        if both.sum() and (o3["a"][both] > o3["b"][both]).mean() > 0.5:
            columns["o3"] = "_o3_24h_unused"
            columns[_O3_24H] = "o3"
            notes.append(
                f"o3 and o3_24h are swapped in this file (o3 > its 24-h maximum in "
                f"{int((o3['a'][both] > o3['b'][both]).sum())} of {int(both.sum())} rows): "
                "read o3 from o3_24h (repair)"
            )
    values = parse_numbers(path, frame, columns).drop(columns="_o3_24h_unused", errors="ignore")
    out = pd.concat([pd.DataFrame({"site": sites, "time": times}), values], axis=1)
    return out.assign(line=frame["line"])


def _read_station_hourly(
    path: Path,
    frame: pd.DataFrame,
    layout: Layout,
    config: Config,
    city: str | None,
    notes: list[str],
) -> pd.DataFrame:
    city_id = city_of_file(path, config, city)
    times = parse_date_hour(path, frame, "date", "hour", notes)
    sites = resolve_station_names(path, frame, config, city_id)
    values = parse_numbers(path, frame, layout.variables)
    out = pd.concat([pd.DataFrame({"site": sites, "time": times}), values], axis=1)
    return out.assign(line=frame["line"])


def _read_china_sites(
    path: Path,
    frame: pd.DataFrame,
    layout: Layout,
    config: Config,
    city: str | None,
    notes: list[str],
) -> pd.DataFrame:
    times = parse_date_hour(path, frame, "date", "hour", notes)
    check_filename_time(path, times, frame, r"(\d{8})$", "%Y%m%d", "D")
    types = frame["type"].astype(str).str.strip().str.lower()
    unknown_types = sorted(set(types) - set(CHINA_SITES_TYPES))
    if unknown_types:
        i = int(np.flatnonzero(types.isin(unknown_types).to_numpy())[0])
        raise input_error(
            path,
            "unknown pollutant type",
            line=int(frame["line"].iat[i]),
            column="type",
            value=frame["type"].iat[i],
            expected="one of "
            + ", ".join(
                t.upper().replace("_8H", "_8h").replace("_24H", "_24h") for t in CHINA_SITES_TYPES
            ),
        )
    station_cols = [c for c in frame.columns if c not in ("date", "hour", "type", "line")]
    not_codes = [c for c in station_cols if not _STATION_CODE.match(c.upper())]
    if not_codes:
        raise input_error(
            path,
            f"column(s) {', '.join(not_codes[:5])} are not station codes",
            expected="date,hour,type followed by station codes like 1490A",
        )
    known = _station_code_lookup(config)
    ours = [c for c in station_cols if c.upper() in known]
    if len(ours) < len(station_cols):
        notes.append(
            f"ignored {len(station_cols) - len(ours)} station column(s) outside the region"
        )
    if not ours:
        raise input_error(
            path,
            "no column for any of the region's stations",
            expected="station codes such as " + ", ".join(list(known)[:4]),
        )
    keep = types.map(CHINA_SITES_TYPES).notna().to_numpy()
    sub = frame.loc[keep]
    variables = types[keep].map(CHINA_SITES_TYPES)
    numbers = parse_numbers(path, sub, {c: c for c in ours})
    long = numbers.assign(
        time=times[keep].to_numpy(), variable=variables.to_numpy(), line=sub["line"].to_numpy()
    )
    dup = long.duplicated(subset=["time", "variable"], keep=False)
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise input_error(
            path,
            "the same hour and type appear twice",
            line=int(long["line"].iat[i]),
            value=f"{long['time'].iat[i]:%Y-%m-%d %H}h {long['variable'].iat[i]}",
            expected="one row per hour and type",
        )
    melted = long.melt(id_vars=["time", "variable", "line"], value_vars=ours, var_name="site")
    wide = melted.pivot_table(
        index=["site", "time"], columns="variable", values="value", aggfunc="first", dropna=False
    )
    lines = melted.groupby(["site", "time"])["line"].min()
    out = wide.reset_index()
    out.columns.name = None
    out["site"] = out["site"].str.upper()
    out["line"] = lines.to_numpy()
    return out


def _read_city_daily(
    path: Path,
    frame: pd.DataFrame,
    layout: Layout,
    config: Config,
    city: str | None,
    notes: list[str],
) -> pd.DataFrame:
    times = parse_dates(path, frame, "date")
    values = parse_numbers(path, frame, layout.variables)
    if "city" in frame.columns:
        if city is not None:
            wanted = city_of_file(path, config, city)
        names = frame["city"].astype(str).str.strip()
        ids = names.map(lambda n: _city_for_area(config, n))
        if ids.isna().any():
            notes.append(
                f"ignored {int(ids.isna().sum())} row(s) of {names[ids.isna()].nunique()} "
                "city(ies) outside the region"
            )
        if city is not None:
            ids = ids.where(ids == wanted)
    else:
        ids = pd.Series(city_of_file(path, config, city), index=frame.index)
    out = pd.concat([pd.DataFrame({"site": ids, "time": times}), values], axis=1)
    return out.assign(line=frame["line"]).dropna(subset=["site"])


def _read_tidy(
    path: Path,
    frame: pd.DataFrame,
    layout: Layout,
    config: Config,
    city: str | None,
    notes: list[str],
) -> pd.DataFrame:
    times = parse_local_times(path, frame, "time", allow_offset=True)
    sites = frame["site"].astype(str).str.strip()
    stations = set(_station_code_lookup(config))
    city_ids = {c.id for c in config.cities}
    is_station = sites.isin(stations)
    is_city = sites.isin(city_ids)
    unknown = np.flatnonzero((~is_station & ~is_city).to_numpy())
    if unknown.size:
        raise InputError(
            path,
            [
                Problem(
                    "unknown site",
                    line=int(frame["line"].iat[i]),
                    column="site",
                    value=sites.iat[i],
                    expected="a station code from config.yaml (e.g. 1490A) or a city id "
                    f"({', '.join(sorted(city_ids))})",
                )
                for i in unknown[:10]
            ],
        )
    if is_station.any() and is_city.any():
        raise input_error(
            path,
            "mixes station codes and city ids in the site column",
            column="site",
            expected="only stations or only cities in one file",
        )
    values = parse_numbers(path, frame, layout.variables)
    if values.empty:
        raise input_error(
            path, "no variable columns", expected="at least one of " + ", ".join(VARIABLES)
        )
    return pd.concat([pd.DataFrame({"site": sites, "time": times}), values], axis=1).assign(
        line=frame["line"]
    )


_READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "cnemc-hourly": _read_cnemc,
    "station-hourly": _read_station_hourly,
    "china-sites": _read_china_sites,
    "city-daily": _read_city_daily,
    "tidy": _read_tidy,
}


def _tidy_kind_and_resolution(
    path: Path, frame: pd.DataFrame, config: Config
) -> tuple[Kind, Resolution]:
    kind: Kind = "city" if frame["site"].isin({c.id for c in config.cities}).all() else "station"
    steps = frame.sort_values(["site", "time"]).groupby("site")["time"].diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    all_midnight = bool((frame["time"].dt.hour == 0).all())
    # A single time per site says nothing about the step: values stamped 00:00 are read as
    # daily, any other hour as hourly (documented in the module docstring).
    if (steps.empty and all_midnight) or (not steps.empty and steps.min() >= pd.Timedelta(days=1)):
        if not all_midnight:
            raise input_error(
                path,
                "daily values must be at 00:00",
                column="time",
                expected="one value per day at 00:00 Beijing time",
            )
        return kind, "1D"
    if steps.min() < pd.Timedelta(hours=1) or (frame["time"].dt.minute != 0).any():
        raise input_error(
            path, "times are not on whole hours", column="time", expected="hourly or daily values"
        )
    return kind, "1h"


def read_file(path: Path, fmt: str, config: Config, *, city: str | None = None) -> ReadResult:
    """Read one station or city file of format ``fmt`` (see the module docstring)."""
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    decoded = decode_file(path)
    records = tokenise(path, decoded.text)
    if not records:
        raise input_error(path, "file holds no CSV rows", expected="a header and data rows")
    layout, header_index = find_header(path, records, fmt)
    frame, notes = _cells_frame(path, records, header_index)
    if decoded.encoding == "gbk":
        notes.insert(0, "text is GBK/GB18030, not UTF-8: decoded as GB18030 (encoding gbk)")
    if layout.format != "china-sites":
        also = ("hour",) if "hour" in layout.required else ()
        notes += _unknown_columns(frame, layout, also=also)
    table = _READERS[fmt](path, frame, layout, config, city, notes)
    kind, resolution = layout.kind, layout.resolution
    if fmt == "tidy":
        kind, resolution = _tidy_kind_and_resolution(path, table, config)
    elif resolution == "1h" and (table["time"].dt.minute != 0).any():
        i = int(np.flatnonzero((table["time"].dt.minute != 0).to_numpy())[0])
        raise input_error(
            path,
            "hourly time not on the hour",
            line=int(table["line"].iat[i]),
            value=table["time"].iat[i],
            expected="HH:00",
        )
    columns = ["site", "time", *[v for v in VARIABLES if v in table.columns], "line"]
    return ReadResult(
        path,
        fmt,
        layout.variant,
        decoded.encoding,
        kind,
        resolution,
        table[columns].reset_index(drop=True),
        notes,
    )
