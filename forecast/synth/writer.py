"""Writing the synthetic data set: atomic, byte-reproducible files.

Every file is written to a temporary file in its destination folder and renamed over the
destination (``os.replace``), so a reader never sees a half-written file and an interrupted run
leaves only complete files (netCDF files are also ``fsync``-ed before the rename; the many small
hourly CSV files are not, for speed).

Byte reproducibility: netCDF files carry only fixed attributes (no ``history`` or creation time;
the netCDF-C library does not record object times), variables are rounded to their published
resolution before being stored as float32 with zlib level 4 and the shuffle filter, and time is
encoded as integer hours since 2000-01-01 00:00 UTC. Same inputs → the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.config import Config
from forecast.io import sha256_file, write_bytes_atomic, write_netcdf_atomic
from forecast.met.variables import MET_VARIABLES
from forecast.obs.qc import apply_qc
from forecast.obs.variables import VARIABLES
from forecast.synth.network import Network
from forecast.synth.noise import FloatArray
from forecast.timeutil import BEIJING

TIME_UNITS = "hours since 2000-01-01 00:00:00"
CNEMC_HEADER = (
    "timepoint,stationcode,longitude,latitude,area,positionname,primarypollutant,aqi,pm10,"
    "pm10_24h,pm2_5,pm2_5_24h,o3,o3_24h,o3_8h,o3_8h_24h,no2,no2_24h,so2,so2_24h,co,co_24h"
)
#: value columns of the CNEMC release after ``primarypollutant`` and their source arrays.
CNEMC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("aqi", "aqi"),
    ("pm10", "pm10"),
    ("pm10_24h", "pm10_24h"),
    ("pm2_5", "pm25"),
    ("pm2_5_24h", "pm25_24h"),
    ("o3", "o3"),
    ("o3_24h", "o3_24h"),
    ("o3_8h", "o3_8h"),
    ("o3_8h_24h", "o3_8h_24h"),
    ("no2", "no2"),
    ("no2_24h", "no2_24h"),
    ("so2", "so2"),
    ("so2_24h", "so2_24h"),
    ("co", "co"),
    ("co_24h", "co_24h"),
)
PRIMARY_PM25 = "细颗粒物(PM2.5)"
PRIMARY_PM10 = "颗粒物(PM10)"
#: storage resolution of each met variable (values are rounded to it) [variable units].
MET_RESOLUTION: dict[str, float] = {
    "blh": 0.1,
    "u10": 0.01,
    "v10": 0.01,
    "t2m": 0.01,
    "d2m": 0.01,
    "t850": 0.01,
    "rh2m": 0.1,
    "sp": 0.01,
    "tp": 0.001,
}


# --------------------------------------------------------------------------------------------
# atomic files


def file_record(path: Path, root: Path) -> dict[str, Any]:
    return {
        "file": path.relative_to(root).as_posix(),
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False) + "\n").encode()


# --------------------------------------------------------------------------------------------
# grids


def _time_encoding() -> dict[str, Any]:
    return {
        "units": TIME_UNITS,
        "calendar": "proleptic_gregorian",
        "dtype": "int32",
        "_FillValue": None,
    }


def grid_dataset(
    fields: dict[str, FloatArray],
    times: np.ndarray,
    lat: FloatArray,
    lon: FloatArray,
    attrs: dict[str, str],
) -> xr.Dataset:
    """CF-1.8 (time, lat, lon) Dataset of the canonical met variables (float32, rounded)."""
    data_vars = {}
    for name, values in fields.items():
        meta = MET_VARIABLES[name]
        step = MET_RESOLUTION[name]
        rounded = (np.round(values / step) * step).astype(np.float32)
        var_attrs = {"units": meta.units, "long_name": meta.long_name}
        if meta.standard_name:
            var_attrs["standard_name"] = meta.standard_name
        if name == "tp":
            var_attrs["cell_methods"] = "time: sum (interval: 1 hour)"
        data_vars[name] = (("time", "lat", "lon"), rounded, var_attrs)
    ds = xr.Dataset(
        data_vars,
        coords={
            "time": (
                "time",
                np.asarray(times, dtype="datetime64[ns]"),
                {"standard_name": "time", "long_name": "time (UTC)", "axis": "T"},
            ),
            "lat": (
                "lat",
                np.asarray(lat, dtype=np.float64),
                {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
            ),
            "lon": (
                "lon",
                np.asarray(lon, dtype=np.float64),
                {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
            ),
        },
        attrs={"Conventions": "CF-1.8", **attrs},
    )
    return ds


def grid_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    enc: dict[str, dict[str, Any]] = {
        "time": _time_encoding(),
        "lat": {"_FillValue": None},
        "lon": {"_FillValue": None},
    }
    chunk = (min(24, ds.sizes["time"]), ds.sizes["lat"], ds.sizes["lon"])
    for name in ds.data_vars:
        enc[str(name)] = {
            "zlib": True,
            "complevel": 4,
            "shuffle": True,
            "chunksizes": chunk,
            "_FillValue": None,
            "dtype": "float32",
        }
    if "init_time" in ds.coords:
        enc["init_time"] = _time_encoding()
    if "lead" in ds.coords:
        enc["lead"] = {"units": "hours", "dtype": "int32", "_FillValue": None}
    return enc


# --------------------------------------------------------------------------------------------
# observations


def _ints(values: FloatArray) -> list[str]:
    """Integers as published; NaN → empty cell."""
    out = np.where(np.isnan(values), -1, values).astype(np.int64).astype(str)
    return [
        ("" if bad else s) for s, bad in zip(out.tolist(), np.isnan(values).tolist(), strict=True)
    ]


def _decimals(values: FloatArray) -> list[str]:
    return ["" if np.isnan(v) else f"{v:.1f}" for v in values.tolist()]


class CsvObsSink:
    """One ``obs/YYYY-MM-DDTHH.csv`` per hour in the network's hourly release format."""

    def __init__(self, folder: Path, network: Network) -> None:
        self.folder = folder
        self.prefix = [
            f"{s.code},{_coord(s.lon)},{_coord(s.lat)},{network.area(s.city)},{_cell(s.name)}"
            for s in network.stations
        ]
        self.count = 0
        self.total_bytes = 0
        self.digest = hashlib.sha256()
        self.first: str | None = None
        self.last: str | None = None

    def write_hour(
        self,
        label: pd.Timestamp,
        present: np.ndarray,
        primary: list[str],
        columns: dict[str, FloatArray],
    ) -> None:
        """Write the file of one hour; ``present``: stations with a row (bool, P)."""
        cells = {}
        for column, source in CNEMC_COLUMNS:
            values = columns[source]
            cells[column] = _decimals(values) if column.startswith("co") else _ints(values)
        stamp = label.strftime("%Y-%m-%dT%H:00:00")
        lines = [CNEMC_HEADER]
        order = [c for c, _ in CNEMC_COLUMNS]
        for i in np.flatnonzero(present).tolist():
            lines.append(
                ",".join([stamp, self.prefix[i], primary[i], *(cells[c][i] for c in order)])
            )
        data = ("\n".join(lines) + "\n").encode("utf-8")
        name = label.strftime("%Y-%m-%dT%H") + ".csv"
        write_bytes_atomic(self.folder / name, data)
        self.count += 1
        self.total_bytes += len(data)
        self.digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        self.first = self.first or name
        self.last = name

    def record(self) -> dict[str, Any]:
        return {
            "format": "cnemc-hourly",
            "pattern": "obs/YYYY-MM-DDTHH.csv (Beijing time)",
            "count": self.count,
            "bytes": self.total_bytes,
            "first": self.first,
            "last": self.last,
            "sha256_of_files": self.digest.hexdigest(),
            "sha256_of_files_method": "sha256 over (file name, NUL, sha256(file bytes)) "
            "in time order",
        }


