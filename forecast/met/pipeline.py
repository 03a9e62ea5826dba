"""Grids → validated → interpolated to the configured sites → derived predictors.

The one function the CLI and the scheduled jobs call to turn NWP or reanalysis files into the
``(site, time)`` meteorology that is merged with observations (:mod:`forecast.merge`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecast.config import Config
from forecast.met.derived import add_derived
from forecast.met.grids import GridReport, open_grid, validate_grid
from forecast.met.interp import grid_to_sites
from forecast.met.variables import MET_VARIABLES
from forecast.obs.dataset import site_coords


@dataclass
class MetImport:
    dataset: xr.Dataset
    grid: xr.Dataset
    report: GridReport

    def summary(self) -> str:
        ds, grid = self.dataset, self.grid
        times = ds.indexes["time"]
        variables = [v for v in ds.data_vars if v in MET_VARIABLES]
        files = str(grid.attrs.get("source_files", "")).splitlines()
        lines = [
            f"read {len(files)} file(s) ({grid.attrs.get('engine')}, "
            f"{grid.attrs.get('grid_type')} grid)",
            "variables: " + ", ".join(f"{v} [{ds[v].attrs.get('units', '?')}]" for v in variables),
            f"valid times: {len(times)}, {times[0]:%Y-%m-%d %H:%M} – "
            f"{times[-1]:%Y-%m-%d %H:%M} UTC",
            self.report.summary(),
            f"interpolated to {ds.sizes['site']} sites ({ds.attrs.get('interpolation')})",
        ]
        dropped = grid.attrs.get("dropped_variables")
        if dropped:
            lines.append(f"not used (no canonical name): {dropped}")
        return "\n".join(lines)


def _step_label(times: pd.DatetimeIndex) -> str:
    if len(times) < 2:
        return "single"
    hours = float(np.min(np.diff(times.values)) / np.timedelta64(1, "h"))
    return "1D" if hours == 24 else f"{hours:g}h"


def import_met(
    paths: Sequence[str | Path],
    config: Config,
    *,
    kind: str = "station",
    sites: Sequence[str] | None = None,
) -> MetImport:
    """Open, validate and interpolate grids to the config's stations (or city centres)."""
    grid = open_grid(
        list(paths), variables=config.met.variables or None, ensemble=config.met.ensemble
    )
    if kind == "station":
        codes = list(sites) if sites else [s.code for s in config.stations]
    else:
        codes = list(sites) if sites else [c.id for c in config.cities]
    coords = site_coords(config, kind, codes)
    lon, lat = coords["lon"][1], coords["lat"][1]
    label = str(grid.attrs.get("source_files", "")).splitlines()
    report = validate_grid(
        grid,
        lon,
        lat,
        margin_deg=config.region.grid_margin_deg,
        max_missing_fraction=config.met.max_missing_fraction,
        path_label=label[0] if len(label) == 1 else f"{len(label)} files",
        site_codes=codes,
    )
    at_sites = grid_to_sites(grid, (codes, lon, lat), method=config.met.interpolation)
    at_sites = add_derived(at_sites.transpose("site", "time", ...))
    at_sites = at_sites.drop_vars([c for c in ("code",) if c in at_sites.coords])
    at_sites = at_sites.assign_coords({k: v for k, v in coords.items() if k not in ("lon", "lat")})
    at_sites = at_sites.assign_coords(kind=("site", np.array([kind] * len(codes), dtype=object)))
    at_sites.attrs.update(
        Conventions="CF-1.8",
        time_zone="UTC",
        time_resolution=_step_label(at_sites.indexes["time"]),
    )
    return MetImport(at_sites, grid, report)
