"""A realistic, reproducible synthetic Wu-Chang-Shi (乌昌石) autumn–winter.

``generate(out_dir, seed=0, n_stations=21, start="2021-10-01", days=None | years=None, …)``
(command line: ``wcs-forecast synth --out DIR``) writes::

    DIR/config.yaml                 the base configuration (repository config.yaml or --config)
                                    with the synthetic network's stations and data paths in DIR;
                                    loads with forecast.config.load_config
    DIR/analysis/met_YYYYMM.nc      hourly analysis per UTC month (the period's hours of it):
                                    CF-1.8, dims (time, lat, lon), lat ascending, 80–95°E ×
                                    40–48°N at 0.5° (or 0.25°), time UTC; blh, u10, v10, t2m,
                                    d2m, t850, rh2m, sp, tp in the canonical names and units of
                                    forecast.met.variables; float32, zlib
    DIR/nwp/wcs_YYYYMMDDHH.nc       forecast cycles (00 UTC) for the operational days: dims
                                    (time = valid time UTC, lat, lon), coords init_time
                                    (scalar) and lead (0…168 h, along time)
    DIR/obs/YYYY-MM-DDTHH.csv       station observations, one file per hour, the network's
                                    hourly release (``cnemc-hourly``), Beijing-time names and
                                    timepoints; or with obs_format="netcdf"
    DIR/obs/obs_YYYYMM.nc           monthly (site, time) datasets in the conventions of
                                    forecast.obs.dataset (QC applied per month)
    DIR/faults/missing_hours.csv    every dropped station-hour (Beijing time, station, cause)
    DIR/manifest.json               seed, parameters, files (sizes, SHA-256), forecast cycles
                                    (ok / late / missing), faults, episodes per city, summary
                                    statistics, city daily PM2.5, the fronts of the period

Period: the days ``start … start + days − 1`` (``years`` = that many calendar years; neither
= until the following 31 March, the autumn–winter campaign). Grids cover those days in UTC
(00 UTC of the first day to 23 UTC of the last), observations the same dates in Beijing time
(00:00 of the first day to 23:00 of the last; in UTC 8 hours earlier). The station model starts
7 days earlier (spin-up, not written) so that the first hours have a realistic state and full
24-hour columns.

Forecast cycles (``cycle_days``): by default the last three days of the period and the day
before the peak day of the strongest episode (highest city daily PM2.5 of all episodes). With
faults on, the latest cycle is **late** and the second latest **missing**. A cycle initialised
at 00 UTC is nominally available at 05 UTC (13:00 Beijing time); the late one at 09 UTC
(17:00 Beijing time): its file modification time is set to that moment and the manifest lists
``status: late`` with ``available_utc``. A consumer working "as of" a time must treat a cycle as
unavailable before its ``available_utc`` — e.g. the 16:00 Beijing-time forecast job of that day
falls back to the previous cycle. The missing cycle has no file (``status: missing``).

Reproducibility: the same arguments give byte-identical files (netCDF without timestamps or
history; every random number from a stream named by the seed, a component and an absolute
time index — see :mod:`forecast.synth.noise`). The weather is the same for any number of
stations; the real stations' pollution is too (synthetic stations draw their random numbers in
separate groups). The result does not depend on ``chunk_days`` (days simulated and buffered
before writing): the weather is an analytic function of time, evaluated in UTC-day blocks, and
the box-model and release states are carried from day to day.

Physics: :mod:`forecast.synth.weather` (regimes, fields, parameters) and
:mod:`forecast.synth.pollution` (box model, emissions, other pollutants); faults and release
columns: :mod:`forecast.synth.publish`.
"""

from __future__ import annotations

from forecast.synth.core import generate
from forecast.synth.pollution import PollutionParams
from forecast.synth.weather import WeatherParams

__all__ = ["PollutionParams", "WeatherParams", "generate"]
