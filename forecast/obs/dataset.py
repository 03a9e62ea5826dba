"""Read results → one ``(site, time)`` observation Dataset, quality-controlled, on disk.

Conventions of the Dataset (what every later stage relies on):

- dims ``(site, time)``; ``site`` holds station codes (``kind="station"``) or city ids
  (``kind="city"``); site coordinates ``name``, ``city``, ``lon`` [degrees_east], ``lat``
  [degrees_north], ``reference_site`` and ``kind``;
- ``time`` is UTC (naive ``datetime64[ns]``) on a regular axis (``time_resolution`` attribute
  ``1h`` or ``1D``); the source zone is recorded as ``source_time_zone = Asia/Shanghai``. An
  hourly value labelled HH:00 Beijing time is the mean of the hour ending then; a daily value is
  stamped at the start of its Beijing day (00:00 BJT = 16:00 UTC the day before);
- variables as in :data:`forecast.obs.variables.VARIABLES` (float64, CF ``units``,
  ``long_name``, ``standard_name``), each with a ``<var>_qc`` flag companion;
- provenance: ``source_files`` (JSON: file name, format, encoding, SHA-256, rows, notes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecast import io
from forecast.config import Config
from forecast.errors import InputError, Problem, input_error
from forecast.obs.flags import QC
from forecast.obs.qc import apply_qc
from forecast.obs.readers import ReadResult, read_file
from forecast.obs.variables import VARIABLES
from forecast.timeutil import BEIJING, beijing_to_utc, now_utc, utc_to_beijing

CSV_SUFFIXES = (".csv", ".txt")


@dataclass
class ImportResult:
    dataset: xr.Dataset
    report: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    files: list[ReadResult] = field(default_factory=list)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, directories expanded to their CSV files; sorted, so order never matters."""
    out: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            found = [f for f in p.iterdir() if f.suffix.lower() in CSV_SUFFIXES and f.is_file()]
            if not found:
                raise input_error(p, "directory holds no .csv files")
            out.update(found)
        else:
            out.add(p)
    return sorted(out)


def _check_future(result: ReadResult, now_local: pd.Timestamp, tolerance_h: float) -> None:
    limit = now_local + pd.Timedelta(hours=tolerance_h)
    if result.resolution == "1D":
        limit = limit.floor("D")
    future = np.flatnonzero((result.frame["time"] > limit).to_numpy())
    if future.size:
        raise InputError(
            result.path,
            [
                Problem(
                    "time is in the future",
                    line=int(result.frame["line"].iat[i]),
                    value=f"{result.frame['time'].iat[i]:%Y-%m-%d %H:%M}",
                    expected=f"no later than {limit:%Y-%m-%d %H:%M} Beijing time "
                    "(clock error or wrong time zone?)",
                )
                for i in future[:10]
            ],
        )


def _check_consistent(results: Sequence[ReadResult]) -> None:
    first = results[0]
    for other in results[1:]:
        if (other.kind, other.resolution) != (first.kind, first.resolution):
            raise input_error(
                other.path,
                f"holds {other.kind} {other.resolution} data but {first.path.name} holds "
                f"{first.kind} {first.resolution} data (mixed formats in one call)",
                expected="files of one kind and time step per import",
            )


def _resolve_duplicates(
    table: pd.DataFrame, variables: list[str]
) -> tuple[pd.DataFrame, pd.MultiIndex, int, int]:
    """One row per (site, time): the last row in file-then-line order wins.

    Returns the table, the (site, time) keys that had several rows (flagged ``duplicate``), the
    number of exact copies dropped and the number of keys whose rows disagreed.
    """
    keys = ["site", "time"]
    repeated = table.duplicated(subset=keys, keep=False)
    flagged = pd.MultiIndex.from_frame(table.loc[repeated, keys].drop_duplicates())
    exact = table.duplicated(subset=[*keys, *variables], keep="last")
    distinct = table.loc[~exact]
    n_conflicts = int(
        distinct.duplicated(subset=keys, keep="first")
        .groupby([distinct["site"], distinct["time"]])
        .any()
        .sum()
    )
    return table.drop_duplicates(subset=keys, keep="last"), flagged, int(exact.sum()), n_conflicts


