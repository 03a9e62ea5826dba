"""Meteorological grids: open any supported file as one canonical Dataset, then validate it.

Canonical layout (what :func:`open_grid` returns and every later stage relies on):

- variables renamed to the canonical names of :data:`forecast.met.variables.MET_VARIABLES`
  (``blh`` [m], ``t2m`` [K], ``u10``/``v10`` [m/s], ``d2m`` [K], ``rh2m`` [%], ``sp`` [hPa],
  ``tp`` [mm], ``t850`` [K], …) through :data:`DEFAULT_VARIABLES`, overridable per call;
  variables with no canonical name are dropped (their names are kept in the global attribute
  ``dropped_variables``);
- values converted to the canonical units by :data:`UNIT_CONVERSIONS` (keyed by the source
  ``units`` attribute); an unknown unit is an :class:`~forecast.errors.InputError` naming the
  file, the variable, the unit found and the units accepted. Values outside the variable's
  physical range (``valid_min``…``valid_max``) are set to NaN and counted in the variable's
  ``n_out_of_range`` attribute;
- dims ``time`` (valid time, UTC, naive ``datetime64[ns]``, strictly increasing), optionally
  ``member``, then ``lat``, ``lon`` (regular grid: 1-D, ascending, longitudes in −180…180) or
  ``y``, ``x`` (curvilinear grid, e.g. WRF: 2-D ``lat``/``lon`` coordinates on ``(y, x)``);
- forecasts: cfgrib's reference ``time`` + ``step`` become the valid ``time``, with the
  coordinates ``init_time`` (UTC) and ``lead`` (timedelta) kept along ``time``;
- ensembles: members along ``member`` (``ensemble="keep"``) or reduced to ``<var>_mean`` and
  ``<var>_spread`` (population standard deviation across members, ddof=0);
- attributes: per variable ``units``, ``long_name``, ``standard_name``, ``source_name``,
  ``source_units``; global ``source_files`` (one path per line), ``grid_type``
  (``regular``/``curvilinear``), ``engine``.

Precipitation, rate versus amount: canonical ``tp`` is the *amount* [mm] fallen in the interval
ending at the valid time. An accumulated source (``tp``, units kg m-2, mm or m of water) is
converted to mm; in GRIB its interval is read from each message (``startStep``–``endStep``) and
kept as the coordinate ``tp_start`` (UTC). Overlapping accumulation buckets of one forecast run
(e.g. GFS 0–3 h then 0–6 h, or ERA5-style accumulation since the start) are de-accumulated so
that each value covers only ``(previous valid time, valid time]``. A *rate* source (``prate``,
kg m-2 s-1 or mm/h) is multiplied by its averaging interval: in GRIB the message's
``startStep``–``endStep``, in netCDF the (constant) spacing of the valid times; a rate with no
determinable interval (one netCDF time step) is an error. When a file holds both an amount and a
rate, the amount is used (the first matching entry of :data:`DEFAULT_VARIABLES` wins; entries
given in ``variables=`` come before the default table).

Data are read into memory (files are closed on return); chunk the result with
``ds.chunk(time=…)`` to process it with Dask. All times are UTC: station data are Beijing time
and are converted elsewhere (:mod:`forecast.timeutil`).
"""

from __future__ import annotations

import glob
import math
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, Problem, input_error
from forecast.met.interp import chord_to_degrees, knn, neighbourhood_indices, unit_xyz
from forecast.met.variables import MET_VARIABLES
from forecast.timeutil import as_naive_utc

GridEngine = Literal["auto", "netcdf", "grib", "wrf"]
EnsembleMode = Literal["keep", "mean_spread"]

GRIB_SUFFIXES = (".grib", ".grib1", ".grib2", ".grb", ".grb1", ".grb2", ".gr1", ".gr2")
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5")
_GLOB_CHARS = frozenset("*?[")
_GRIB_HINT = 'pip install -e ".[grib]"  (installs cfgrib and ecCodes)'

#: Source variable name → canonical name. Order matters where several sources map to one
#: canonical name: the first present wins (``tp``, an amount, before ``prate``, a rate).
#: 850 hPa fields are named ``<var>850`` after the 850 hPa level is selected.
DEFAULT_VARIABLES: Mapping[str, str] = {
    # boundary-layer height
    "blh": "blh",
    "Merged Planetary Boundary Layer Height": "blh",
    "PBLH": "blh",
    "hpbl": "blh",
    # 2 m temperature (cfgrib names GRIB '2t' t2m; WRF T2)
    "t2m": "t2m",
    "2t": "t2m",
    "T2": "t2m",
    "tas": "t2m",
    # 10 m wind
    "u10": "u10",
    "10u": "u10",
    "U10": "u10",
    "uas": "u10",
    "v10": "v10",
    "10v": "v10",
    "V10": "v10",
    "vas": "v10",
    "si10": "wind_speed",
    "10si": "wind_speed",
    "wind_speed": "wind_speed",
    "wind_dir": "wind_dir",
    # 2 m humidity
    "d2m": "d2m",
    "2d": "d2m",
    "rh2m": "rh2m",
    "r2": "rh2m",
    "2r": "rh2m",
    "hurs": "rh2m",
    # surface pressure
    "sp": "sp",
    "PSFC": "sp",
    "ps": "sp",
    # precipitation: amounts first, then rates (see the module docstring)
    "tp": "tp",
    "precipitation_amount": "tp",
    "prate": "tp",
    "pr": "tp",
    # 850 hPa temperature (the isobaric 't' after selecting 850 hPa)
    "t850": "t850",
    "ta850": "t850",
    "T850": "t850",
    "ventilation": "ventilation",
    "inversion": "inversion",
}

_UNIT_TABLE: dict[str, tuple[tuple[tuple[str, ...], float, float], ...]] = {
    # canonical unit: ((source spellings, scale, offset), ...);  canonical = src * scale + offset
    "K": (
        (("K", "k", "kelvin", "Kelvin", "degK", "deg K", "degrees_K"), 1.0, 0.0),
        (
            (
                "degC",
                "°C",
                "C",
                "deg C",
                "deg_C",
                "degrees_C",
                "degree_Celsius",
                "degrees_Celsius",
                "celsius",
                "Celsius",
                "℃",
            ),
            1.0,
            273.15,
        ),
    ),
    "hPa": (
        (("hPa", "hpa", "mbar", "mb", "millibar", "millibars"), 1.0, 0.0),
        (("Pa", "pa", "pascal", "Pascal"), 0.01, 0.0),
        (("kPa",), 10.0, 0.0),
    ),
    "m/s": (
        (
            ("m/s", "m s-1", "m s**-1", "m s^-1", "m.s-1", "m sec-1", "ms-1", "m/sec", "m s-1 "),
            1.0,
            0.0,
        ),
        (("km/h", "km h-1", "km h**-1"), 1.0 / 3.6, 0.0),
        (("knot", "knots", "kt", "kts"), 0.514444, 0.0),
    ),
    "m": (
        (("m", "meter", "meters", "metre", "metres", "gpm"), 1.0, 0.0),
        (("km",), 1000.0, 0.0),
    ),
    "mm": (
        (
            ("mm", "kg m-2", "kg m**-2", "kg/m2", "kg/m^2", "kg m^-2", "kg.m-2", "mm of water"),
            1.0,
            0.0,
        ),
        (("m", "m of water", "m of water equivalent", "metre of water equivalent"), 1000.0, 0.0),
        (("cm",), 10.0, 0.0),
    ),
    "%": (
        (("%", "percent", "pct"), 1.0, 0.0),
        (("1", "fraction", "(0 - 1)", "0-1", "(0-1)", "Proportion", "proportion"), 100.0, 0.0),
    ),
    "degree": ((("degree", "degrees", "deg", "°", "degree_true"), 1.0, 0.0),),
    "m2/s": ((("m2/s", "m2 s-1", "m**2 s**-1", "m^2/s", "m^2 s^-1"), 1.0, 0.0),),
}