def _coord(value: float) -> str:
    text = f"{value:.4f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _cell(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


class NetcdfObsSink:
    """Monthly ``obs/obs_YYYYMM.nc`` (Beijing months) in the observation Dataset conventions of
    :mod:`forecast.obs.dataset` (dims (site, time), UTC time, ``<var>_qc`` companions, QC applied
    month by month with the configuration's rules)."""

    def __init__(
        self,
        folder: Path,
        network: Network,
        config: Config,
        first: pd.Timestamp,
        last: pd.Timestamp,
        utc_of: Any,
    ) -> None:
        self.folder, self.network, self.config = folder, network, config
        self.first, self.last = first, last  # Beijing labels of the first and last hour
        self.utc_of = utc_of
        self.buffers: dict[str, dict[str, FloatArray]] = {}
        self.filled: dict[str, int] = {}
        self.written: list[Path] = []

    def _month_range(self, month: pd.Period) -> pd.DatetimeIndex:
        lo = max(month.start_time, self.first)
        hi = min((month + 1).start_time - pd.Timedelta(hours=1), self.last)
        return pd.date_range(lo, hi, freq="h")

    def write_hour(self, label: pd.Timestamp, values: dict[str, FloatArray]) -> None:
        month = label.to_period("M")
        key = str(month)
        axis = self._month_range(month)
        if key not in self.buffers:
            n = len(self.network.stations)
            self.buffers[key] = {v: np.full((n, len(axis)), np.nan) for v in VARIABLES}
            self.filled[key] = 0
        j = int((label - axis[0]) / pd.Timedelta(hours=1))
        for v in VARIABLES:
            self.buffers[key][v][:, j] = values[v]
        self.filled[key] += 1
        if self.filled[key] == len(axis):
            self._flush(month, axis)

    def _flush(self, month: pd.Period, axis: pd.DatetimeIndex) -> None:
        key = str(month)
        buf = self.buffers.pop(key)
        net = self.network
        data_vars: dict[str, Any] = {}
        for v in VARIABLES:
            meta = VARIABLES[v]
            attrs = {"units": meta.units, "long_name": meta.long_name}
            if meta.standard_name:
                attrs["standard_name"] = meta.standard_name
            data_vars[v] = (("site", "time"), buf[v], attrs)
            data_vars[f"{v}_qc"] = (("site", "time"), np.zeros(buf[v].shape, dtype=np.uint16))
        ds = xr.Dataset(
            data_vars,
            coords={
                "site": ("site", np.array(net.codes, dtype=object)),
                "time": ("time", np.asarray(self.utc_of(axis), dtype="datetime64[ns]")),
                "name": ("site", np.array([s.name for s in net.stations], dtype=object)),
                "city": ("site", np.array([s.city for s in net.stations], dtype=object)),
                "lon": (
                    "site",
                    net.array("lon").astype(np.float64),
                    {"units": "degrees_east", "standard_name": "longitude"},
                ),
                "lat": (
                    "site",
                    net.array("lat").astype(np.float64),
                    {"units": "degrees_north", "standard_name": "latitude"},
                ),
                "reference_site": ("site", net.array("reference_site").astype(bool)),
                "kind": ("site", np.array(["station"] * len(net.stations), dtype=object)),
            },
        )
        ds["time"].attrs = {"standard_name": "time", "long_name": "time (UTC)"}
        ds.attrs = {
            "Conventions": "CF-1.8",
            "title": f"{self.config.region.name_en} station observations (synthetic)",
            "time_resolution": "1h",
            "time_zone": "UTC",
            "source_time_zone": BEIJING,
            "time_label": "end of the averaging hour",
            "source_format": "synthetic",
            "source_files": "[]",
            "comment": "written by forecast.synth; quality control applied to this month",
        }
        checked, _ = apply_qc(ds, self.config.observations.qc)
        encoding: dict[str, dict[str, Any]] = {
            "time": {
                "units": "minutes since 1970-01-01 00:00:00",
                "dtype": "int64",
                "calendar": "proleptic_gregorian",
            },
        }
        for name, var in checked.data_vars.items():
            if var.dims == ("site", "time"):
                encoding[str(name)] = {
                    "zlib": True,
                    "complevel": 4,
                    "chunksizes": (1, var.shape[1]),
                }
        path = self.folder / f"obs_{month.strftime('%Y%m')}.nc"
        write_netcdf_atomic(checked, path, encoding)
        self.written.append(path)

    def close(self) -> None:
        for key in sorted(self.buffers):
            month = pd.Period(key, freq="M")
            self._flush(month, self._month_range(month))
