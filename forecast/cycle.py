"""One operational forecast cycle: newest inputs → features → models → warnings → bulletin.

``run_cycle(config, issue_time)`` (command line: ``wcs-forecast run --issue-time T``) runs the
steps below, each timed and logged as one line, and returns a :class:`CycleResult` whose
``status`` is the exit status: 0 success, 1 degraded (a fallback, a filled gap, a city without
forecast or a failed model), 3 no usable input (no NWP cycle, no city with observations, no
model).

a. **observations** — the ``cnemc-hourly`` station files (``training.observations``, else
   ``data.sources.observations``) of the last :data:`OBS_DAYS` days before the issue time →
   city hourly means. A city whose newest valid hour is more than :data:`MAX_OBS_AGE_H` hours
   before the issue time gets "no forecast" (the others are still issued); a shorter gap is
   filled by carrying the last value (flagged in the input status).
b. **NWP** — among ``nwp/wcs_YYYYMMDDHH.nc`` the newest 00 UTC cycle available "as of" ``now``
   (default: the issue time); available = init + :data:`NWP_DELAY_H` h, or the file's
   modification time when later (a late cycle). A cycle that is not yet available, missing or
   fails :func:`forecast.met.grids.validate_grid` is skipped: the previous one is used (its
   leads shifted by a day) and the bulletin's input status says so. The hours before the
   cycle's initialisation come from the analysis grids (``training.weather`` of kind grid);
   valid hours beyond the cycle's last lead carry its last value (logged).
c. **features and models** — the merged (site, time) dataset, the training feature path for the
   one issue time (:func:`models.forecaster.build`), the CURRENT registered model of each city
   (a missing or refused model → that city ``failed`` with the reason).
d. **daily values and warnings** — daily means per Beijing day for the issue day … +7 (the issue
   day mixes observed and forecast hours; quantiles averaged hour by hour), AQI
   (``aqi.standard``), the configured rule set, the lifecycle against the previous archived
   bulletin, level probabilities and CAP certainty, the regional warning.
e. **bulletin** — marked ``synthetic`` (CAP ``Exercise``) when the inputs are synthetic, archived
   (``bulletins_dir/archive``; identical content is not a new revision) and written in every
   format into ``bulletins_dir/<id>/``. ``dry_run`` computes everything and writes nothing.

Times: the issue time is Beijing time (aware, or naive read as Beijing time); every internal
axis is naive UTC; conversions go through :mod:`forecast.timeutil`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.config import Config
from forecast.io import remove_orphaned_temporaries
from forecast.timeutil import as_beijing, beijing_to_utc, utc_to_beijing

log = logging.getLogger("forecast.cycle")

#: Days of station files read before the issue time: the recent-error correction recomputes
#: the model's day-ahead forecasts of up to 14 verified days, each with 3 days of history.
OBS_DAYS = 21
#: A city whose newest valid hour is older than this [h] gets no forecast.
MAX_OBS_AGE_H = 6
#: A 00 UTC cycle is nominally available this many hours after its initialisation.
NWP_DELAY_H = 5
#: Hours of analysis kept before the cycle's initialisation (meteorological history).
MET_HISTORY_H = 24 * OBS_DAYS

EXIT_OK, EXIT_DEGRADED, EXIT_NO_INPUT = 0, 1, 3
#: Bulletin quantile column → model output.
QUANTILE_COLUMNS = {"p10": "q10", "p50": "q50", "p90": "q90"}
_OBS_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2})\.csv$")
_NWP_NAME = re.compile(r"^wcs_(\d{10})\.nc$")
_HOUR = pd.Timedelta(hours=1)


class NoUsableInput(Exception):
    """No NWP cycle, no city with observations or no model: nothing can be forecast."""


@dataclass
class StepTime:
    name: str
    seconds: float
    note: str = ""


@dataclass
class CycleResult:
    """What one cycle did; ``status`` is the process exit status (0 / 1 / 3)."""

    status: int
    issue_time: datetime
    bulletin: Any = None  # forecast.bulletin.model.Bulletin (imported lazily)
    out_dir: Path | None = None
    archived: Path | None = None
    paths: list[Path] = field(default_factory=list)
    steps: list[StepTime] = field(default_factory=list)
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        lines = [f"issue time {self.issue_time.isoformat()}  status {self.status}"]
        if self.rows:
            head = ("city", "max daily AQI", "level", "action")
            widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
            for r in [head, *self.rows]:
                lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        lines.append("steps: " + ", ".join(f"{s.name} {s.seconds:.1f} s" for s in self.steps))
        lines += [f"note: {m}" for m in self.messages]
        if self.status == EXIT_NO_INPUT:
            lines.append("no bulletin issued: nothing was written")
            return "\n".join(lines)
        if self.archived is not None:
            lines.append(f"archived: {self.archived}")
        if self.out_dir is not None:
            lines.append(f"outputs: {self.out_dir}")
        elif self.dry_run:
            lines.append("dry run: nothing written")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# helpers


def parse_issue_time(value: datetime | str | pd.Timestamp) -> pd.Timestamp:
    """The issue time as an aware Beijing-time timestamp (naive values are Beijing time)."""
    return as_beijing(value)


def _naive_utc(t: pd.Timestamp) -> pd.Timestamp:
    return beijing_to_utc(pd.DatetimeIndex([t]))[0]


def _aware_beijing(naive_bj: pd.Timestamp | None) -> datetime | None:
    if naive_bj is None or pd.isna(naive_bj):
        return None
    return as_beijing(naive_bj).to_pydatetime()


def _aware_from_utc(naive_utc: pd.DatetimeIndex) -> list[datetime]:
    return [as_beijing(t).to_pydatetime() for t in utc_to_beijing(naive_utc)]


def _base_dir(config: Config) -> Path:
    return config.source.parent if config.source is not None else Path.cwd()


def observation_files(config: Config, start_bj: pd.Timestamp, end_bj: pd.Timestamp) -> list[Path]:
    """cnemc-hourly files named within (start, end] Beijing time."""
    candidates: list[Path] = []
    sources = [s for s in config.training.observations if s.format == "cnemc-hourly"]
    for s in sources:
        for p in s.paths:
            candidates += sorted(p.glob("*.csv")) if p.is_dir() else [p]
    if not sources:
        for src in config.data.sources.observations:
            if src.format == "cnemc-hourly":
                candidates += sorted(_base_dir(config).glob(src.pattern))
    out = []
    for p in candidates:
        m = _OBS_NAME.match(p.name)
        if m is None:
            continue
        t = pd.Timestamp(f"{m[1]} {m[2]}:00")
        if start_bj < t <= end_bj:
            out.append(p)
    return sorted(set(out))


def _nwp_files(config: Config) -> list[Path]:
    found: set[Path] = set()
    for src in config.data.sources.nwp:
        found.update(_base_dir(config).glob(src.pattern))
    if not found and config.data.nwp_dir.is_dir():
        found.update(config.data.nwp_dir.glob("wcs_*.nc"))
    return sorted(p for p in found if _NWP_NAME.match(p.name))


def _analysis_files(config: Config) -> list[Path]:
    out: list[Path] = []
    for w in config.training.weather:
        if w.kind == "grid" and w.observed:
            for p in w.paths:
                out += sorted(p.glob("*.nc")) if p.is_dir() else [p]
    return out


def _synthetic(config: Config, nwp: Path | None) -> bool:
    manifest = _base_dir(config) / "manifest.json"
    if manifest.is_file():
        try:
            if "synth" in str(json.loads(manifest.read_text()).get("generator", "")):
                return True
        except (OSError, ValueError):
            pass
    if nwp is not None:
        with xr.open_dataset(nwp) as ds:
            return str(ds.attrs.get("synthetic", "")).startswith("yes")
    return False


# --------------------------------------------------------------------------------------------
# steps


@dataclass
class _Obs:
    ds: xr.Dataset  # city hourly (site, time), time axis ending at the issue time
    usable: list[str]
    no_forecast: dict[str, str]
    filled: dict[str, int]


def _step_observations(config: Config, issue_bj: pd.Timestamp, issue_utc: pd.Timestamp) -> _Obs:
    from forecast.obs.cities import city_values
    from forecast.obs.dataset import import_observations

    naive_bj = issue_bj.tz_localize(None)
    files = observation_files(config, naive_bj - pd.Timedelta(days=OBS_DAYS), naive_bj)
    if not files:
        raise NoUsableInput(f"no cnemc-hourly station files in the {OBS_DAYS} days before issue")
    result = import_observations(files, "cnemc-hourly", config, now=issue_utc)
    ds = result.dataset
    if ds["kind"].values[0] == "station":
        ds = city_values(ds, config, "hourly")
    keep = [v for v in ds.data_vars if not str(v).endswith(("_qc", "_n_stations", "_valid_hours"))]
    ds = ds[keep]
    axis = pd.date_range(issue_utc - pd.Timedelta(days=OBS_DAYS) + _HOUR, issue_utc, freq="h")
    ds = ds.reindex(time=axis)
    ds = ds.reindex(site=[c.id for c in config.cities])
    pm = ds["pm25"].transpose("site", "time").values.copy()
    usable, no_fc, filled = [], {}, {}
    for i, city in enumerate(ds["site"].values):
        ok = np.flatnonzero(np.isfinite(pm[i]))
        if ok.size == 0:
            no_fc[str(city)] = f"no valid PM2.5 in the {OBS_DAYS} days before the issue time"
            continue
        last = int(ok[-1])
        age = len(axis) - 1 - last
        if age > MAX_OBS_AGE_H:
            since = utc_to_beijing(axis[[last]])[0]
            no_fc[str(city)] = (
                f"no valid PM2.5 for {age} h (since {since:%Y-%m-%d %H:%M} Beijing time); "
                f"the model needs data within {MAX_OBS_AGE_H} h of the issue time"
            )
            continue
        if age > 0:
            pm[i, last + 1 :] = pm[i, last]
            filled[str(city)] = age
        usable.append(str(city))
    ds["pm25"] = (("site", "time"), pm, ds["pm25"].attrs)
    ds.attrs["time_resolution"] = "1h"
    return _Obs(ds, usable, no_fc, filled)


@dataclass
class _Nwp:
    path: Path
    init: pd.Timestamp  # naive UTC
    grid: xr.Dataset
    fallback_reason: str | None


def _open_nwp(config: Config, path: Path, cities: Sequence[str]) -> xr.Dataset:
    from forecast.met.grids import open_grid, validate_grid
    from forecast.obs.dataset import site_coords

    grid = open_grid(
        [path], variables=config.met.variables or None, ensemble=config.met.ensemble
    ).load()
    coords = site_coords(config, "city", list(cities))
    validate_grid(
        grid,
        coords["lon"][1],
        coords["lat"][1],
        margin_deg=config.region.grid_margin_deg,
        max_missing_fraction=config.met.max_missing_fraction,
        path_label=str(path),
        site_codes=list(cities),
    )
    return grid


def _one_line(exc: BaseException) -> str:
    """An error message on one line (an InputError lists its problems on further lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return " ".join([lines[0], "; ".join(line.lstrip("- ") for line in lines[1:])]).strip()


def _step_nwp(config: Config, as_of_utc: pd.Timestamp, cities: Sequence[str]) -> _Nwp:
    files = {
        pd.Timestamp(datetime.strptime(_NWP_NAME.match(p.name)[1], "%Y%m%d%H")): p  # type: ignore[index]
        for p in _nwp_files(config)
    }
    newest = (as_of_utc - pd.Timedelta(hours=NWP_DELAY_H)).floor("D")
    problems: list[str] = []
    for k in range(0, 4):
        init = newest - pd.Timedelta(days=k)
        label = f"{init:%Y%m%d%H}"
        path = files.get(init)
        if path is None:
            problems.append(f"cycle {label} missing")
            continue
        nominal = init + pd.Timedelta(hours=NWP_DELAY_H)
        mtime = pd.Timestamp(path.stat().st_mtime, unit="s")
        available = max(nominal, mtime)
        if available > as_of_utc:
            problems.append(f"cycle {label} late (available {available:%Y-%m-%d %H:%M} UTC)")
            continue
        try:
            grid = _open_nwp(config, path, cities)
        except Exception as exc:
            problems.append(f"cycle {label} invalid: {_one_line(exc)}")
            continue
        reason = None
        if problems:
            reason = "; ".join(problems) + f"; using cycle {label} (leads shifted by {24 * k} h)"
        return _Nwp(path, init, grid, reason)
    raise NoUsableInput("no usable NWP cycle: " + "; ".join(problems))


def _met_dataset(
    config: Config, nwp: _Nwp, cities: Sequence[str], t0: pd.Timestamp, t1: pd.Timestamp
) -> tuple[xr.Dataset, str | None]:
    """(site, time) meteorology: analysis before the cycle's init, the cycle from it."""
    from forecast.met.derived import add_derived
    from forecast.met.grids import open_grid
    from forecast.met.interp import grid_to_sites
    from forecast.obs.dataset import site_coords

    parts = []
    analysis = _analysis_files(config)
    if analysis:
        a = open_grid(
            analysis, variables=config.met.variables or None, ensemble=config.met.ensemble
        )
        a = a.sel(time=slice(t0, nwp.init - _HOUR)).load()
        if a.sizes["time"]:
            parts.append(a)
    n = nwp.grid.sel(time=slice(nwp.init, t1))
    n = n.drop_vars([c for c in n.coords if c not in ("time", "lat", "lon")])
    common = [v for v in n.data_vars if all(v in p.data_vars for p in parts)]
    grid = xr.concat(
        [
            p[common].drop_vars([c for c in p.coords if c not in ("time", "lat", "lon")])
            for p in parts
        ]
        + [n[common]],
        dim="time",
        combine_attrs="override",
    )
    coords = site_coords(config, "city", list(cities))
    at = grid_to_sites(
        grid, (list(cities), coords["lon"][1], coords["lat"][1]), method=config.met.interpolation
    )
    at = add_derived(at.transpose("site", "time", ...))
    at = at.drop_vars([c for c in ("code",) if c in at.coords])
    at.attrs.update(time_zone="UTC", time_resolution="1h", source_files=str(nwp.path))
    last = pd.Timestamp(at.indexes["time"][-1])
    note = None
    if last < t1:
        note = (
            f"cycle {nwp.init:%Y%m%d%H} ends {last:%Y-%m-%d %H:%M} UTC: the last "
            f"{int((t1 - last) / _HOUR)} h carry its last values"
        )
    return at, note


def _daily_quantiles(
    days: Sequence[date],
    obs_bj: pd.Series,
    fc_bj: pd.DataFrame,
) -> list[tuple[date, float, float, float]]:
    out = []
    for d in days:
        o = obs_bj[obs_bj.index.normalize() == pd.Timestamp(d)].dropna()
        f = fc_bj[fc_bj.index.normalize() == pd.Timestamp(d)].dropna()
        n = len(o) + len(f)
        if n == 0:
            continue
        vals = [(float(o.sum()) + float(f[c].sum())) / n for c in ("p10", "p50", "p90")]
        lo, mid, hi = sorted(vals)
        out.append((d, lo, mid, hi))
    return out


@contextmanager
def _timed(result: CycleResult, name: str, say: Callable[[str], None]) -> Iterator[StepTime]:
    step = StepTime(name, 0.0)
    t0 = time.perf_counter()
    try:
        yield step
    finally:
        step.seconds = time.perf_counter() - t0
        result.steps.append(step)
        say(f"[{name}] {step.seconds:6.2f} s  {step.note}".rstrip())


# --------------------------------------------------------------------------------------------
# the cycle


def run_cycle(
    config: Config,
    issue_time: datetime | str | pd.Timestamp,
    *,
    dry_run: bool = False,
    alerts_enabled: bool = True,
    now: datetime | str | pd.Timestamp | None = None,
    progress: Callable[[str], None] | None = None,
) -> CycleResult:
    """Run one forecast cycle (see the module docstring); never raises for bad inputs."""
    say = progress or log.info
    issue_bj = parse_issue_time(issue_time)
    issue_utc = _naive_utc(issue_bj)
    as_of = issue_utc if now is None else _naive_utc(parse_issue_time(now))
    result = CycleResult(EXIT_OK, issue_bj.to_pydatetime(), dry_run=dry_run)
    if not dry_run:
        orphans = remove_orphaned_temporaries(config.data.bulletins_dir)
        if orphans:
            say(f"removed {len(orphans)} temporary file(s) left by an interrupted run")
    try:
        _run(config, issue_bj, issue_utc, as_of, result, say, dry_run, alerts_enabled)
    except NoUsableInput as exc:
        result.status = EXIT_NO_INPUT
        result.messages.append(str(exc))
        say(f"no usable input: {exc}")
    return result


def _run(
    config: Config,
    issue_bj: pd.Timestamp,
    issue_utc: pd.Timestamp,
    as_of: pd.Timestamp,
    result: CycleResult,
    say: Callable[[str], None],
    dry_run: bool,
    alerts_enabled: bool,
) -> None:
    from features.catalogue import catalogue_version
    from forecast.bulletin.archive import archive, parse_name, previous_bulletin
    from forecast.bulletin.cap import link_references
    from forecast.bulletin.model import Bulletin, InputStatus, RegionalWarning
    from forecast.bulletin.outputs import FORMATS, write_outputs
    from forecast.bulletin.texts import auto_texts
    from forecast.merge import merge
    from models.backtest import offset_at_issue
    from models.correction import Correction
    from models.forecaster import CityModel, build, setup_for
    from models.registry import ModelRegistry, RegistryError

    degraded = False
    # (a) observations ------------------------------------------------------------------
    with _timed(result, "observations", say) as st:
        obs = _step_observations(config, issue_bj, issue_utc)
        st.note = f"{len(obs.usable)} usable cities; no forecast: {sorted(obs.no_forecast) or '-'}"
    obs_reasons = [f"{c}: {r}" for c, r in obs.no_forecast.items()]
    obs_reasons += [
        f"{c}: last {h} h filled with the last valid value" for c, h in obs.filled.items()
    ]
    if not obs.usable:
        raise NoUsableInput("no city has recent observations: " + "; ".join(obs_reasons))
    cities = [c.id for c in config.cities]

    # (b) NWP ---------------------------------------------------------------------------
    last_lead = 24 * (config.model.horizon_days + 1) - config.model.issue_hour_beijing - 1
    t_end = issue_utc + pd.Timedelta(hours=last_lead)
    with _timed(result, "nwp", say) as st:
        nwp = _step_nwp(config, as_of, cities)
        met, coverage = _met_dataset(
            config, nwp, cities, issue_utc - pd.Timedelta(hours=MET_HISTORY_H), t_end
        )
        st.note = f"cycle {nwp.init:%Y%m%d%H} ({nwp.path.name})" + (
            f"; FALLBACK: {nwp.fallback_reason}" if nwp.fallback_reason else ""
        )
        if coverage:
            st.note += f"; {coverage}"

    # (c) merge, features, predictions --------------------------------------------------
    preds: dict[str, pd.DataFrame] = {}
    failed: dict[str, str] = {}
    versions: dict[str, str] = {}
    corrections: dict[str, tuple[float, Correction]] = {}
    with _timed(result, "features", say) as st:
        axis = pd.date_range(obs.ds.indexes["time"][0], t_end, freq="h")
        merged = merge(obs.ds.reindex(time=axis), met)
        met_vars = [v for v in met.data_vars if v in merged.data_vars]
        merged[met_vars] = merged[met_vars].ffill("time")
        setup = setup_for(merged, config)
        issue_idx = pd.DatetimeIndex([issue_utc])
        X, index, names, _ = build(merged, setup, issue_idx, setup.leads_h)
        st.note = f"{X.shape[0]} rows × {X.shape[1]} features"
    with _timed(result, "predict", say) as st:
        registry = ModelRegistry(config.data.models_dir)
        for city in obs.usable:
            try:
                loaded = registry.load(
                    city,
                    expected_catalogue_version=catalogue_version(),
                    expected_feature_names=names,
                )
            except (RegistryError, OSError, ValueError) as exc:
                failed[city] = f"model refused or missing: {exc}"
                continue
            card = loaded.card
            model = CityModel.from_registry(city, loaded.boosters, card)
            rows = np.flatnonzero(index["site"].to_numpy() == city)
            p = model.predict(X[rows])
            # The model's own day-ahead errors of the last verified days (tuned at training).
            correction = Correction.from_params(card.params)
            offset = offset_at_issue(model, correction, merged, setup, issue_utc, city)
            if offset:
                corrections[city] = (offset, correction)
            frame = pd.DataFrame(
                {q: np.clip(p[k] + offset, 0.0, None) for q, k in QUANTILE_COLUMNS.items()},
                index=pd.DatetimeIndex(index["valid_time"].to_numpy()[rows]),
            )
            if not np.isfinite(frame.to_numpy()).all():
                failed[city] = "the model gave no forecast (missing persistence base)"
                continue
            frame.attrs["heavy_prob_threshold"] = model.heavy_prob_threshold
            preds[city] = frame
            versions[city] = str(card.version)
        st.note = f"{len(preds)} cities forecast" + (
            f"; failed: {sorted(failed)}" if failed else ""
        )
        if corrections:
            st.note += "; recent-error correction " + ", ".join(
                f"{c} {v:+.1f} µg/m³" for c, (v, _) in corrections.items()
            )
    if not preds:
        raise NoUsableInput(
            "no city could be forecast: " + "; ".join(f"{c}: {r}" for c, r in failed.items())
        )

    # (d) daily means, AQI, warnings ----------------------------------------------------

    archive_root = config.data.bulletins_dir / "archive"
    with _timed(result, "warnings", say) as st:
        previous = previous_bulletin(
            archive_root, issue_bj.to_pydatetime(), region=config.region.id
        )
        city_fcs, steps = _cities(config, issue_bj, issue_utc, obs, preds, failed, previous)
        regional_state = regional_warning(config, issue_bj, steps, previous)
        st.note = "previous bulletin: " + (previous.id if previous is not None else "none")

    # (e) bulletin ----------------------------------------------------------------------
    with _timed(result, "bulletin", say) as st:
        status = [
            InputStatus(
                "observations", "degraded" if obs_reasons else "ok", "; ".join(obs_reasons) or None
            ),
            InputStatus("nwp", "degraded" if nwp.fallback_reason else "ok", nwp.fallback_reason),
            InputStatus(
                "models",
                "degraded" if (failed or obs.no_forecast) else "ok",
                "; ".join(
                    [f"{c}: failed ({r})" for c, r in failed.items()]
                    + [f"{c}: no forecast (inputs missing)" for c in obs.no_forecast]
                )
                or None,
            ),
        ]
        if corrections:
            # Not a degradation: forecasters should still see that the models were shifted.
            status.append(
                InputStatus(
                    "correction",
                    "ok",
                    "; ".join(
                        f"{c}: {v:+.1f} µg/m³ (the model's mean day-ahead error over the last "
                        f"{k.window_days} verified days × {k.damping:g})"
                        for c, (v, k) in corrections.items()
                    ),
                )
            )
        degraded = any(s.status != "ok" for s in status)
        reg = RegionalWarning(
            config.region.name_zh, config.region.name_en, tuple(cities), regional_state
        )
        headline, description, advice = auto_texts(city_fcs, reg)
        bulletin = Bulletin(
            region=config.region.id,
            issue_time=issue_bj.to_pydatetime(),
            cycle=nwp.init.tz_localize("UTC").to_pydatetime(),
            cities=tuple(city_fcs),
            regional=reg,
            headline=headline,
            description=description,
            advice=advice,
            model_versions=versions,
            input_status=tuple(status),
            aqi_standard=config.aqi.standard,
            synthetic=_synthetic(config, nwp.path),
        )
        bulletin = link_references(bulletin, previous)
        if not dry_run:
            archived = archive(bulletin, archive_root)
            entry = parse_name(archived)
            bulletin = bulletin.replace(revision=entry.revision if entry else 1)
            out_dir = config.data.bulletins_dir / bulletin.id
            formats = list(FORMATS) if alerts_enabled else [f for f in FORMATS if f != "cap"]
            result.paths = write_outputs(bulletin, out_dir, formats)
            result.archived, result.out_dir = archived, out_dir
        st.note = f"{bulletin.id} r{bulletin.revision}" + (" (dry run)" if dry_run else "")
    result.bulletin = bulletin
    for c in bulletin.cities:
        top = max((d.aqi for d in c.daily), default=None)
        w = c.warning
        result.rows.append(
            (
                c.city_id,
                "-" if top is None else str(top),
                w.level if w else c.status,
                w.action if w else (c.reason or "")[:40],
            )
        )
    w = bulletin.regional.warning
    result.rows.append(("region", "-", w.level, w.action))
    if nwp.fallback_reason:
        result.messages.append(f"NWP fallback: {nwp.fallback_reason}")
    result.messages += obs_reasons + [f"{c}: {r}" for c, r in failed.items()]
    result.status = EXIT_DEGRADED if degraded else EXIT_OK


def _lifecycle_state(w: Any) -> Any:
    """A bulletin warning (forecast.bulletin.model) → the lifecycle's WarningState."""
    from forecast.warnings.lifecycle import WarningState as LState

    if w is None:
        return None

    def naive(t: datetime | None) -> pd.Timestamp | None:
        return None if t is None else as_beijing(t).tz_localize(None)

    return LState(w.level, None, None, naive(w.valid_from), naive(w.valid_to), w.rule or "")


def _probabilities(
    config: Config, daily: list[tuple[date, float, float, float]], rules: Any
) -> Any:
    from forecast.warnings.probability import level_probabilities

    return level_probabilities(
        {0.1: [d[1] for d in daily], 0.5: [d[2] for d in daily], 0.9: [d[3] for d in daily]},
        pd.Timestamp(daily[0][0]),
        rules=rules,
        standard=config.aqi.standard,
    )


def _warning_state(step: Any, probs: Any, reason: str) -> Any:
    from forecast.bulletin.model import WarningState
    from forecast.warnings.probability import cap_certainty

    level = step.level
    p = float(probs.at_least[level]) if level != "none" else float(probs.exactly["none"])
    active = level != "none"
    return WarningState(
        level,
        step.action,
        reason=reason,
        rule=step.rule or None,
        valid_from=_aware_beijing(step.state.episode_start) if active else None,
        valid_to=_aware_beijing(step.state.episode_end) if active else None,
        probabilities={k: float(v) for k, v in probs.exactly.items()},
        certainty=cap_certainty(min(max(p, 0.0), 1.0)),
        previous_level=step.previous_level,
    )


def city_warning(
    config: Config,
    rules: Any,
    daily_quantiles: list[tuple[date, float, float, float]],
    issued_at: pd.Timestamp,
    previous_warning: Any,
    city_id: str,
    *,
    heavy_prob_threshold: float = 0.5,
) -> tuple[list[Any], Any, Any]:
    """Daily forecasts (AQI, category), the lifecycle step and the bulletin warning of a city.

    ``daily_quantiles``: (Beijing date, p10, p50, p90 of daily PM2.5 [µg/m³]) from the issue
    day on. The published daily AQI is the p50's. The warning is decided on the forecast
    distribution, not the median: the model's tuned heavy-day rule "P(> 150) ≥ p*" equals "the
    (1 − p*) quantile > 150", so the rule set is evaluated on the AQI of each day's (1 − p*)
    quantile (p* = ``heavy_prob_threshold``; 0.5 gives the median), then advanced from
    ``previous_warning`` (the previous bulletin's, or None).
    """
    from forecast.aqi import aqi
    from forecast.bulletin.model import daily_forecast
    from forecast.warnings.evaluate import evaluate_daily
    from forecast.warnings.lifecycle import advance
    from forecast.warnings.probability import ppf_from_quantiles

    daily = [
        daily_forecast(d, lo, mid, hi, standard=config.aqi.standard)
        for d, lo, mid, hi in daily_quantiles
    ]
    level = min(max(1.0 - heavy_prob_threshold, 0.0), 1.0)
    decision_pm25 = [
        float(ppf_from_quantiles(level, (0.1, 0.5, 0.9), (lo, mid, hi)))
        for _, lo, mid, hi in daily_quantiles
    ]
    decision = evaluate_daily(
        [float(v) for v in aqi(np.asarray(decision_pm25), standard=config.aqi.standard)],
        pd.Timestamp(daily_quantiles[0][0]),
        rules=rules,
        issued_at=issued_at,
        min_lead_hours=float(config.warnings.min_lead_hours),
    )
    step = advance(
        _lifecycle_state(previous_warning),
        decision,
        issued_at=issued_at,
        lift_below_aqi=float(config.warnings.lift_below_aqi),
        lift_after_hours=float(config.warnings.lift_after_hours),
        area=city_id,
    )
    probs = _probabilities(config, daily_quantiles, rules)
    reason = decision.reason + f" [forecast p{round(level * 100)} of daily PM2.5]"
    reason += f" ({step.note})" if step.note else ""
    return daily, step, _warning_state(step, probs, reason)


def _cities(
    config: Config,
    issue_bj: pd.Timestamp,
    issue_utc: pd.Timestamp,
    obs: _Obs,
    preds: dict[str, pd.DataFrame],
    failed: dict[str, str],
    previous: Any,
) -> tuple[list[Any], dict[str, Any]]:
    from forecast.bulletin.model import (
        CityForecast,
        CityStatus,
        HourlyForecast,
        ObservedSeries,
    )
    from forecast.warnings.rules import rule_set_from_config

    rules = rule_set_from_config(config)
    naive_issue = issue_bj.tz_localize(None)
    first = naive_issue.date()
    days = [first + timedelta(days=k) for k in range(config.model.horizon_days + 1)]
    prev_w = {} if previous is None else {c.city_id: c.warning for c in previous.cities}
    obs_times = obs.ds.indexes["time"][-72:]
    out: list[Any] = []
    steps: dict[str, Any] = {}
    for cc in config.cities:
        cid = cc.id
        series = obs.ds["pm25"].sel(site=cid).to_series()
        observed = ObservedSeries(
            tuple(_aware_from_utc(pd.DatetimeIndex(obs_times))),
            tuple(None if not np.isfinite(v) else float(v) for v in series.reindex(obs_times)),
        )
        if cid not in preds:
            status: CityStatus
            status, reason = (
                ("no_forecast", obs.no_forecast[cid])
                if cid in obs.no_forecast
                else ("failed", failed.get(cid, "no forecast"))
            )
            out.append(
                CityForecast(
                    cid, cc.name_zh, cc.name_en, status=status, reason=reason, observed=observed
                )
            )
            continue
        fc = preds[cid]
        fc_bj = fc.set_axis(utc_to_beijing(fc.index))
        obs_bj = series.set_axis(utc_to_beijing(series.index))
        obs_bj = obs_bj[obs_bj.index <= naive_issue]
        dq = _daily_quantiles(days, obs_bj, fc_bj)
        daily, step, warning = city_warning(
            config,
            rules,
            dq,
            naive_issue,
            prev_w.get(cid),
            cid,
            heavy_prob_threshold=float(fc.attrs.get("heavy_prob_threshold", 0.5)),
        )
        steps[cid] = step
        hourly = HourlyForecast(
            tuple(_aware_from_utc(fc.index)),
            tuple(fc["p10"].to_numpy(dtype=float)),
            tuple(fc["p50"].to_numpy(dtype=float)),
            tuple(fc["p90"].to_numpy(dtype=float)),
        )
        out.append(
            CityForecast(
                cid,
                cc.name_zh,
                cc.name_en,
                hourly=hourly,
                daily=tuple(daily),
                warning=warning,
                observed=observed,
            )
        )
    return out, steps


def regional_warning(
    config: Config, issue_bj: pd.Timestamp, steps: dict[str, Any], previous: Any
) -> Any:
    """The Wu-Chang-Shi warning state from the cities' lifecycle steps and the previous
    bulletin's regional warning (forecast/warnings/lifecycle.py: advance_regional)."""
    from forecast.bulletin.model import WarningState
    from forecast.warnings.lifecycle import ADJACENCY, advance_regional
    from forecast.warnings.probability import cap_certainty

    members = {c: s for c, s in steps.items() if c in ADJACENCY}
    prev = None if previous is None else _lifecycle_state(previous.regional.warning)
    naive_issue = issue_bj.tz_localize(None)
    step = advance_regional(prev, members, issued_at=naive_issue, area=config.region.id)
    # Regional probabilities: P(level ≥ L) of the region ≈ the second-highest member's
    # (the consolidation needs two cities at a level): taken from the city warnings' values.
    active = step.level != "none"
    reason = step.rule + (f"; {step.note}" if step.note else "")
    return WarningState(
        step.level,
        step.action,
        reason=reason or "no regional warning condition met",
        rule=f"{config.warnings.rule_set}/regional: {step.rule}" if step.rule else None,
        valid_from=_aware_beijing(step.state.episode_start) if active else None,
        valid_to=_aware_beijing(step.state.episode_end) if active else None,
        certainty=cap_certainty(1.0 if active else 0.5) if active else "Unknown",
        previous_level=step.previous_level,
    )


# --------------------------------------------------------------------------------------------
# command line


def cmd_run(args: Any) -> int:
    """``run --issue-time T [--dry-run]``: one cycle with the configuration of ``--config``."""
    from forecast.cli import config_from_args

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = config_from_args(args)  # --config, else $WCS_CONFIG, else ./config.yaml
    issue = getattr(args, "issue_time", None)
    if issue is None:
        now_bj = utc_to_beijing(pd.DatetimeIndex([pd.Timestamp.now(tz="UTC")]))[0]
        issue = now_bj.floor("h").replace(hour=config.model.issue_hour_beijing)
    result = run_cycle(
        config,
        issue,
        dry_run=bool(getattr(args, "dry_run", False)),
        now=getattr(args, "now", None),
        progress=print,
    )
    print(result.summary())
    return result.status


def add_cycle_parsers(subparsers: Any, parents: Sequence[Any] = ()) -> None:
    """Add ``run`` (this module) and ``demo`` (:mod:`forecast.demo`) to a CLI."""
    from forecast.demo import DEMO_DAYS, cmd_demo

    p = subparsers.add_parser("run", parents=list(parents), help="run one forecast cycle")
    p.add_argument("--issue-time", help="issue time, Beijing time (ISO 8601; default today 10:00)")
    p.add_argument("--now", help="'as of' time for NWP availability (default: the issue time)")
    p.add_argument("--dry-run", action="store_true", help="compute everything, write nothing")
    if not any(a.dest == "config" for par in parents for a in getattr(par, "_actions", [])):
        p.add_argument("--config", default="config.yaml")
    p.set_defaults(func=cmd_run)
    d = subparsers.add_parser(
        "demo",
        parents=list(parents),
        help="the main job on embedded data: a synthetic winter → training → one forecast "
        "cycle on a heavy-episode day → bulletins",
    )
    d.add_argument("--out", default="demo-output", help="output directory")
    d.add_argument("--days", type=int, default=DEMO_DAYS, help="synthetic days")
    d.set_defaults(func=cmd_demo)


# --------------------------------------------------------------------------------------------
# scheduler tasks (forecast.scheduler.TASKS): (config, *, issue_time, alerts_enabled) -> status


def scheduled_forecast(config: Config, *, issue_time: datetime, alerts_enabled: bool) -> int:
    """The scheduled forecast cycle at ``issue_time`` (aware, Beijing time)."""
    return run_cycle(config, issue_time, alerts_enabled=alerts_enabled).status


def scheduled_ingest(config: Config, *, issue_time: datetime, alerts_enabled: bool) -> int:
    """Import the last 48 h of hourly station files into ``observations_dir/latest.nc``.

    The file is replaced atomically, with the QC report beside it; exit status 3 when no file
    of the window can be found, so the scheduler's log says that the feed is late.
    """
    from forecast.obs.dataset import import_observations, write_netcdf_atomic

    end_bj = parse_issue_time(issue_time).tz_localize(None)
    files = observation_files(config, end_bj - pd.Timedelta(hours=48), end_bj)
    if not files:
        log.warning("ingest: no station files in the 48 h before %s", end_bj)
        return EXIT_NO_INPUT
    result = import_observations(
        files, "cnemc-hourly", config, now=_naive_utc(parse_issue_time(issue_time))
    )
    out = config.data.observations_dir / "latest.nc"
    write_netcdf_atomic(result.dataset, out)
    result.report.to_csv(config.data.observations_dir / "latest_qc.csv")
    log.info("ingest: %d files → %s", len(files), out)
    return EXIT_OK