#: Canonical unit → {source unit spelling: (scale, offset)}. Only ``K`` takes an offset.
UNIT_CONVERSIONS: dict[str, dict[str, tuple[float, float]]] = {
    canon: {
        spelling: (scale, offset) for spellings, scale, offset in rows for spelling in spellings
    }
    for canon, rows in _UNIT_TABLE.items()
}

#: Precipitation *rates* accepted for ``tp``: source unit → mm per second.
PRECIP_RATE_UNITS: dict[str, float] = {
    "kg m-2 s-1": 1.0,
    "kg m**-2 s**-1": 1.0,
    "kg m^-2 s^-1": 1.0,
    "kg/m2/s": 1.0,
    "kg m-2 s**-1": 1.0,
    "mm/s": 1.0,
    "mm s-1": 1.0,
    "mm/h": 1.0 / 3600.0,
    "mm h-1": 1.0 / 3600.0,
    "mm hr-1": 1.0 / 3600.0,
    "mm/hr": 1.0 / 3600.0,
    "mm/day": 1.0 / 86400.0,
    "mm d-1": 1.0 / 86400.0,
    "mm day-1": 1.0 / 86400.0,
}

_LAT_NAMES = ("lat", "latitude", "Latitude", "LAT", "nav_lat", "XLAT", "XLAT_M")
_LON_NAMES = ("lon", "longitude", "Longitude", "LON", "nav_lon", "XLONG", "XLONG_M")
_TIME_NAMES = ("time", "valid_time", "Time", "TIME", "t")
_MEMBER_NAMES = ("member", "number", "realization", "ensemble_member", "ens", "ensemble")
_LEVEL_NAMES = ("isobaricInhPa", "pressure_level", "plev", "level", "lev", "pressure")
_LAT_UNITS = (
    "degrees_north",
    "degree_north",
    "degrees north",
    "degree north",
    "degrees_N",
    "degreeN",
    "degree_N",
)
_LON_UNITS = (
    "degrees_east",
    "degree_east",
    "degrees east",
    "degree east",
    "degrees_E",
    "degreeE",
    "degree_E",
)
_KEEP_COORDS = ("time", "member", "lat", "lon", "init_time", "lead", "tp_start")

# GRIB groups opened one by one (cfgrib cannot put them in one Dataset): typeOfLevel and level.
_GRIB_GROUPS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("surface", {"typeOfLevel": "surface"}, ""),
    ("2 m", {"typeOfLevel": "heightAboveGround", "level": 2}, ""),
    ("10 m", {"typeOfLevel": "heightAboveGround", "level": 10}, ""),
    ("850 hPa", {"typeOfLevel": "isobaricInhPa", "level": 850}, "850"),
)


# ---------------------------------------------------------------------------------------------
# Units and names
# ---------------------------------------------------------------------------------------------
def accepted_units(canonical: str) -> list[str]:
    """Every source unit spelling accepted for the canonical variable ``canonical``."""
    units = MET_VARIABLES[canonical].units
    out = list(UNIT_CONVERSIONS.get(units, {}))
    if canonical == "tp":
        out += list(PRECIP_RATE_UNITS)
    return out


def convert_units(
    values: xr.DataArray, canonical: str, *, path: str | Path = "<memory>", name: str | None = None
) -> xr.DataArray:
    """Convert ``values`` (with a ``units`` attribute) to the units of ``canonical``.

    Amount units only (precipitation rates are handled by :func:`open_grid`, which knows the
    interval). Raises :class:`InputError` naming ``path``, the variable, the unit found and the
    units accepted when the unit is not in :data:`UNIT_CONVERSIONS`.
    """
    target = MET_VARIABLES[canonical].units
    src = str(values.attrs.get("units", "")).strip()
    table = UNIT_CONVERSIONS.get(target, {target: (1.0, 0.0)})
    if src not in table:
        raise _unit_error(path, name or str(values.name), canonical, src)
    scale, offset = table[src]
    out = values.copy() if (scale == 1.0 and offset == 0.0) else values * scale + offset
    out.attrs = {**values.attrs, "units": target}
    return out


def _unit_error(path: str | Path, name: str, canonical: str, found: str) -> InputError:
    accepted = ", ".join(repr(u) for u in accepted_units(canonical))
    what = "no units attribute" if not found else "unrecognised units"
    return input_error(
        path,
        f"{what} for variable {name!r} (canonical {canonical!r} "
        f"[{MET_VARIABLES[canonical].units}])",
        column=name,
        value=found or None,
        expected=f"one of {accepted}",
    )


