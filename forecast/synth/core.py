"""The generator: period, grids, stations, forecasts, faults and the manifest.

See the package docstring (:mod:`forecast.synth`) for the files written and the conventions.
"""

from __future__ import annotations

import math
import os
import shutil
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from forecast.config import Config
from forecast.obs.variables import VARIABLES
from forecast.synth.network import Network, build_network, load_base_config, write_config
from forecast.synth.noise import (
    GROUP_SIZE,
    FloatArray,
    IntArray,
    SpatialNoise,
    Stream,
    day_draws,
    hours_since_epoch,
    hours_to_datetime,
)
from forecast.synth.pollution import (
    POLLUTANTS,
    BoxModel,
    PollutionParams,
    diagnose,
    heating_on,
    measure,
)
from forecast.synth.publish import FaultPlan, Publisher
from forecast.synth.weather import (
    MET_NAMES,
    FrontState,
    PointSet,
    WeatherModel,
    WeatherParams,
    daytime_shape,
    dewpoint,
)
from forecast.synth.writer import (
    CsvObsSink,
    NetcdfObsSink,
    file_record,
    grid_dataset,
    grid_encoding,
    json_bytes,
    write_bytes_atomic,
    write_netcdf_atomic,
)
from forecast.timeutil import beijing_to_utc, utc_to_beijing

ObsFormat = Literal["cnemc-hourly", "netcdf"]
SPIN_UP_DAYS = 7
LEADS = 168
#: a cycle initialised at 00 UTC is nominally on disk at 05 UTC (13:00 Beijing time).
NOMINAL_DELAY_H = 5
#: the late cycle appears this many hours after its nominal time (17:00 Beijing time).
LATE_DELAY_H = 4
GENERATOR_VERSION = 1
Progress = Callable[[str], None]
#: forecast error: standard deviation at long lead [units of the variable] (blh, tp: log).
FORECAST_SIGMA: dict[str, float] = {
    "t2m": 2.0,
    "t850": 1.5,
    "u10": 1.6,
    "v10": 1.6,
    "blh": 0.35,
    "rh2m": 8.0,
    "sp": 1.5,
    "tp": 0.5,
}


@dataclass(frozen=True)
class Period:
    """Days ``start … start + days − 1``: grids cover them in UTC, observations in Beijing time."""

    start: pd.Timestamp
    days: int

    @property
    def end(self) -> pd.Timestamp:
        return self.start + pd.Timedelta(days=self.days)

    @property
    def first_hour(self) -> int:
        return int(hours_since_epoch(np.datetime64(self.start, "h")))

    @property
    def end_hour(self) -> int:
        return self.first_hour + 24 * self.days

    @property
    def obs_utc(self) -> tuple[int, int]:
        """First and last UTC hour (since the epoch) of the observation files."""
        lo = beijing_to_utc(pd.DatetimeIndex([self.start, self.end]))
        h = hours_since_epoch(lo.values)
        return int(h[0]), int(h[1]) - 1


def make_period(start: str | pd.Timestamp, days: int | None, years: int | None) -> Period:
    t0 = pd.Timestamp(start)
    if t0 != t0.normalize():
        raise ValueError(f"start must be a date (00:00), got {start}")
    if t0 < pd.Timestamp("2000-01-15"):
        raise ValueError("start must be on or after 2000-01-15 (the generator's epoch is 2000)")
    if days is not None and years is not None:
        raise ValueError("give days or years, not both")
    if years is not None:
        if years < 1:
            raise ValueError(f"years must be ≥ 1, got {years}")
        n = (t0 + pd.DateOffset(years=years) - t0).days
    elif days is not None:
        n = int(days)
    elif t0.month >= 10 or t0.month <= 3:  # the autumn–winter campaign: until 31 March
        year = t0.year + 1 if t0.month >= 10 else t0.year
        n = (pd.Timestamp(year=year, month=4, day=1) - t0).days
    else:  # outside the campaign: the length of one (Oct–Mar) campaign
        n = 182
    if n < 1:
        raise ValueError(f"the period must have at least one day, got {n}")
    return Period(t0, n)