def site_coords(config: Config, kind: str, sites: list[str]) -> dict[str, tuple[str, list]]:
    """Site coordinates (name, city, lon, lat, reference_site) of stations or city centres."""
    if kind == "station":
        st = [config.station(s) for s in sites]
        return {
            "name": ("site", [s.name for s in st]),
            "city": ("site", [s.city for s in st]),
            "lon": ("site", [s.lon for s in st]),
            "lat": ("site", [s.lat for s in st]),
            "reference_site": ("site", [s.reference_site for s in st]),
        }
    cities = [config.city(s) for s in sites]
    centres = [config.city_centre(c.id) for c in cities]
    return {
        "name": ("site", [c.name_zh for c in cities]),
        "city": ("site", [c.id for c in cities]),
        "lon": ("site", [lon for lon, _ in centres]),
        "lat": ("site", [lat for _, lat in centres]),
        "reference_site": ("site", [False] * len(cities)),
    }


def assemble(
    results: Sequence[ReadResult], config: Config, *, city: str | None = None
) -> tuple[xr.Dataset, list[str]]:
    """Combine read files into one Dataset on a regular UTC axis (before QC).

    Stations: every configured station of the cities present (or of ``city``) is a site, so a
    station with no data at all shows up as missing rather than disappearing. Cities: the
    cities present. Duplicate (site, time) rows: exact copies are dropped; conflicting rows keep
    the last in sorted-file, then line order, and are flagged ``duplicate``.
    """
    _check_consistent(results)
    kind, resolution = results[0].kind, results[0].resolution
    tables = [r.frame.assign(_file=i) for i, r in enumerate(results)]
    table = pd.concat(tables, ignore_index=True).sort_values(["_file", "line"], kind="stable")
    if city is not None:
        city_id = config.city(city).id
        in_city = (
            table["site"].map(lambda s: config.station(s).city) == city_id
            if kind == "station"
            else table["site"] == city_id
        )
        table = table.loc[in_city]
    if table.empty:
        raise input_error(
            results[0].path,
            "no rows for the region" + (f" and city {city!r}" if city else ""),
            expected="data for the configured stations or cities",
        )
    variables = [v for v in VARIABLES if v in table.columns and table[v].notna().any()]
    if not variables:
        raise input_error(
            results[0].path,
            "no values in any variable column",
            expected="at least one of " + ", ".join(VARIABLES),
        )
    table, duplicated, n_exact, n_conflicts = _resolve_duplicates(table, variables)
    notes = []
    if n_exact:
        notes.append(f"dropped {n_exact} exact duplicate row(s) (flagged 'duplicate')")
    if n_conflicts:
        notes.append(
            f"{n_conflicts} site-time(s) had conflicting rows: kept the last "
            "(sorted file name, then line order) and flagged 'duplicate'"
        )

    if kind == "station":
        cities = [city] if city else sorted({config.station(s).city for s in table["site"]})
        cities = [config.city(c).id for c in cities]
        sites = [s.code for s in config.stations if s.city in cities]
    else:
        present = set(table["site"])
        sites = [c.id for c in config.cities if c.id in present]
    freq = "h" if resolution == "1h" else "D"
    local_axis = pd.date_range(table["time"].min(), table["time"].max(), freq=freq)
    time_utc = beijing_to_utc(local_axis).astype("datetime64[ns]")

    index = pd.MultiIndex.from_product([sites, local_axis], names=["site", "time"])
    full = table.set_index(["site", "time"])[variables].reindex(index)
    shape = (len(sites), len(local_axis))
    data_vars: dict[
        str, tuple[tuple[str, str], np.ndarray] | tuple[tuple[str, str], np.ndarray, dict[str, str]]
    ] = {}
    dup_bits = np.zeros(shape, dtype=np.uint16)
    if len(duplicated):
        hit = index.isin(duplicated)
        dup_bits = np.where(hit.reshape(shape), np.uint16(QC.DUPLICATE), np.uint16(0))
    for v in variables:
        meta = VARIABLES[v]
        attrs = {"units": meta.units, "long_name": meta.long_name}
        if meta.standard_name:
            attrs["standard_name"] = meta.standard_name
        data_vars[v] = (("site", "time"), full[v].to_numpy(dtype="float64").reshape(shape), attrs)
        data_vars[f"{v}_qc"] = (("site", "time"), dup_bits.copy())
    coords = {
        "site": ("site", np.array(sites, dtype=object)),
        "time": time_utc,
        **site_coords(config, kind, sites),
    }
    ds = xr.Dataset(data_vars, coords=coords)
    ds["kind"] = ("site", np.array([kind] * len(sites), dtype=object))
    ds = ds.set_coords("kind")
    for name in ("site", "name", "city", "kind"):
        ds[name] = ds[name].astype(object)
    ds["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    ds["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    ds["time"].attrs = {"standard_name": "time", "long_name": "time (UTC)"}
    ds["time"].encoding = {
        "units": "minutes since 1970-01-01 00:00:00",
        "dtype": "int64",
        "calendar": "proleptic_gregorian",
    }
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": f"{config.region.name_en} {kind} observations",
        "time_resolution": resolution,
        "time_zone": "UTC",
        "source_time_zone": BEIJING,
        "time_label": "end of the averaging hour"
        if resolution == "1h"
        else "start of the Beijing calendar day",
        "source_format": results[0].format,
        "source_files": json.dumps(
            [
                {
                    "file": r.path.name,
                    "format": r.format,
                    "variant": r.variant,
                    "encoding": r.encoding,
                    "sha256": io.sha256_file(r.path),
                    "rows": len(r.frame),
                    "notes": r.notes,
                }
                for r in results
            ],
            ensure_ascii=False,
        ),
    }
    return ds, notes