def _mapping(variables: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """The name table in priority order: the caller's entries, then the defaults."""
    items = list((variables or {}).items())
    for src, canon in items:
        if canon not in MET_VARIABLES:
            raise ValueError(
                f"variables: {src!r} → {canon!r}: {canon!r} is not a canonical variable; valid: "
                f"{', '.join(MET_VARIABLES)}"
            )
    given = {s for s, _ in items}
    return items + [(s, c) for s, c in DEFAULT_VARIABLES.items() if s not in given]


def _pick_variables(
    ds: xr.Dataset, table: list[tuple[str, str]], suffix: str = ""
) -> dict[str, str]:
    """canonical name → source variable name present in ``ds`` (first match in the table)."""
    chosen: dict[str, str] = {}
    for src, canon in table:
        if canon in chosen:
            continue
        name = src[: -len(suffix)] if suffix and src.endswith(suffix) else None
        if suffix:
            # In a level group, 't' stands for 't850' etc.: match '<name><suffix>' entries.
            if name is not None and name in ds.data_vars:
                chosen[canon] = name
        elif src in ds.data_vars:
            chosen[canon] = src
    return chosen


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------
def expand_grid_paths(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """One file, a directory (its netCDF/GRIB files), a glob pattern, or a sequence of these."""
    items: Iterable[str | Path] = [paths] if isinstance(paths, str | Path) else paths
    out: list[Path] = []
    for item in items:
        text = str(item)
        if isinstance(item, str) and _GLOB_CHARS & set(text):
            found = sorted(Path(p) for p in glob.glob(text))  # noqa: PTH207 (absolute patterns)
            if not found:
                raise input_error(text, "no file matches this pattern")
            out += found
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and not f.name.startswith(".")
                and f.suffix.lower() in GRIB_SUFFIXES + NETCDF_SUFFIXES
            )
            if not found:
                raise input_error(
                    p,
                    "directory holds no grid files",
                    expected=f"files ending in {', '.join(NETCDF_SUFFIXES + GRIB_SUFFIXES)}",
                )
            out += found
        elif not p.exists():
            raise input_error(p, "file not found")
        else:
            out.append(p)
    if not out:
        raise input_error(str(paths), "no grid files given")
    seen: set[Path] = set()
    unique = []
    for p in out:
        if p.resolve() not in seen:
            seen.add(p.resolve())
            unique.append(p)
    return unique


def _detect_engine(path: Path) -> Literal["netcdf", "grib"]:
    if path.suffix.lower() in GRIB_SUFFIXES:
        return "grib"
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"GRIB"):
        return "grib"
    if head.startswith((b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF")):
        return "netcdf"
    raise input_error(
        path,
        "not a recognised grid file",
        value=head[:4],
        expected="netCDF (CDF…/HDF5 signature) or GRIB (GRIB signature, .grib/.grib2 suffix)",
    )


# ---------------------------------------------------------------------------------------------
# Time helpers
# ---------------------------------------------------------------------------------------------
def _to_ns(values: Any) -> np.ndarray:
    """Any datetime-like array → naive UTC ``datetime64[ns]``."""
    return np.asarray(as_naive_utc(values), dtype="datetime64[ns]")


def decode_wrf_times(raw: Any, *, path: str | Path = "<memory>") -> np.ndarray:
    """WRF ``Times`` strings (``b"2005-09-21_00:00:00"`` or char arrays) → ``datetime64[ns]``.

    WRF writes UTC; the result is naive UTC.
    """
    arr = np.asarray(raw)
    if arr.dtype.kind == "S" and arr.ndim == 2:  # char array (Time, DateStrLen)
        arr = np.array([b"".join(row) for row in arr])
    texts = [v.decode("ascii") if isinstance(v, bytes) else str(v) for v in arr.ravel()]
    try:
        parsed = pd.to_datetime([t.strip().replace("_", "T") for t in texts], format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise input_error(
            path,
            f"cannot decode WRF Times: {exc}",
            column="Times",
            value=texts[0] if texts else "",
            expected="YYYY-MM-DD_hh:mm:ss",
        ) from None
    return _to_ns(parsed)


# ---------------------------------------------------------------------------------------------
# Readers (one file → one raw Dataset with a 'time' dim and named lat/lon)
# ---------------------------------------------------------------------------------------------
def _import_cfgrib(path: Path) -> Any:
    try:
        import cfgrib

        cfgrib.messages.eccodes.codes_get_api_version()
    except (ImportError, RuntimeError, OSError, AttributeError) as exc:
        raise InputError(
            path,
            [
                Problem(
                    f"reading GRIB needs cfgrib and the ecCodes library ({exc})",
                    expected=_GRIB_HINT,
                )
            ],
        ) from None
    return cfgrib


@dataclass
class _GribInventory:
    """What one pass over a GRIB file's headers found."""

    #: (typeOfLevel, level) pairs present
    levels: set[tuple[str, int]] = field(default_factory=set)
    #: (shortName, reference time, endStep [min]) → startStep [min] of accumulated/avg fields
    intervals: dict[tuple[str, np.datetime64, int], int] = field(default_factory=dict)


def _grib_inventory(path: Path) -> _GribInventory:
    """Scan the GRIB headers once (ecCodes): level groups present and accumulation intervals."""
    import eccodes

    inv = _GribInventory()
    with path.open("rb") as fh:
        while True:
            try:
                h = eccodes.codes_grib_new_from_file(fh)
            except Exception as exc:
                raise input_error(
                    path, f"not a readable GRIB file ({exc})", expected="GRIB1/GRIB2 messages"
                ) from None
            if h is None:
                break
            try:
                inv.levels.add(
                    (
                        str(eccodes.codes_get(h, "typeOfLevel")),
                        int(eccodes.codes_get_long(h, "level")),
                    )
                )
                if eccodes.codes_get(h, "stepType") in ("accum", "avg"):
                    eccodes.codes_set(h, "stepUnits", "m")
                    date = int(eccodes.codes_get_long(h, "dataDate"))
                    hhmm = int(eccodes.codes_get_long(h, "dataTime"))
                    ref = np.datetime64(
                        pd.Timestamp(f"{date:08d}")
                        + pd.Timedelta(hours=hhmm // 100, minutes=hhmm % 100),
                        "ns",
                    )
                    key = (
                        str(eccodes.codes_get(h, "shortName")),
                        ref,
                        int(eccodes.codes_get_long(h, "endStep")),
                    )
                    inv.intervals[key] = int(eccodes.codes_get_long(h, "startStep"))
            finally:
                eccodes.codes_release(h)
    if not inv.levels:
        raise input_error(path, "holds no GRIB messages", expected="GRIB1/GRIB2 messages")
    return inv


def _cfgrib_time(ds: xr.Dataset) -> xr.Dataset:
    """cfgrib reference ``time`` × ``step`` → one valid ``time`` dim with init_time and lead."""
    ds = ds.drop_vars([c for c in ("valid_time",) if c in ds.variables])
    if "time" not in ds.variables or "step" not in ds.variables:
        return ds
    for dim in ("time", "step"):
        if dim not in ds.dims:
            ds = ds.expand_dims(dim)
    ds = ds.stack(_rec=("time", "step"), create_index=False)
    init = _to_ns(ds["time"].values)
    lead = np.asarray(ds["step"].values, dtype="timedelta64[ns]")
    ds = ds.drop_vars(["time", "step"])
    ds = ds.assign_coords(time=("_rec", init + lead), init_time=("_rec", init), lead=("_rec", lead))
    return ds.swap_dims(_rec="time")


def _read_grib(path: Path, table: list[tuple[str, str]]) -> tuple[xr.Dataset, list[str]]:
    cfgrib = _import_cfgrib(path)
    parts: list[xr.Dataset] = []
    dropped: list[str] = []
    taken: set[str] = set()
    inventory = _grib_inventory(path)
    with tempfile.TemporaryDirectory(prefix="wcs-grib-idx-") as tmp:
        idx = str(Path(tmp) / "{short_hash}.idx")
        for _label, keys, suffix in _GRIB_GROUPS:
            if not any(
                tol == keys["typeOfLevel"] and ("level" not in keys or lev == keys["level"])
                for tol, lev in inventory.levels
            ):
                continue
            with warnings.catch_warnings():
                # cfgrib merges with xarray defaults that newer xarray warns about.
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", UserWarning)
                try:
                    groups = cfgrib.open_datasets(
                        str(path), backend_kwargs={"filter_by_keys": keys, "indexpath": idx}
                    )
                except Exception as exc:
                    raise input_error(
                        path,
                        f"cfgrib cannot read the file: {exc}",
                        expected="a valid GRIB1/GRIB2 file",
                    ) from None
            for g in groups:
                chosen = _pick_variables(g, table, suffix)
                chosen = {c: s for c, s in chosen.items() if c not in taken}
                dropped += [f"{v}{suffix}" for v in g.data_vars if v not in chosen.values()]
                if not chosen:
                    continue
                taken.update(chosen)
                sub = g[list(chosen.values())].load()
                sub = sub.rename({s: c for c, s in chosen.items()})
                for canon, src in chosen.items():
                    sub[canon].attrs["source_name"] = f"{src}{suffix}"
                    sub[canon].attrs["grib_step_type"] = g[src].attrs.get("GRIB_stepType", "")
                parts.append(sub)
            for g in groups:
                g.close()
    if not parts:
        return xr.Dataset(), dropped
    merged = xr.merge(
        [_cfgrib_time(_drop_level_coords(p)) for p in parts],
        compat="override",
        join="outer",
        combine_attrs="drop_conflicts",
    )
    if "tp" in merged and merged["tp"].attrs.get("grib_step_type") in ("accum", "avg"):
        merged = _attach_grib_tp_start(merged, path, inventory.intervals)
    return merged, dropped


def _drop_level_coords(ds: xr.Dataset) -> xr.Dataset:
    drop = [
        c
        for c in ds.coords
        if c not in ("time", "step", "latitude", "longitude", "number", "valid_time")
        and c not in ds.dims
    ]
    return ds.drop_vars(drop)


def _attach_grib_tp_start(
    ds: xr.Dataset, path: Path, intervals: dict[tuple[str, np.datetime64, int], int]
) -> xr.Dataset:
    src = str(ds["tp"].attrs.get("source_name", "tp"))
    starts = []
    for init, lead in zip(ds["init_time"].values, ds["lead"].values, strict=True):
        end_min = int(np.asarray(lead, dtype="timedelta64[m]").astype(np.int64))
        key = (src, np.datetime64(init, "ns"), end_min)
        if key not in intervals:
            raise input_error(
                path,
                f"no accumulation interval found for {src!r} at lead {end_min} min",
                column=src,
                expected="GRIB messages with startStep/endStep",
            )
        starts.append(np.datetime64(init, "ns") + np.timedelta64(intervals[key], "m"))
    return ds.assign_coords(tp_start=("time", np.asarray(starts, dtype="datetime64[ns]")))


def _open_netcdf(path: Path) -> xr.Dataset:
    try:
        with xr.open_dataset(path, engine="netcdf4", decode_timedelta=True) as raw:
            return raw.load()
    except (OSError, ValueError, RuntimeError) as exc:
        raise input_error(
            path, f"cannot be opened as netCDF: {exc}", expected="a netCDF-3 or netCDF-4 file"
        ) from None


def _is_wrf(ds: xr.Dataset) -> bool:
    return "XLAT" in ds.variables and "XLONG" in ds.variables and "Times" in ds.variables


def _wrf_to_raw(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """WRF output → dims (time, y, x) with 2-D lat/lon coords; earth-relative 10 m winds."""
    missing = [v for v in ("XLAT", "XLONG", "Times") if v not in ds.variables]
    if missing:
        raise input_error(
            path,
            f"not WRF output: missing {', '.join(missing)}",
            expected="WRF variables XLAT, XLONG and Times",
        )
    times = decode_wrf_times(ds["Times"].values, path=path)
    lat = ds["XLAT"]
    lon = ds["XLONG"]
    if "Time" in lat.dims:
        lat, lon = lat.isel(Time=0), lon.isel(Time=0)
    rename = {"south_north": "y", "west_east": "x", "Time": "time"}
    drop = [
        v
        for v in ("XLAT", "XLONG", "Times", "XTIME", "XLAT_U", "XLONG_U", "XLAT_V", "XLONG_V")
        if v in ds.variables
    ]
    out = ds.drop_vars(drop).rename({k: v for k, v in rename.items() if k in ds.dims})
    out = out.assign_coords(
        time=("time", times),
        lat=(("y", "x"), np.asarray(lat.values, dtype=np.float64)),
        lon=(("y", "x"), np.asarray(lon.values, dtype=np.float64)),
    )
    if "U10" in out and "V10" in out:
        out = _rotate_wrf_winds(out, path)
    return out


def _rotate_wrf_winds(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """Grid-relative WRF U10/V10 → earth-relative (eastward/northward), as wrf-python's uvmet.

    Uses COSALPHA/SINALPHA when present, else the map projection attributes (Lambert conformal:
    cone factor from TRUELAT1/TRUELAT2; polar stereographic: cone 1; Mercator/lat-lon: none).
    """
    if "COSALPHA" in ds and "SINALPHA" in ds:
        cos_a = ds["COSALPHA"].values
        sin_a = ds["SINALPHA"].values
        if cos_a.ndim == 3:
            cos_a, sin_a = cos_a[0], sin_a[0]
    else:
        proj = int(ds.attrs.get("MAP_PROJ", -1))
        if proj in (3, 6):
            return ds
        if proj not in (1, 2):
            raise input_error(
                path,
                "cannot rotate WRF U10/V10 to earth-relative winds",
                column="MAP_PROJ",
                value=proj,
                expected="COSALPHA/SINALPHA or MAP_PROJ 1, 2, 3 or 6",
            )
        tl1 = math.radians(float(ds.attrs["TRUELAT1"]))
        tl2 = math.radians(float(ds.attrs.get("TRUELAT2", ds.attrs["TRUELAT1"])))
        stand = float(ds.attrs["STAND_LON"])
        if proj == 2:
            cone = 1.0
        elif abs(tl1 - tl2) > 1e-9:
            cone = (math.log(math.cos(tl1)) - math.log(math.cos(tl2))) / (
                math.log(math.tan(math.pi / 4 - abs(tl1) / 2))
                - math.log(math.tan(math.pi / 4 - abs(tl2) / 2))
            )
        else:
            cone = math.sin(abs(tl1))
        diff = (ds["lon"].values - stand + 180.0) % 360.0 - 180.0
        alpha = np.radians(diff) * cone * math.copysign(1.0, tl1)
        cos_a, sin_a = np.cos(alpha), np.sin(alpha)
    u, v = ds["U10"], ds["V10"]
    ca = xr.DataArray(cos_a, dims=("y", "x"))
    sa = xr.DataArray(sin_a, dims=("y", "x"))
    ds = ds.copy()
    ds["U10"] = (u * ca - v * sa).assign_attrs(u.attrs)
    ds["V10"] = (v * ca + u * sa).assign_attrs(v.attrs)
    ds["U10"].attrs["note"] = "rotated from grid-relative to earth-relative"
    ds["V10"].attrs["note"] = "rotated from grid-relative to earth-relative"
    return ds


def _find_coord(ds: xr.Dataset, names: Sequence[str], units: Sequence[str], std: str) -> str:
    for n in names:
        if n in ds.variables:
            return n
    for key, var in ds.variables.items():
        if var.attrs.get("standard_name") == std or var.attrs.get("units") in units:
            return str(key)
    return ""


def _netcdf_to_raw(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """A CF-like netCDF → dims time, [member], lat/lon (1-D) or y/x (2-D)."""
    lat = _find_coord(ds, _LAT_NAMES, _LAT_UNITS, "latitude")
    lon = _find_coord(ds, _LON_NAMES, _LON_UNITS, "longitude")
    if not lat or not lon:
        raise input_error(
            path,
            "no latitude/longitude coordinates found",
            expected=f"coordinates named {_LAT_NAMES[:2]} / {_LON_NAMES[:2]} or with "
            "units degrees_north / degrees_east",
        )
    if ds[lat].ndim == 1 and ds[lon].ndim == 1:
        for name in (lat, lon):
            dim = ds[name].dims[0]
            if dim != name:  # 1-D coordinate on a differently named dim, e.g. lat(y)
                ds = ds.swap_dims({dim: name})
        ds = ds.rename({k: v for k, v in ((lat, "lat"), (lon, "lon")) if k != v})
        ds = ds.set_coords([c for c in ("lat", "lon") if c in ds.data_vars])
    elif ds[lat].ndim == 2 and ds[lon].ndim == 2:
        ydim, xdim = ds[lat].dims
        lat_v, lon_v = ds[lat].values, ds[lon].values
        ds = ds.drop_vars([lat, lon]).rename({ydim: "y", xdim: "x"})
        ds = ds.assign_coords(lat=(("y", "x"), lat_v), lon=(("y", "x"), lon_v))
    else:
        raise input_error(
            path,
            f"latitude {lat!r} and longitude {lon!r} have unusable shapes",
            expected="both 1-D (regular grid) or both 2-D (curvilinear grid)",
        )
    tname = next((n for n in _TIME_NAMES if n in ds.variables), "")
    if not tname:
        raise input_error(
            path,
            "no time coordinate found",
            expected=f"a coordinate named one of {', '.join(_TIME_NAMES)}",
        )
    if "step" in ds.variables and tname == "time":
        return _cfgrib_time(ds)
    if tname != "time":
        if "time" in ds.variables:
            ds = ds.drop_vars("time")
        ds = ds.rename({tname: "time"})
    if "time" not in ds.dims:
        ds = (
            ds.expand_dims("time")
            if ds["time"].ndim == 0
            else ds.swap_dims({ds["time"].dims[0]: "time"})
        )
    return ds


def _decode_time_axis(ds: xr.Dataset, path: Path) -> xr.Dataset:
    t = ds["time"]
    if not np.issubdtype(t.dtype, np.datetime64):
        try:
            idx = ds.indexes["time"]
            converted = (
                idx.to_datetimeindex(time_unit="ns")
                if hasattr(idx, "to_datetimeindex")
                else pd.DatetimeIndex(idx)
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise input_error(
                path,
                f"time cannot be decoded to dates ({exc})",
                column="time",
                value=t.attrs.get("units"),
                expected="CF time units, e.g. 'hours since 2020-01-01 00:00:00'",
            ) from None
        return ds.assign_coords(time=_to_ns(converted))
    return ds.assign_coords(time=_to_ns(t.values))


# ---------------------------------------------------------------------------------------------
# Normalisation of one raw file
# ---------------------------------------------------------------------------------------------
def _select_850(ds: xr.Dataset, path: Path) -> xr.Dataset:
    """A netCDF pressure-level dim → the 850 hPa level, variables renamed '<var>850'."""
    lev = next((n for n in _LEVEL_NAMES if n in ds.dims), "")
    if not lev:
        return ds
    values = np.asarray(ds[lev].values, dtype=np.float64) if lev in ds.variables else np.array([])
    units = str(ds[lev].attrs.get("units", "hPa")) if lev in ds.variables else ""
    hpa = values / 100.0 if units in ("Pa", "pa") else values
    hit = np.flatnonzero(np.isclose(hpa, 850.0))
    on_level = [v for v in ds.data_vars if lev in ds[v].dims]
    if hit.size == 0:
        return ds.drop_vars(on_level)
    sel = ds[on_level].isel({lev: int(hit[0])}, drop=True)
    return ds.drop_vars([*on_level, lev]).merge(
        sel.rename({v: f"{v}850" for v in on_level}), compat="override", join="outer"
    )


def _normalise(
    raw: xr.Dataset,
    path: Path,
    table: list[tuple[str, str]],
    *,
    engine: str,
    already_mapped: bool = False,
) -> tuple[xr.Dataset, list[str]]:
    """Rename, convert units, order dims; one file. Returns the dataset and dropped names."""
    ds = raw
    # names: lat/lon/time/member dims
    ds = ds.rename(
        {
            k: v
            for k, v in (("latitude", "lat"), ("longitude", "lon"))
            if k in ds.dims or k in ds.variables
        }
    )
    member = next((n for n in _MEMBER_NAMES if n in ds.dims), "")
    if member and member != "member":
        ds = ds.rename({member: "member"})
    for n in _MEMBER_NAMES:
        if n in ds.variables and n not in ds.dims and n != "member":
            ds = ds.drop_vars(n)
    ds = _decode_time_axis(ds, path)
    dropped: list[str] = []
    if not already_mapped:
        ds = _select_850(ds, path)
        chosen = _pick_variables(ds, table)
        dropped = [str(v) for v in ds.data_vars if v not in chosen.values()]
        if not chosen:
            ds = ds[[]]
        else:
            keep = ds[list(chosen.values())]
            renamed = keep.rename({s: c for c, s in chosen.items() if s != c})
            for canon, src in chosen.items():
                renamed[canon].attrs.setdefault("source_name", src)
            ds = renamed
    # squeeze stray size-1 dims (height=2 m, surface, …)
    spatial = ("lat", "lon") if "lat" in ds.dims else ("y", "x")
    core = {"time", "member", *spatial}
    for v in list(ds.data_vars):
        extra = [d for d in ds[v].dims if d not in core]
        for d in extra:
            if ds.sizes[d] == 1:
                ds[v] = ds[v].isel({d: 0}, drop=True)
            else:
                raise input_error(
                    path,
                    f"variable {v!r} has an unexpected dimension {d!r} of size {ds.sizes[d]}",
                    column=str(v),
                    expected="dims (time, [member], lat, lon)",
                )
        if "time" not in ds[v].dims:
            ds[v] = ds[v].expand_dims(time=ds["time"].values)
    ds = ds.drop_vars(
        [c for c in ds.coords if c not in _KEEP_COORDS and c not in ds.dims and c not in ("y", "x")]
    )
    ds = ds.drop_dims([d for d in ds.dims if d not in core], errors="ignore")
    # longitudes to −180…180, sorted; latitudes ascending (regular grids)
    if ds["lon"].ndim == 1:
        lon = ((np.asarray(ds["lon"].values, dtype=np.float64) + 180.0) % 360.0) - 180.0
        ds = ds.assign_coords(lon=lon, lat=np.asarray(ds["lat"].values, dtype=np.float64))
        _, first = np.unique(lon, return_index=True)
        if first.size != lon.size:  # 0 and 360 both present
            ds = ds.isel(lon=np.sort(first))
        ds = ds.sortby(["lat", "lon"])
        grid_type = "regular"
    else:
        lon = ((np.asarray(ds["lon"].values, dtype=np.float64) + 180.0) % 360.0) - 180.0
        ds = ds.assign_coords(lon=(("y", "x"), lon))
        grid_type = "curvilinear"
    # units
    for v in list(ds.data_vars):
        ds[v] = _canonical_values(ds, str(v), path)
    order = ["time", "member", *spatial]
    ds = ds.transpose(*[d for d in order if d in ds.dims])
    ds["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    ds["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    ds.attrs = {"grid_type": grid_type, "engine": engine}
    return ds, dropped


def _canonical_values(ds: xr.Dataset, canon: str, path: Path) -> xr.DataArray:
    da = ds[canon]
    meta = MET_VARIABLES[canon]
    src_units = str(da.attrs.get("units", "")).strip()
    src_name = str(da.attrs.get("source_name", canon))
    attrs_in = dict(da.attrs)
    if canon == "tp" and src_units in PRECIP_RATE_UNITS:
        seconds = _rate_interval_seconds(ds, path, src_name)
        out = da.astype(np.float64) * PRECIP_RATE_UNITS[src_units] * seconds
        note = f"rate ({src_units}) × averaging interval"
    else:
        da = da.copy()
        da.attrs["units"] = src_units
        try:
            out = convert_units(da, canon, path=path, name=src_name)
        except InputError:
            raise _unit_error(path, src_name, canon, src_units) from None
        note = ""
    out = out.astype(np.float64)
    attrs: dict[str, Any] = {
        "units": meta.units,
        "long_name": meta.long_name,
        "source_name": src_name,
        "source_units": src_units,
    }
    if meta.standard_name:
        attrs["standard_name"] = meta.standard_name
    if canon == "tp":
        attrs["cell_methods"] = "time: sum"
        attrs["comment"] = "amount in the interval ending at the valid time" + (
            f"; {note}" if note else ""
        )
    if "note" in attrs_in:
        attrs["comment"] = attrs_in["note"]
    out.attrs = attrs
    return out


def _rate_interval_seconds(ds: xr.Dataset, path: Path, name: str) -> xr.DataArray | float:
    if "tp_start" in ds.coords:
        sec = (ds["time"] - ds["tp_start"]) / np.timedelta64(1, "s")
        return sec.astype(np.float64)
    times = np.asarray(ds["time"].values, dtype="datetime64[ns]")
    steps = np.unique(np.diff(times)) if times.size > 1 else np.array([])
    if steps.size != 1:
        raise input_error(
            path,
            f"precipitation rate {name!r} needs an interval to become an amount, and the "
            "file's times are not equally spaced"
            if steps.size
            else f"precipitation rate {name!r} needs an interval to become an amount, and the file "
            "has one time step",
            column=name,
            expected="an accumulated amount (tp), or equally spaced times",
        )
    return float(steps[0] / np.timedelta64(1, "s"))


def _deaccumulate(ds: xr.Dataset) -> xr.Dataset:
    """Overlapping accumulation buckets of one run → amounts over (previous time, time]."""
    if "tp" not in ds or "tp_start" not in ds.coords or ds.sizes["time"] < 2:
        return ds
    start = ds["tp_start"].values
    time = ds["time"].values
    init = ds["init_time"].values if "init_time" in ds.coords else np.full(time.shape, 0)
    same = np.zeros(time.shape, dtype=bool)
    same[1:] = (init[1:] == init[:-1]) & (start[1:] == start[:-1]) & (time[:-1] > start[1:])
    if not same.any():
        return ds
    tp = ds["tp"]
    prev = tp.shift(time=1)
    mask = xr.DataArray(same, dims="time")
    new_start = start.copy()
    new_start[1:] = np.where(same[1:], time[:-1], start[1:])
    out = ds.copy()
    out["tp"] = xr.where(mask, tp - prev, tp).clip(min=0.0).assign_attrs(tp.attrs)
    out["tp"].attrs["comment"] = (
        str(tp.attrs.get("comment", "")) + "; de-accumulated from overlapping buckets"
    ).lstrip("; ")
    return out.assign_coords(tp_start=("time", new_start))


# ---------------------------------------------------------------------------------------------
# Public: open_grid
# ---------------------------------------------------------------------------------------------
def open_grid(
    paths: str | Path | Sequence[str | Path],
    *,
    engine: GridEngine = "auto",
    variables: Mapping[str, str] | None = None,
    ensemble: EnsembleMode = "keep",
) -> xr.Dataset:
    """Open one grid file, many files, a directory or a glob as one canonical Dataset.

    Parameters
    ----------
    paths
        A file, a directory (its netCDF/GRIB files), a glob pattern (``"dir/*.nc"``) or a
        sequence of these. Several files are one time step (or a few) each and are concatenated
        along ``time``, sorted by valid time; the same valid time in two files is an error.
    engine
        ``"auto"`` (by suffix/signature; WRF is recognised by ``XLAT``/``XLONG``/``Times``),
        ``"netcdf"``, ``"grib"`` (cfgrib; needs ``pip install -e ".[grib]"``) or ``"wrf"``.
    variables
        Extra ``source name → canonical name`` entries, tried before :data:`DEFAULT_VARIABLES`
        (e.g. from the configuration). For 850 hPa fields use the source name plus ``850``.
    ensemble
        ``"keep"``: members along ``member``; ``"mean_spread"``: ``<var>_mean`` and
        ``<var>_spread`` (population standard deviation across members) instead.

    Returns
    -------
    xr.Dataset
        The canonical layout described in the module docstring: valid times in UTC (naive
        ``datetime64[ns]``), canonical names and units, ascending ``lat``/``lon`` (degrees)
        or 2-D ``lat``/``lon`` on ``(y, x)``.

    Raises
    ------
    InputError
        A file cannot be read, has unrecognised units, duplicated times, a different grid from
        the other files, or no canonical variable; GRIB without cfgrib/ecCodes installed.
    """
    files = expand_grid_paths(paths)
    table = _mapping(variables)
    pieces: list[xr.Dataset] = []
    dropped: set[str] = set()
    engines: set[str] = set()
    for path in files:
        kind: str = _detect_engine(path) if engine in ("auto", "wrf") else engine
        if engine == "wrf" and kind == "grib":
            raise input_error(
                path, "engine 'wrf' given, but this is a GRIB file", expected="WRF netCDF output"
            )
        if kind == "grib":
            raw, lost = _read_grib(path, table)
            if not raw.data_vars:
                raise _no_variables(path, lost, table)
            ds, _ = _normalise(raw, path, table, engine="grib", already_mapped=True)
            dropped.update(lost)
        else:
            raw = _open_netcdf(path)
            is_wrf = _is_wrf(raw)
            if engine == "wrf" and not is_wrf:
                _wrf_to_raw(raw, path)  # raises, naming what is missing
            label = "wrf" if is_wrf else "netcdf"
            raw = _wrf_to_raw(raw, path) if is_wrf else _netcdf_to_raw(raw, path)
            ds, lost = _normalise(raw, path, table, engine=label)
            if not ds.data_vars:
                raise _no_variables(path, lost, table)
            dropped.update(lost)
            kind = label
        engines.add(kind)
        ds.attrs["source_files"] = str(path)
        pieces.append(ds)
    out = _combine(pieces, files)
    out = out[_canonical_order(out)]
    out = _mask_out_of_range(_deaccumulate(out))
    if ensemble == "mean_spread":
        out = _mean_spread(out)
    elif ensemble != "keep":
        raise ValueError(f"ensemble must be 'keep' or 'mean_spread', got {ensemble!r}")
    out["time"].attrs = {"standard_name": "time", "long_name": "valid time (UTC)"}
    if "init_time" in out.coords:
        out["init_time"].attrs = {"long_name": "forecast reference (initialisation) time (UTC)"}
    if "lead" in out.coords:
        out["lead"].attrs = {"long_name": "forecast lead time (valid time - init_time)"}
    if "tp_start" in out.coords:
        out["tp_start"].attrs = {"long_name": "start of the precipitation interval (UTC)"}
    out.attrs = {
        "source_files": "\n".join(str(p) for p in files),
        "engine": ",".join(sorted(engines)),
        "grid_type": pieces[0].attrs["grid_type"],
        "time_zone": "UTC",
        "dropped_variables": ", ".join(sorted(dropped)),
    }
    return out


def _mask_out_of_range(ds: xr.Dataset) -> xr.Dataset:
    """Values outside each variable's physical range → NaN, counted in ``n_out_of_range``.

    Done after de-accumulation, so that long accumulations are judged as interval amounts.
    """
    for v in ds.data_vars:
        meta = MET_VARIABLES[str(v)]
        values = ds[v].values
        bad = np.isfinite(values) & ((values < meta.valid_min) | (values > meta.valid_max))
        n_bad = int(bad.sum())
        attrs = {**ds[v].attrs, "n_out_of_range": n_bad}
        if n_bad:
            ds[v] = ds[v].where(~bad)
        ds[v].attrs = attrs
    return ds


def _canonical_order(ds: xr.Dataset) -> list[str]:
    """Variable names in the order of MET_VARIABLES (others last)."""
    rank = {name: i for i, name in enumerate(MET_VARIABLES)}
    present = [str(v) for v in ds.data_vars]
    return sorted(present, key=lambda name: rank.get(name, len(rank)))


def _no_variables(path: Path, found: list[str], table: list[tuple[str, str]]) -> InputError:
    names = sorted({s for s, _ in table})
    return input_error(
        path,
        "no variable with a known canonical name",
        value=", ".join(found[:20]) or "(none)",
        expected=f"one of {', '.join(names)} (or pass variables={{source: canonical}})",
    )


def _combine(pieces: list[xr.Dataset], files: list[Path]) -> xr.Dataset:
    if len(pieces) == 1:
        ds = pieces[0]
        ds = ds.isel(time=np.argsort(ds["time"].values, kind="stable"))
        _check_times(ds, [files[0]] * ds.sizes["time"])
        return ds
    first = pieces[0]
    for p, f in zip(pieces[1:], files[1:], strict=True):
        if set(p.data_vars) != set(first.data_vars):
            raise input_error(
                f,
                "variables differ from the first file",
                value=", ".join(sorted(map(str, p.data_vars))),
                expected=f"{', '.join(sorted(map(str, first.data_vars)))} as in {files[0]}",
            )
        for c in ("lat", "lon"):
            a, b = first[c].values, p[c].values
            if a.shape != b.shape or not np.allclose(a, b, atol=1e-5, rtol=0):
                raise input_error(
                    f,
                    f"its grid ({c}) differs from the first file's",
                    expected=f"the grid of {files[0]}",
                )
    owners = [f for p, f in zip(pieces, files, strict=True) for _ in range(p.sizes["time"])]
    ds = xr.concat(
        pieces,
        dim="time",
        data_vars="all",
        coords="minimal",
        compat="override",
        join="override",
        combine_attrs="drop_conflicts",
    )
    for v in ds.data_vars:
        ds[v].attrs = dict(pieces[0][v].attrs)
    order = np.argsort(ds["time"].values, kind="stable")
    ds = ds.isel(time=order)
    _check_times(ds, [owners[i] for i in order])
    return ds


def _check_times(ds: xr.Dataset, owners: list[Path]) -> None:
    t = ds["time"].values
    if np.isnat(t).any():
        raise input_error(
            owners[int(np.flatnonzero(np.isnat(t))[0])], "missing (NaT) time", column="time"
        )
    dup = np.flatnonzero(t[1:] == t[:-1])
    if dup.size:
        i = int(dup[0])
        where = (
            f"in {owners[i]} and {owners[i + 1]}"
            if owners[i] != owners[i + 1]
            else "twice in the file"
        )
        raise input_error(
            owners[i + 1],
            f"duplicate valid time {pd.Timestamp(t[i + 1])} ({where})",
            column="time",
            expected="one grid per valid time",
        )


def _mean_spread(ds: xr.Dataset) -> xr.Dataset:
    if "member" not in ds.dims:
        return ds
    out = ds.copy()
    n = ds.sizes["member"]
    for v in list(ds.data_vars):
        da = ds[v]
        if "member" not in da.dims:
            continue
        mean = da.mean("member", skipna=True, keep_attrs=True)
        spread = da.std("member", ddof=0, skipna=True, keep_attrs=True)
        mean.attrs["long_name"] = f"{da.attrs.get('long_name', v)} (ensemble mean of {n})"
        spread.attrs["long_name"] = (
            f"{da.attrs.get('long_name', v)} (ensemble spread: standard deviation across {n} "
            "members)"
        )
        spread.attrs.pop("standard_name", None)
        out[f"{v}_mean"] = mean
        out[f"{v}_spread"] = spread
        out = out.drop_vars([v])
    return out.drop_dims("member", errors="ignore")


# ---------------------------------------------------------------------------------------------
# Public: validate_grid
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """One named check of :func:`validate_grid`."""

    name: str
    ok: bool
    detail: str
    problems: tuple[str, ...] = ()


@dataclass
class GridReport:
    """Result of :func:`validate_grid`: every check with its outcome."""

    path: str
    grid_type: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def summary(self) -> str:
        lines = [f"grid {self.path} ({self.grid_type}): {'OK' if self.ok else 'FAILED'}"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
            lines += [f"         - {p}" for p in c.problems[:10]]
            if len(c.problems) > 10:
                lines.append(f"         … and {len(c.problems) - 10} more")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return str(round(float(x), 2))


def _site_label(code: str, lon: float, lat: float) -> str:
    return f"site {code} ({_fmt(lon)}°E, {_fmt(lat)}°N)"


def _canonical_base(name: str) -> str:
    for suffix in ("_mean", "_spread"):
        if name.endswith(suffix) and name[: -len(suffix)] in MET_VARIABLES:
            return name[: -len(suffix)]
    return name


def validate_grid(
    ds: xr.Dataset,
    sites_lon: Sequence[float] | np.ndarray,
    sites_lat: Sequence[float] | np.ndarray,
    *,
    margin_deg: float,
    required: Sequence[str] = (),
    window: tuple[datetime, datetime] | None = None,
    max_missing_fraction: float = 0.25,
    path_label: str | None = None,
    site_codes: Sequence[str] | None = None,
    raise_on_failure: bool = True,
) -> GridReport:
    """Check that a canonical grid (from :func:`open_grid`) can serve the given sites.

    Checks, in order, each named in the report and in errors:

    - ``opens``: the dataset was opened and normalised (by :func:`open_grid`);
    - ``variables``: every ``required`` canonical variable is present (as ``<var>`` or, for
      ensembles, ``<var>_mean``) and every canonical variable has its canonical units;
    - ``coverage``: every site lies inside the grid at least ``margin_deg`` [degrees] from its
      edge (regular: the lon/lat box; curvilinear: the site's nearest grid point is interior and
      the site is ≥ ``margin_deg`` of great-circle arc from the outermost ring of grid points);
    - ``coordinates``: regular grid spacing constant within 0.1 % (plus 1e-5°), or a
      curvilinear grid with finite 2-D lat/lon (interpolated by inverse-distance weighting);
    - ``times``: valid times strictly increasing and, if ``window`` (naive UTC, inclusive) is
      given, covering it;
    - ``missing``: for each site and variable, the share of NaN in the 2×2 bilinear
      neighbourhood (curvilinear: the 4 nearest grid points) over all times (inside
      ``window`` if given) and members must not exceed ``max_missing_fraction``.

    ``sites_lon``/``sites_lat`` are degrees east/north; ``site_codes`` name the sites in
    messages. Raises :class:`InputError` naming ``path_label`` (default: the dataset's
    ``source_files``) and every failed check unless ``raise_on_failure`` is false.
    """
    lon = np.asarray(sites_lon, dtype=np.float64).ravel()
    lat = np.asarray(sites_lat, dtype=np.float64).ravel()
    lon = (lon + 180.0) % 360.0 - 180.0
    codes = list(site_codes) if site_codes is not None else [f"#{i}" for i in range(lon.size)]
    if not (lon.size == lat.size == len(codes)):
        raise ValueError("sites_lon, sites_lat and site_codes must have the same length")
    label = path_label or str(ds.attrs.get("source_files", "<grid>")).split("\n")[0]
    n_files = len(str(ds.attrs.get("source_files", "")).split("\n"))
    grid_type = "curvilinear" if ds["lat"].ndim == 2 else "regular"
    report = GridReport(label, grid_type)
    sizes = ", ".join(f"{k}={v}" for k, v in ds.sizes.items())
    report.checks.append(CheckResult("opens", True, f"{n_files} file(s); {sizes}"))

    # variables --------------------------------------------------------------------------------
    problems: list[str] = []
    present = {str(v) for v in ds.data_vars}
    canon_vars = [v for v in present if _canonical_base(v) in MET_VARIABLES]
    for name in required:
        if name not in present and f"{name}_mean" not in present:
            problems.append(
                f"required variable {name!r} is missing (present: "
                f"{', '.join(sorted(present)) or 'none'})"
            )
    for v in sorted(canon_vars):
        want = MET_VARIABLES[_canonical_base(v)].units
        got = ds[v].attrs.get("units")
        if got != want:
            problems.append(f"{v!r} has units {got!r}, expected {want!r}")
    if not canon_vars:
        problems.append("no canonical variable in the grid")
    report.checks.append(
        CheckResult(
            "variables",
            not problems,
            f"{', '.join(sorted(canon_vars))} in canonical units"
            if not problems
            else f"{len(problems)} problem(s)",
            tuple(problems),
        )
    )

    # coverage ---------------------------------------------------------------------------------
    glon = np.asarray(ds["lon"].values, dtype=np.float64)
    glat = np.asarray(ds["lat"].values, dtype=np.float64)
    inside = np.ones(lon.size, dtype=bool)
    problems = []
    if grid_type == "regular":
        box = f"{_fmt(glon.min())}–{_fmt(glon.max())}°E × {_fmt(glat.min())}–{_fmt(glat.max())}°N"
        inside = (
            (lon >= glon.min() + margin_deg)
            & (lon <= glon.max() - margin_deg)
            & (lat >= glat.min() + margin_deg)
            & (lat <= glat.max() - margin_deg)
        )
        for i in np.flatnonzero(~inside):
            problems.append(
                f"{_site_label(codes[i], lon[i], lat[i])} is outside the grid "
                f"{box} with margin {_fmt(margin_deg)}°"
            )
        detail = f"{lon.size} site(s) inside {box} with margin {_fmt(margin_deg)}°"
    else:
        inside, dist_edge = _curvilinear_coverage(glon, glat, lon, lat)
        inside &= dist_edge >= margin_deg
        box = (
            f"the curvilinear grid ({_fmt(np.nanmin(glon))}–{_fmt(np.nanmax(glon))}°E × "
            f"{_fmt(np.nanmin(glat))}–{_fmt(np.nanmax(glat))}°N)"
        )
        for i in np.flatnonzero(~inside):
            problems.append(
                f"{_site_label(codes[i], lon[i], lat[i])} is outside {box} with margin "
                f"{_fmt(margin_deg)}° (distance to the grid edge {_fmt(dist_edge[i])}°)"
            )
        detail = (
            (
                f"{lon.size} site(s) inside {box}, ≥ {_fmt(float(dist_edge.min()))}° from its "
                f"edge (margin {_fmt(margin_deg)}°)"
            )
            if lon.size
            else "no sites"
        )
    report.checks.append(
        CheckResult(
            "coverage",
            not problems,
            detail if not problems else f"{len(problems)} site(s) not covered",
            tuple(problems),
        )
    )

    # coordinates ------------------------------------------------------------------------------
    problems = []
    if grid_type == "regular":
        spacings = []
        coarsest = 0.0
        for name, c in (("lat", glat), ("lon", glon)):
            if c.size < 2:
                problems.append(f"{name} has {c.size} point(s); need at least 2")
                continue
            d = np.diff(c)
            med = float(np.median(d))
            dev = float(np.max(np.abs(d - med)))
            if med <= 0 or dev > 1e-3 * abs(med) + 1e-5:
                problems.append(
                    f"{name} spacing is not constant: {_fmt(d.min())}–"
                    f"{_fmt(d.max())}° (median {med:.5g}°)"
                )
            spacings.append(f"{name} {med:.4g}°")
            coarsest = max(coarsest, abs(med))
        detail = "regular, spacing " + ", ".join(spacings)
        if coarsest > 1.0:
            detail += (
                f" (coarse: {coarsest:g}° ≈ {coarsest * 111:.0f} km, so neighbouring sites share "
                "the same grid cells)"
            )
    else:
        if not (np.isfinite(glon).all() and np.isfinite(glat).all()):
            problems.append("2-D lat/lon contain non-finite values")
        if np.abs(glat).max() > 90:
            problems.append("latitudes beyond ±90°")
        detail = (
            f"curvilinear {glat.shape[0]}×{glat.shape[1]} (2-D lat/lon), handled by "
            "inverse-distance weighting on the unit sphere"
        )
    report.checks.append(
        CheckResult(
            "coordinates",
            not problems,
            detail if not problems else "irregular coordinates",
            tuple(problems),
        )
    )

    # times ------------------------------------------------------------------------------------
    problems = []
    t = np.asarray(ds["time"].values)
    if not np.issubdtype(t.dtype, np.datetime64):
        problems.append(f"time has dtype {t.dtype}, expected datetime64")
    else:
        bad = np.flatnonzero(np.diff(t) <= np.timedelta64(0, "ns"))
        if np.isnat(t).any():
            problems.append("time contains missing values (NaT)")
        if bad.size:
            b = int(bad[0])
            problems.append(
                f"times are not strictly increasing: {pd.Timestamp(t[b])} is "
                f"followed by {pd.Timestamp(t[b + 1])} ({bad.size} place(s))"
            )
        if window is not None and t.size:
            w0, w1 = (pd.Timestamp(_to_ns(w)[0]) for w in window)
            if pd.Timestamp(t.min()) > w0 or pd.Timestamp(t.max()) < w1:
                problems.append(
                    f"times {pd.Timestamp(t.min())} – {pd.Timestamp(t.max())} do not "
                    f"cover the window {w0} – {w1} (UTC)"
                )
    tdetail = (
        f"{t.size} valid time(s) {pd.Timestamp(t.min())} – {pd.Timestamp(t.max())} UTC, "
        "strictly increasing"
        if t.size and not problems
        else ""
    )
    if window is not None and not problems:
        tdetail += ", covering the window"
    report.checks.append(
        CheckResult(
            "times", not problems, tdetail if not problems else "bad time axis", tuple(problems)
        )
    )

    # missing ----------------------------------------------------------------------------------
    problems = []
    worst = 0.0
    sel = ds
    if window is not None and np.issubdtype(t.dtype, np.datetime64):
        w0, w1 = (_to_ns(w)[0] for w in window)
        sel = ds.isel(time=np.flatnonzero((t >= w0) & (t <= w1)))
    names = [v for v in (required or canon_vars) if v in sel.data_vars] + [
        f"{v}_mean" for v in required if v not in sel.data_vars and f"{v}_mean" in sel.data_vars
    ]
    idx = np.flatnonzero(inside)
    if idx.size and names:
        flat_idx = neighbourhood_indices(ds, lon[idx], lat[idx])  # (n_in, 4) flat grid indices
        for v in names:
            da = sel[v]
            spatial = da.dims[-2:]
            arr = np.asarray(da.transpose(..., *spatial).values)
            arr = arr.reshape(-1, arr.shape[-2] * arr.shape[-1])
            if arr.shape[0] == 0:
                problems.append(f"{v}: no times to check")
                continue
            frac = np.isnan(arr[:, flat_idx]).mean(axis=(0, 2))
            worst = max(worst, float(frac.max()))
            for j in np.flatnonzero(frac > max_missing_fraction):
                i = idx[j]
                problems.append(
                    f"{v} has {frac[j]:.0%} missing values around "
                    f"{_site_label(codes[i], lon[i], lat[i])} (limit "
                    f"{max_missing_fraction:.0%})"
                )
    hood = "2×2 bilinear neighbourhood" if grid_type == "regular" else "4 nearest grid points"
    report.checks.append(
        CheckResult(
            "missing",
            not problems,
            f"worst share of missing values in the {hood} of a site: {worst:.1%} (limit "
            f"{max_missing_fraction:.0%})"
            if not problems
            else f"{len(problems)} site-variable(s) with too many missing values",
            tuple(problems),
        )
    )

    if raise_on_failure and not report.ok:
        raise InputError(
            label, [Problem(f"{c.name}: {p}") for c in report.failures for p in c.problems]
        )
    return report


def _curvilinear_coverage(
    glon: np.ndarray, glat: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per site: inside the curvilinear grid? and arc distance [degrees] to its outer ring."""
    if lon.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    ny, nx = glat.shape
    _, nearest = knn(unit_xyz(glon.ravel(), glat.ravel()), unit_xyz(lon, lat), 1)
    iy, ix = np.divmod(nearest[:, 0], nx)
    interior = (iy > 0) & (iy < ny - 1) & (ix > 0) & (ix < nx - 1)
    ring = np.concatenate(
        [
            np.stack([glon[0, :], glat[0, :]], 1),
            np.stack([glon[-1, :], glat[-1, :]], 1),
            np.stack([glon[:, 0], glat[:, 0]], 1),
            np.stack([glon[:, -1], glat[:, -1]], 1),
        ]
    )
    chord, _ = knn(unit_xyz(ring[:, 0], ring[:, 1]), unit_xyz(lon, lat), 1)
    dist = chord_to_degrees(chord[:, 0])
    return interior, dist