def grid_axes(step: float) -> tuple[FloatArray, FloatArray]:
    """lat (ascending) and lon of the 80–95°E × 40–48°N grid at ``step`` degrees."""
    if step not in (0.5, 0.25):
        raise ValueError(f"grid_step must be 0.5 or 0.25 degrees, got {step}")
    lat = 40.0 + step * np.arange(round(8.0 / step) + 1, dtype=np.float64)
    lon = 80.0 + step * np.arange(round(15.0 / step) + 1, dtype=np.float64)
    return lat.astype(np.float64), lon.astype(np.float64)


def _grid_points(lat: FloatArray, lon: FloatArray) -> PointSet:
    glon, glat = np.meshgrid(lon, lat)  # (lat, lon), lat outer
    return PointSet(glon.ravel(), glat.ravel())


def _beijing_text(hour: int) -> str:
    return utc_to_beijing(pd.DatetimeIndex(hours_to_datetime([hour])))[0].strftime(
        "%Y-%m-%dT%H:00:00"
    )


def _utc_text(hour: int) -> str:
    return pd.Timestamp(hours_to_datetime([hour])[0]).strftime("%Y-%m-%dT%H:00:00Z")


# --------------------------------------------------------------------------------------------
# the run


class Generator:
    def __init__(
        self,
        out_dir: Path,
        *,
        seed: int,
        network: Network,
        period: Period,
        grid_step: float,
        obs_format: ObsFormat,
        chunk_days: int,
        faults: bool,
        weather: WeatherParams,
        pollution: PollutionParams,
        progress: Progress | None,
    ) -> None:
        self.out = out_dir
        self.seed = seed
        self.network = network
        self.config: Config = network.base
        self.period = period
        self.obs_format = obs_format
        self.chunk_days = chunk_days
        self.progress = progress or (lambda _msg: None)
        self.lat, self.lon = grid_axes(grid_step)
        self.grid_step = grid_step
        until = period.end_hour + 24 * 10
        self.model = WeatherModel(seed, until, weather)
        self.pollution = pollution
        self.grid = _grid_points(self.lat, self.lon)
        first_needed = period.first_hour - 24 * (SPIN_UP_DAYS + 1)
        self.grid_state = FrontState.build(self.model.fronts, self.grid, first_needed, weather)
        self.stations = PointSet(
            network.array("lon").astype(np.float64), network.array("lat").astype(np.float64)
        )
        self.station_state = FrontState.build(
            self.model.fronts, self.stations, first_needed, weather
        )
        first_obs, last_obs = period.obs_utc
        self.fault_plan = FaultPlan.plan(seed, network, first_obs, last_obs, enabled=faults)
        self.files: dict[str, Any] = {}
        self.city_daily: dict[str, list[float]] = {c: [] for c in network.cities}
        self.days_bjt: list[str] = []

    # ---- grids ---------------------------------------------------------------------------

    def grid_fields(
        self, day_hours: Iterable[int], state: FrontState | None = None, noises: Any = None
    ) -> dict[str, FloatArray]:
        """Met fields on the grid for whole UTC days, each (T, lat, lon)."""
        parts: dict[str, list[FloatArray]] = {v: [] for v in MET_NAMES}
        for d in day_hours:
            f = self.model.fields(np.arange(d, d + 24), self.grid, state or self.grid_state, noises)
            for v in MET_NAMES:
                parts[v].append(f[v])
        shape = (-1, self.lat.size, self.lon.size)
        return {v: np.concatenate(parts[v]).reshape(shape) for v in MET_NAMES}

    def _grid_attrs(self, title: str) -> dict[str, str]:
        return {
            "title": title,
            "institution": "synthetic data (no institution)",
            "source": f"forecast.synth generator v{GENERATOR_VERSION}, seed {self.seed}",
            "synthetic": "yes: not observed or modelled weather",
            "time_zone": "UTC",
            "grid_step_degrees": str(self.grid_step),
            "comment": "values are rounded to fixed resolutions; tp is the amount fallen in "
            "the hour ending at the valid time",
        }

    def write_analysis(self) -> list[Path]:
        folder = self.out / "analysis"
        paths = []
        start, end = self.period.first_hour, self.period.end_hour
        months = pd.period_range(
            self.period.start, self.period.end - pd.Timedelta(days=1), freq="M"
        )
        for month in months:
            lo = max(start, int(hours_since_epoch(np.datetime64(month.start_time, "h"))))
            hi = min(end, int(hours_since_epoch(np.datetime64((month + 1).start_time, "h"))))
            fields = self.grid_fields(range(lo, hi, 24))
            times = hours_to_datetime(np.arange(lo, hi))
            ds = grid_dataset(
                fields,
                times,
                self.lat,
                self.lon,
                self._grid_attrs("Synthetic Wu-Chang-Shi hourly analysis"),
            )
            path = folder / f"met_{month.strftime('%Y%m')}.nc"
            write_netcdf_atomic(ds, path, grid_encoding(ds))
            paths.append(path)
            self.progress(f"analysis {path.name}")
        return paths

    # ---- stations ------------------------------------------------------------------------

    def run_stations(self) -> None:
        net = self.network
        p = self.pollution
        box = BoxModel(self.seed, net, p)
        publisher = Publisher(net, self.config.aqi.standard, self.seed, self.fault_plan)
        first_obs, last_obs = self.period.obs_utc
        first_label = pd.Timestamp(self.period.start)
        last_label = pd.Timestamp(self.period.end) - pd.Timedelta(hours=1)
        sink_csv = CsvObsSink(self.out / "obs", net) if self.obs_format == "cnemc-hourly" else None
        sink_nc = (
            NetcdfObsSink(
                self.out / "obs", net, self.config, first_label, last_label, beijing_to_utc
            )
            if self.obs_format == "netcdf"
            else None
        )
        non_ref = ~net.array("reference_site").astype(bool)
        city_idx = net.city_index
        daily_sum: dict[pd.Timestamp, tuple[FloatArray, FloatArray, int]] = {}
        sim_start = self.period.first_hour - 24 * SPIN_UP_DAYS
        days = list(range(sim_start, self.period.end_hour, 24))
        for c0 in range(0, len(days), self.chunk_days):
            chunk = days[c0 : c0 + self.chunk_days]
            for d in chunk:
                hours = np.arange(d, d + 24)
                met = self.model.fields(hours, self.stations, self.station_state)
                labels = utc_to_beijing(pd.DatetimeIndex(hours_to_datetime(hours)))
                heating = heating_on(labels.month.values, labels.day.values).astype(np.float64)
                hour_bjt = labels.hour.values.astype(np.int64)
                emission = box.emissions(hours, hour_bjt, heating, met["t2m"])
                _, mean = box.run(emission, met["blh"], met["wind_speed"], met["tp"])
                daytime, _ = daytime_shape(hours, self.stations.lon, self.stations.lat)
                true = diagnose(mean, met, box.factor, heating, hour_bjt, hours, daytime, p)
                noise = self._measurement_noise(d // 24)
                measured = measure(true, noise, p)
                in_obs = (hours >= first_obs) & (hours <= last_obs)
                out = publisher.publish_day(d // 24, hours, measured, in_obs)
                for i in np.flatnonzero(in_obs).tolist():
                    label = labels[i]
                    if sink_csv is not None:
                        sink_csv.write_hour(
                            label,
                            out["present"][i],
                            out["primary"][i],
                            {k: v[i] for k, v in out.items() if k not in ("present", "primary")},
                        )
                    if sink_nc is not None:
                        sink_nc.write_hour(label, {v: out[v][i] for v in VARIABLES})
                    self._accumulate(daily_sum, label, out["pm25"][i], non_ref, city_idx)
            self.progress(
                f"stations: {len(chunk)} day(s) to "
                f"{pd.Timestamp(hours_to_datetime([chunk[-1]])[0]):%Y-%m-%d}"
            )
        if sink_nc is not None:
            sink_nc.close()
            self.files["obs"] = [file_record(p, self.out) for p in sink_nc.written]
        if sink_csv is not None:
            self.files["obs"] = sink_csv.record()

    def _measurement_noise(self, day: int) -> FloatArray:
        net = self.network
        group, member = net.array("group"), net.array("member")
        out = np.empty((24, 2 * len(POLLUTANTS), group.size))
        for g in net.groups:
            sel = group == g
            z = day_draws(
                self.seed, Stream.MEASUREMENT, day, g, (24, 2 * len(POLLUTANTS), GROUP_SIZE)
            )
            out[:, :, sel] = z[:, :, member[sel]]
        return out

    def _accumulate(
        self,
        daily: dict[pd.Timestamp, tuple[FloatArray, FloatArray, int]],
        label: pd.Timestamp,
        pm25: FloatArray,
        non_ref: np.ndarray,
        city_idx: IntArray,
    ) -> None:
        """City daily PM2.5 by the national method, from the published hourly values."""
        day = label.normalize()
        total, count, hours = daily.get(day, (np.zeros(pm25.size), np.zeros(pm25.size), 0))
        ok = ~np.isnan(pm25)
        total = total + np.where(ok, pm25, 0.0)
        count = count + ok
        hours += 1
        daily[day] = (total, count, hours)
        if hours == 24:
            del daily[day]
            min_hours = self.config.observations.city_mean.min_valid_hours
            station_mean = np.where(count >= min_hours, total / np.maximum(count, 1), np.nan)
            self.days_bjt.append(day.strftime("%Y-%m-%d"))
            for k, city in enumerate(self.network.cities):
                sel = (city_idx == k) & non_ref & ~np.isnan(station_mean)
                self.city_daily[city].append(
                    float(np.mean(station_mean[sel])) if sel.any() else float("nan")
                )

    # ---- forecasts -----------------------------------------------------------------------

    def write_cycle(self, init_hour: int) -> Path:
        """One forecast cycle: the weather with the fronts as the forecast sees them (timing
        and strength errors growing with lead) plus smooth additive errors growing with lead."""
        fronts = self.model.fronts.perturbed(self.seed, init_hour)
        state = FrontState.build(fronts, self.grid, init_hour - 24 * 25, self.model.params)
        day_blocks = range(init_hour, init_hour + LEADS + 1, 24)
        fields = {v: a[: LEADS + 1] for v, a in self.grid_fields(day_blocks, state).items()}
        lead = np.arange(LEADS + 1)
        growth = (0.15 + 0.85 * (1.0 - np.exp(-lead / 96.0)))[:, None]
        shape = (LEADS + 1, self.lat.size, self.lon.size)
        errors = {}
        for k, name in enumerate(sorted(FORECAST_SIGMA)):
            noise = SpatialNoise(
                self.seed,
                (Stream.FORECAST_ERROR, k, init_hour),
                modes=12,
                spacing=12,
                min_km=400.0,
                max_km=2000.0,
            )
            basis = noise.basis(self.grid.x, self.grid.y)
            errors[name] = (FORECAST_SIGMA[name] * growth * noise.at(lead + 24, basis)).reshape(
                shape
            )
        out = dict(fields)
        for name in ("t2m", "t850", "u10", "v10", "sp"):
            out[name] = fields[name] + errors[name]
        out["blh"] = np.clip(fields["blh"] * np.exp(errors["blh"]), 30.0, 4500.0)
        out["tp"] = fields["tp"] * np.exp(errors["tp"])
        out["rh2m"] = np.clip(fields["rh2m"] + errors["rh2m"], 10.0, 100.0)
        out["d2m"] = dewpoint(out["t2m"] - 273.15, out["rh2m"]) + 273.15
        valid = hours_to_datetime(init_hour + lead)
        ds = grid_dataset(
            out,
            valid,
            self.lat,
            self.lon,
            self._grid_attrs("Synthetic Wu-Chang-Shi forecast cycle"),
        )
        ds = ds.assign_coords(
            init_time=(
                (),
                np.datetime64(hours_to_datetime([init_hour])[0], "ns"),
                {
                    "standard_name": "forecast_reference_time",
                    "long_name": "initialisation time (UTC)",
                },
            ),
            lead=(
                "time",
                lead.astype("timedelta64[h]").astype("timedelta64[ns]"),
                {"standard_name": "forecast_period", "long_name": "lead time"},
            ),
        )
        name = f"wcs_{pd.Timestamp(hours_to_datetime([init_hour])[0]):%Y%m%d%H}.nc"
        path = self.out / "nwp" / name
        write_netcdf_atomic(ds, path, grid_encoding(ds))
        return path


# --------------------------------------------------------------------------------------------
# episodes


def find_episodes(
    days: Sequence[str], values: Sequence[float], threshold: float = 150.0
) -> list[dict[str, Any]]:
    """Runs of consecutive days with daily PM2.5 > ``threshold`` [µg/m³]."""
    out: list[dict[str, Any]] = []
    run: list[int] = []
    for i, v in enumerate([*values, float("nan")]):
        if i < len(values) and np.isfinite(v) and v > threshold:
            run.append(i)
            continue
        if run:
            peak = max(run, key=lambda j: values[j])
            out.append(
                {
                    "start": days[run[0]],
                    "end": days[run[-1]],
                    "days": len(run),
                    "peak_date": days[peak],
                    "peak_pm25": round(float(values[peak]), 1),
                    "days_above_250": int(sum(values[j] > 250.0 for j in run)),
                }
            )
            run = []
    return out


def _summary(days: Sequence[str], values: Sequence[float]) -> dict[str, Any]:
    v = np.array(values, dtype=np.float64)
    months = np.array([int(d[5:7]) for d in days])
    winter = np.isin(months, (11, 12, 1, 2))
    finite = np.isfinite(v)
    return {
        "days": len(days),
        "mean_pm25": round(float(np.nanmean(v)), 1) if finite.any() else None,
        "max_daily_pm25": round(float(np.nanmax(v)), 1) if finite.any() else None,
        "heavy_days_gt150": int(np.sum(v[finite] > 150.0)),
        "heavy_days_gt150_nov_feb": int(np.sum((v > 150.0) & winter & finite)),
        "severe_days_gt250": int(np.sum(v[finite] > 250.0)),
        "clean_days_lt35": int(np.sum(v[finite] < 35.0)),
    }


# --------------------------------------------------------------------------------------------
# public entry point


def _prepare_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / "manifest.json").is_file():
            raise FileExistsError(
                f"{out} is not empty and holds no synthetic data set "
                "(manifest.json); choose an empty or new folder"
            )
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds a synthetic data set; pass "
                "overwrite=True (--overwrite) to replace it"
            )
        for sub in ("analysis", "nwp", "obs", "faults"):
            shutil.rmtree(out / sub, ignore_errors=True)
        for name in ("manifest.json", "config.yaml"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _cycle_days(
    period: Period, cycle_days: Sequence[str | pd.Timestamp] | None, peak_day: str | None
) -> tuple[list[pd.Timestamp], str]:
    if cycle_days is not None:
        days = sorted({pd.Timestamp(d).normalize() for d in cycle_days})
        return days, "given"
    chosen = {period.end - pd.Timedelta(days=k) for k in (3, 2, 1)}
    chosen = {d for d in chosen if d >= period.start}
    if peak_day is not None:
        pre = pd.Timestamp(peak_day) - pd.Timedelta(days=1)
        if pre >= period.start:
            chosen.add(pre)
    return sorted(chosen), "default: the last 3 days and the day before the strongest peak"


def generate(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_stations: int = 21,
    start: str | pd.Timestamp = "2021-10-01",
    days: int | None = None,
    years: int | None = None,
    grid_step: float = 0.5,
    obs_format: ObsFormat = "cnemc-hourly",
    cycle_days: Sequence[str | pd.Timestamp] | None = None,
    chunk_days: int = 31,
    config: str | Path | Config | None = None,
    faults: bool = True,
    overwrite: bool = False,
    weather_params: WeatherParams | None = None,
    pollution_params: PollutionParams | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a synthetic Wu-Chang-Shi data set into ``out_dir`` and return its manifest.

    See :mod:`forecast.synth` for the layout, conventions and physics. Same arguments → the
    same bytes in every file (file modification times aside).
    """
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}")
    if obs_format not in ("cnemc-hourly", "netcdf"):
        raise ValueError(f"obs_format must be 'cnemc-hourly' or 'netcdf', got {obs_format!r}")
    if chunk_days < 1:
        raise ValueError(f"chunk_days must be ≥ 1, got {chunk_days}")
    period = make_period(start, days, years)
    grid_axes(grid_step)
    out = Path(out_dir)
    base = load_base_config(config)
    network = build_network(base, n_stations)
    _prepare_dir(out, overwrite)
    clock = _time.perf_counter()
    weather = weather_params or WeatherParams()
    pollution = pollution_params or PollutionParams()
    gen = Generator(
        out,
        seed=seed,
        network=network,
        period=period,
        grid_step=grid_step,
        obs_format=obs_format,
        chunk_days=chunk_days,
        faults=faults,
        weather=weather,
        pollution=pollution,
        progress=progress,
    )
    config_path, _ = write_config(network, out, obs_format)
    analysis = gen.write_analysis()
    gen.run_stations()

    episodes = {c: find_episodes(gen.days_bjt, v) for c, v in gen.city_daily.items()}
    summary = {c: _summary(gen.days_bjt, v) for c, v in gen.city_daily.items()}
    strongest: dict[str, Any] | None = None
    for city in network.cities:
        for ep in episodes[city]:
            if strongest is None or ep["peak_pm25"] > strongest["peak_pm25"]:
                strongest = {"city": city, **ep}
    peak_day = strongest["peak_date"] if strongest else None
    if peak_day is None and gen.city_daily.get("urumqi"):
        values = np.array(gen.city_daily["urumqi"], dtype=np.float64)
        if np.isfinite(values).any():
            peak_day = gen.days_bjt[int(np.nanargmax(values))]
    cycles, cycle_rule = _cycle_days(period, cycle_days, peak_day)

    cycle_records = []
    late = cycles[-1] if faults and len(cycles) >= 2 else None
    missing = cycles[-2] if faults and len(cycles) >= 3 else None
    nwp_files = []
    for day in cycles:
        init_hour = int(hours_since_epoch(np.datetime64(day, "h")))
        nominal = init_hour + NOMINAL_DELAY_H
        rec: dict[str, Any] = {
            "init_utc": _utc_text(init_hour),
            "file": f"nwp/wcs_{day:%Y%m%d}00.nc",
            "nominal_available_utc": _utc_text(nominal),
        }
        if day == missing:
            rec |= {"status": "missing", "available_utc": None}
            cycle_records.append(rec)
            continue
        path = gen.write_cycle(init_hour)
        available = nominal + (LATE_DELAY_H if day == late else 0)
        stamp = int(hours_to_datetime([available]).astype("datetime64[s]").astype(np.int64)[0])
        os.utime(path, (stamp, stamp))
        rec |= {
            "status": "late" if day == late else "ok",
            "available_utc": _utc_text(available),
            "delay_hours": LATE_DELAY_H if day == late else 0,
        }
        cycle_records.append(rec)
        nwp_files.append(file_record(path, out))
        gen.progress(f"forecast {path.name}")

    plan = gen.fault_plan
    missing_rows = sorted(plan.missing)
    by_station: dict[str, int] = {}
    for _, j, _ in missing_rows:
        code = network.stations[j].code
        by_station[code] = by_station.get(code, 0) + 1
    fault_table = out / "faults" / "missing_hours.csv"
    lines = ["timepoint_beijing,stationcode,cause"] + [
        f"{_beijing_text(h)},{network.stations[j].code},{cause}" for h, j, cause in missing_rows
    ]
    write_bytes_atomic(fault_table, ("\n".join(lines) + "\n").encode())

    faults_record: dict[str, Any] = {
        "missing_hours": {
            "probability_per_station_hour": plan.p_missing,
            "empty_gas_cell_probability": plan.p_cell,
            "total": len(missing_rows),
            "random": sum(1 for m in missing_rows if m[2] == "random"),
            "by_station": dict(sorted(by_station.items())),
            "file": "faults/missing_hours.csv",
        },
        **plan.manifest(network, _beijing_text),
        "missing_cycle": None if missing is None else f"{missing:%Y-%m-%d}T00:00:00Z",
        "late_cycle": None
        if late is None
        else {
            "init_utc": f"{late:%Y-%m-%d}T00:00:00Z",
            "delay_hours": LATE_DELAY_H,
            "meaning": f"the file appears {LATE_DELAY_H} h after its nominal availability "
            f"(init + {NOMINAL_DELAY_H} h): its modification time is set to the late availability "
            "time and the manifest lists it; a consumer running at 16:00 Beijing "
            "time (08 UTC) that day must not use it and falls back to the previous "
            "cycle.",
        },
    }
    first_obs, last_obs = period.obs_utc
    fronts = gen.model.fronts
    in_period = (fronts.t_ref >= period.first_hour) & (fronts.t_ref < period.end_hour)
    manifest: dict[str, Any] = {
        "generator": "forecast.synth",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "parameters": {
            "n_stations": n_stations,
            "start": f"{period.start:%Y-%m-%d}",
            "days": period.days,
            "years": years,
            "grid_step": grid_step,
            "obs_format": obs_format,
            "cycle_days": [f"{d:%Y-%m-%d}" for d in cycles],
            "cycle_rule": cycle_rule,
            "faults": faults,
            "aqi_standard": base.aqi.standard,
            "weather": asdict(weather),
            "pollution": asdict(pollution),
        },
        "period": {
            "analysis_first_utc": _utc_text(period.first_hour),
            "analysis_last_utc": _utc_text(period.end_hour - 1),
            "obs_first_beijing": _beijing_text(first_obs),
            "obs_last_beijing": _beijing_text(last_obs),
            "spin_up_days": SPIN_UP_DAYS,
        },
        "conventions": {
            "grids": "UTC; analysis/met_YYYYMM.nc per UTC month, hourly; nwp/wcs_YYYYMMDDHH.nc "
            "per 00 UTC cycle, valid times 0..168 h",
            "observations": "Beijing time (UTC+8) file names and timepoints; the value labelled "
            "HH:00 is the mean of the hour ending then; obs file "
            "2021-12-01T08.csv ↔ grid time 2021-12-01T00 UTC",
            "city_daily": "mean over non-reference stations of station Beijing-day means with "
            "≥ min_valid_hours published hourly PM2.5 values (after faults)",
        },
        "stations": {
            "count": len(network.stations),
            "real": sum(s.real for s in network.stations),
            "synthetic": sum(not s.real for s in network.stations),
        },
        "files": {
            "config": file_record(config_path, out),
            "analysis": [file_record(p, out) for p in analysis],
            "nwp": nwp_files,
            "obs": gen.files.get("obs"),
            "faults": file_record(fault_table, out),
        },
        "cycles": cycle_records,
        "faults": faults_record,
        "episodes": {
            "definition": "runs of consecutive Beijing days with city daily PM2.5 > 150 µg/m³ "
            "(AQI > 200)",
            "strongest": strongest,
            "by_city": episodes,
        },
        "summary": summary,
        "city_daily_pm25": {
            "days": gen.days_bjt,
            **{
                c: [None if not math.isfinite(x) else round(x, 1) for x in v]
                for c, v in gen.city_daily.items()
            },
        },
        "fronts": [
            {"passage_urumqi_utc": _utc_text(round(t)), "strength": round(float(s), 3)}
            for t, s in zip(fronts.t_ref[in_period], fronts.strength[in_period], strict=True)
        ],
    }
    write_bytes_atomic(out / "manifest.json", json_bytes(manifest))
    gen.progress(f"done in {_time.perf_counter() - clock:.1f} s")
    return manifest