def import_observations(
    paths: Iterable[str | Path],
    fmt: str,
    config: Config,
    *,
    city: str | None = None,
    now: pd.Timestamp | None = None,
) -> ImportResult:
    """Read, check, assemble and quality-control station or city files of one format.

    Every file is read before anything is returned; the first unusable file raises an
    :class:`~forecast.errors.InputError` that names it.
    """
    files = expand_paths(paths)
    if not files:
        raise InputError("<no files>", [Problem("no input files given")])
    now_local = utc_to_beijing(pd.DatetimeIndex([now if now is not None else now_utc()]))[0]
    results = []
    for path in files:
        result = read_file(path, fmt, config, city=city)
        _check_future(result, now_local, config.observations.max_future_hours)
        results.append(result)
    ds, notes = assemble(results, config, city=city)
    checked, report = apply_qc(ds, config.observations.qc)
    file_notes = [f"{r.path.name}: {n}" for r in results for n in r.notes]
    return ImportResult(checked, report, file_notes + notes, results)


# --------------------------------------------------------------------------------------------
# storage


def write_netcdf_atomic(ds: xr.Dataset, path: str | Path) -> Path:
    """Write an observation or site Dataset atomically (see :mod:`forecast.io`).

    Each ``(site, time)`` variable is compressed and chunked one site per chunk on disk, so
    reading one site chunk reads only that site.
    """
    encoding: dict[str, dict[str, object]] = {
        str(name): {"zlib": True, "complevel": 4, "chunksizes": (1, var.shape[1])}
        for name, var in ds.data_vars.items()
        if var.dims == ("site", "time")
    }
    return io.write_netcdf_atomic(ds, path, encoding)


def read_netcdf(path: str | Path, *, chunks: dict[str, int] | None = None) -> xr.Dataset:
    """Open an observation Dataset written by :func:`write_netcdf_atomic`.

    ``chunks={"site": n}`` returns a lazily loaded Dataset chunked by site (needs dask).
    """
    path = Path(path)
    try:
        ds = xr.open_dataset(path, engine="netcdf4", chunks=chunks)
    except FileNotFoundError:
        raise input_error(path, "file not found") from None
    except OSError as exc:
        raise input_error(path, f"not a readable netCDF file ({exc})") from None
    if chunks is None:
        ds = ds.load()
        ds.close()
    for name in ("site", "name", "city", "kind"):
        if name in ds.coords:
            ds[name] = ds[name].astype(object)
    return ds


def summarize_import(result: ImportResult) -> str:
    ds = result.dataset
    local = utc_to_beijing(ds.indexes["time"])
    lines = [
        f"read {len(result.files)} file(s) ({', '.join(sorted({f.encoding for f in result.files}))}"
        f"): {ds.sizes['site']} {ds['kind'].values[0]}s × {ds.sizes['time']} "
        f"{'hours' if ds.attrs['time_resolution'] == '1h' else 'days'}, "
        f"{local[0]:%Y-%m-%d %H:%M} – {local[-1]:%Y-%m-%d %H:%M} Beijing time",
        "variables: " + ", ".join(f"{v} [{ds[v].attrs['units']}]" for v in VARIABLES if v in ds),
    ]
    if result.notes:
        lines.append("notes:")
        lines += [f"  - {n}" for n in result.notes]
    return "\n".join(lines)
